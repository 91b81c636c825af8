"""The Slack app manifest asks for what the channel uses and points at its route."""
import yaml

from bot.settings import PROJECT_ROOT


def test_manifest_points_at_the_channel_and_has_the_scopes_it_needs():
    manifest = yaml.safe_load((PROJECT_ROOT / "slack" / "manifest.yml").read_text())
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith("/webhooks/slack/events")
    assert settings["interactivity"]["request_url"] == settings["event_subscriptions"]["request_url"]
    assert {"message.im", "message.channels", "app_mention"} <= set(settings["event_subscriptions"]["bot_events"])
    assert {"chat:write", "im:history", "users:read.email", "app_mentions:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
