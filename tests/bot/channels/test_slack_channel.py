"""The Slack channel's own handling of a message the assistant could not take."""
import asyncio
import logging

import pytest
from rasa.core.lock_store import LockError

from bot.channels.rest import NOT_HANDLED
from bot.channels.slack import SupportSlackInput
from bot.settings import Settings
from bot.slack.places import SlackPlace
from tests.slack_fake import FakeSlack


@pytest.fixture()
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def test_a_message_the_assistant_could_not_take_is_answered_with_send_it_again_and_logged(slack, tmp_path, caplog):
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-test",
                                  "SLACK_SIGNING_SECRET": "secret", "SLACK_API_URL": slack.url})
    channel = SupportSlackInput(settings)

    async def refused(message):  # what Rasa raises when the turn could not get its conversation
        raise LockError("Could not acquire lock for conversation_id 'slack:T1:D0001'.")

    with caplog.at_level(logging.ERROR, logger="bot.channels.slack"):
        asyncio.run(channel._deliver({"on_new_message": refused}, SlackPlace("T1", "D0001"), "where is my order",
                                     "U0001", None))
    posts = [call.args for call in slack.calls if call.method == "chat.postMessage"]
    assert [post.get("channel") for post in posts] == ["D0001"]
    assert NOT_HANDLED in str(posts[0].get("text"))  # Slack has its ack and will not resend: the customer must know
    assert "LockError" in caplog.text and "slack:T1:D0001" in caplog.text  # the operator finds the cause
