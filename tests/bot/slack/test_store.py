"""What the Slack side remembers: events handled once, handoff posts changed by exactly one process."""
from datetime import datetime, timedelta

import pytest

from bot.slack.store import SlackStore
from tests.databases import store_on

NOW = datetime(2026, 11, 24, 10)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    yield from store_on(request.param, tmp_path, SlackStore.from_url)


def test_an_event_is_handled_once_by_event_id_or_by_message(store):
    assert store.first_sighting(["event:Ev1", "message:C1:1.1"], NOW)
    assert not store.first_sighting(["event:Ev1", "message:C1:1.1"], NOW)  # Slack's retry
    assert not store.first_sighting(["event:Ev2", "message:C1:1.1"], NOW)  # the same message as app_mention
    assert store.first_sighting(["event:Ev3", "message:C1:1.2"], NOW)


def test_the_memory_survives_a_new_store_on_the_same_database(store, tmp_path):
    store.first_sighting(["event:Ev9"], NOW)
    again = SlackStore(store._engine)
    assert not again.first_sighting(["event:Ev9"], NOW)


def test_old_keys_are_forgotten(store):
    store.first_sighting(["event:old"], NOW - timedelta(days=3))
    store.first_sighting(["event:new"], NOW)
    assert store.forget_events_before(NOW - timedelta(days=2)) == 1
    assert store.first_sighting(["event:old"], NOW) and not store.first_sighting(["event:new"], NOW)


def test_one_process_posts_a_handoff_and_state_changes_are_compare_and_set(store):
    assert store.reserve_post(5, "CAGENTS", "waiting", None, NOW)
    assert not store.reserve_post(5, "CAGENTS", "waiting", None, NOW)
    store.set_post_ts(5, "1700000001.000100")
    post = store.post_at("CAGENTS", "1700000001.000100")
    assert post.handoff_id == 5 and post.state == "waiting"
    assert store.move_state(post, "assigned", 3)
    assert not store.move_state(post, "assigned", 3)  # a second process with the old view loses
    moved = store.post(5)
    assert (moved.state, moved.agent_id) == ("assigned", 3)
    assert store.move_messages(moved, 12) and not store.move_messages(moved, 12)
    assert store.post(5).last_message_id == 12


def test_messages_written_in_slack_are_remembered(store):
    store.mark_written_in_slack(41)
    assert store.written_in_slack([40, 41, 42]) == {41}
