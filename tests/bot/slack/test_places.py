"""Slack conversation ids: one per DM, one per channel thread, and back again."""
from bot.slack.places import SlackPlace, place_for_message, place_of


def test_a_direct_message_is_one_conversation_whatever_the_message():
    first = place_for_message("T1", "D123", "1700000001.000100", None, "im")
    later = place_for_message("T1", "D123", "1700000009.000100", None, "im")
    assert first == later == SlackPlace("T1", "D123") and first.is_direct
    assert first.conversation_id == "slack:T1:D123"


def test_each_channel_thread_is_its_own_conversation():
    started = place_for_message("T1", "C9", "1700000001.000100", None, "channel")
    reply = place_for_message("T1", "C9", "1700000005.000100", "1700000001.000100", "channel")
    other = place_for_message("T1", "C9", "1700000007.000100", None, "channel")
    assert started == reply == SlackPlace("T1", "C9", "1700000001.000100")
    assert other != started and not other.is_direct


def test_ids_round_trip_and_anything_else_is_refused():
    for place in (SlackPlace("T1", "D123"), SlackPlace("T0ABC", "C0XYZ", "1700000001.000100")):
        assert place_of(place.conversation_id) == place
    for odd in ("e2e-123", "slack:", "slack:T1", "slack:t1:d1", "slack:T1:C1:notats", "slack:T1:C1:1.2:extra",
                "slack:T1:C1:1700000001.000100;rm"):
        assert place_of(odd) is None, odd
