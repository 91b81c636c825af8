"""ProactiveService: order events reach a verified customer's conversation once, with quiet hours, the rate limit,
busy conversations, opt-outs, superseded events, the delivery nudge, and the follow-ups of a customer who comes back."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.errors import NotFound
from bot.handoff.models import CUSTOMER_REQUEST, RESOLVED, CsatRating
from bot.proactive.delivery import ConversationState
from bot.proactive.models import DELAYED, DELIVERED, DELIVERY_CHECK, DROPPED, REFUND_ISSUED, SENT, SHIPPED, WAITING, OrderEvent
from bot.proactive.service import DETAIL_FREE
from tests.bot.proactive.conftest import OPEN, make_setup


def shipped(number: str = "104512", source_key=None) -> OrderEvent:
    return OrderEvent(number, SHIPPED, OPEN, carrier="UPS", tracking_number="1Z999AA10123456784",
                      estimated_delivery=date(2026, 10, 9), source_key=source_key)


def test_an_order_event_reaches_the_verified_customer_at_once_and_once(setup):
    setup.service.note_contact("C1001", "web-jane")
    message = setup.service.announce(shipped(source_key="store:evt-1"))
    assert message.state == SENT and message.conversation_id == "web-jane" and message.sent_at == OPEN
    assert setup.gateway.triggered == [("web-jane", message.delivery_id)]
    # the store sends its event again after a timeout: the same message, nothing triggered again
    again = setup.service.announce(shipped(source_key="store:evt-1"))
    assert again.id == message.id and len(setup.gateway.triggered) == 1
    assert setup.service.send(message.id).state == SENT and len(setup.gateway.triggered) == 1


def test_what_the_order_owner_is_told_and_what_anyone_else_is_told(setup):
    setup.service.note_contact("C1001", "web-jane")
    message = setup.service.announce(shipped())
    said = setup.service.compose(message, "C1001")
    assert said.text.startswith("Your order 104512 (Pulse 700 Wireless Headphones) shipped with UPS, expected Fri, Oct 9.")
    assert "1Z999AA10123456784" in said.text and "https://www.ups.com/track?tracknum=1Z999AA10123456784" in said.text
    assert said.order_number == "104512"
    assert {b["payload"] for b in said.buttons} == {"/order_status", "/proactive_opt_out"}
    for stranger in (None, "C1002"):  # an unverified session, or another verified customer
        note = setup.service.compose(message, stranger)
        assert note.text == DETAIL_FREE and note.order_number is None
        assert "104512" not in note.text and "1Z999" not in note.text and "Pulse" not in note.text


def test_the_wording_of_each_event(setup):
    setup.service.note_contact("C1001", "web-jane")
    delayed = setup.service.announce(OrderEvent("104512", DELAYED, OPEN, carrier="UPS", estimated_delivery=date(2026, 10, 12)))
    assert "is running late, sorry: UPS now expects to deliver it on Mon, Oct 12." in setup.service.compose(delayed, "C1001").text
    refund = setup.service.announce(OrderEvent("103877", REFUND_ISSUED, OPEN, amount_cents=17999))
    assert setup.service.compose(refund, "C1001").text.startswith("We've issued $179.99 back to your Visa ending 4242 for order 103877.")
    delivered = setup.service.announce(OrderEvent("104512", DELIVERED, OPEN))
    assert "was delivered on Tue, Oct 6" in setup.service.compose(delivered, "C1001").text


def test_a_customer_without_a_verified_conversation_is_not_reached(setup):
    message = setup.service.announce(shipped("105001"))  # Sam never chatted with a verified identity
    assert message.state == DROPPED and "no conversation with a verified identity" in message.detail
    assert setup.gateway.triggered == []


def test_an_unknown_order_is_refused(setup):
    with pytest.raises(NotFound):
        setup.service.announce(shipped("999999"))


def test_outside_the_teams_hours_the_message_waits_for_them(tmp_path):
    friday_night = datetime(2026, 10, 9, 22, 0)
    setup = make_setup(tmp_path, now=friday_night)
    setup.service.note_contact("C1001", "web-jane")
    message = setup.service.announce(shipped())
    assert message.state == WAITING and message.due_at == datetime(2026, 10, 12, 9, 0)  # Monday's opening
    setup.clock.advance(hours=12)  # Saturday morning: still closed
    assert setup.service.send_due() == 0 and setup.gateway.triggered == []
    setup.clock.now = datetime(2026, 10, 12, 9, 0, 5)
    assert setup.service.send_due() == 1
    assert setup.gateway.triggered == [("web-jane", message.delivery_id)]


def test_the_rate_limit_holds_the_next_message_until_a_day_after_the_oldest(tmp_path):
    setup = make_setup(tmp_path, max_per_day=2)
    setup.service.note_contact("C1001", "web-jane")
    first = setup.service.announce(shipped())
    setup.clock.advance(hours=1)
    setup.service.announce(OrderEvent("103877", REFUND_ISSUED, setup.clock(), amount_cents=1499))
    setup.clock.advance(hours=1)
    third = setup.service.announce(OrderEvent("102250", REFUND_ISSUED, setup.clock(), amount_cents=2999))
    assert third.state == WAITING and "rate limit" in third.detail
    assert third.due_at == first.sent_at + timedelta(days=1)  # Wednesday 10:00, inside the hours
    setup.clock.now = third.due_at
    assert setup.service.send_due() == 1 and len(setup.gateway.triggered) == 3


@pytest.mark.parametrize("state,why", [(ConversationState(True, None, "C1001", True), "a person has the conversation"),
                                       (ConversationState(False, "order_form", "C1001", True), "in order_form")])
def test_a_busy_conversation_is_tried_again_later(setup, state, why):
    setup.service.note_contact("C1001", "web-jane")
    setup.gateway.states["web-jane"] = state
    message = setup.service.announce(shipped())
    assert message.state == WAITING and why in message.detail and message.due_at == OPEN + timedelta(minutes=5)
    assert setup.gateway.triggered == []
    del setup.gateway.states["web-jane"]
    setup.clock.advance(minutes=5)
    assert setup.service.send_due() == 1


def test_an_unreachable_conversation_server_means_trying_again_in_a_minute(setup):
    setup.service.note_contact("C1001", "web-jane")
    setup.gateway.fail = True
    message = setup.service.announce(shipped())
    assert message.state == WAITING and "not delivered yet" in message.detail
    setup.gateway.fail = False
    setup.clock.advance(minutes=1)
    assert setup.service.send_due() == 1 and setup.service.store.message(message.id).attempts == 2


def test_two_workers_send_a_due_message_once(setup):
    setup.service.note_contact("C1001", "web-jane")
    setup.gateway.fail = True
    message = setup.service.announce(shipped())
    setup.gateway.fail = False
    setup.clock.advance(minutes=2)
    assert setup.service.store.claim(message.id, setup.clock())  # another worker took it and is sending it
    assert setup.service.send_due() == 0 and setup.gateway.triggered == []


def test_stop_these_messages_is_remembered_for_the_customer(setup):
    setup.service.note_contact("C1001", "web-jane")
    setup.service.opt_out("web-jane", "C1001")
    setup.service.note_contact("C1001", "slack:T1:DJANE")  # later on another channel: still the same customer
    message = setup.service.announce(shipped())
    assert message.state == DROPPED and "asked for no proactive messages" in message.detail
    assert setup.gateway.triggered == [] and setup.service.opted_out("slack:T1:DJANE", "C1001")
    setup.service.opt_out("web-jane", "C1001")  # said again: nothing changes


def test_an_unverified_conversations_opt_out_is_remembered_for_that_conversation(setup):
    setup.service.opt_out("web-anon", None)
    assert setup.service.opted_out("web-anon", None) and not setup.service.opted_out("web-other", None)


def test_a_delivery_supersedes_the_waiting_shipped_message_and_schedules_the_nudge(setup):
    setup.service.note_contact("C1001", "web-jane")
    setup.gateway.states["web-jane"] = ConversationState(True, None, "C1001", True)  # with a person: the shipped one waits
    waiting = setup.service.announce(shipped())
    del setup.gateway.states["web-jane"]
    setup.clock.advance(minutes=1)
    delivered = setup.service.announce(OrderEvent("104512", DELIVERED, setup.clock()))
    assert delivered.state == SENT
    assert setup.service.store.message(waiting.id).state == DROPPED
    nudge = [m for m in setup.service.store.messages_for_order("104512") if m.kind == DELIVERY_CHECK][0]
    assert nudge.state == WAITING and nudge.due_at == setup.clock() + timedelta(hours=24)
    said = setup.service.compose(nudge, "C1001")
    assert said.text == "Did your delivered order 104512 (Pulse 700 Wireless Headphones) arrive OK?"
    assert [b["payload"] for b in said.buttons] == ["/thanks", "/damaged_or_faulty_item", "/order_status", "/proactive_opt_out"]
    setup.clock.advance(hours=24)
    assert setup.service.send_due() == 1 and setup.gateway.triggered[-1] == ("web-jane", nudge.delivery_id)


def test_only_the_messages_own_delivery_id_finds_it(setup):
    setup.service.note_contact("C1001", "web-jane")
    message = setup.service.announce(shipped())
    assert setup.service.message_for(message.delivery_id) == setup.service.store.message(message.id)
    for other in ("", "proactive", f"proactive-{message.id}", f"proactive-{message.id}-20200101000000000000", "hand-back-1-x",
                  f"proactive-{message.id + 1}-{message.delivery_id.rsplit('-', 1)[1]}"):
        assert setup.service.message_for(other) is None, other


# follow-ups ------------------------------------------------------------------------------------

def ticket(setup, conversation: str, email: str = "jane.doe@example.com"):
    made = setup.handoffs.add_ticket(conversation_id=conversation, channel="socketio", email=email, customer_name=None,
                                     description="my parcel is lost", reason="closed", packet={}, now=OPEN - timedelta(days=1))
    setup.handoffs.close_ticket(made.id, OPEN - timedelta(hours=2))
    return made


def test_a_customer_back_in_the_conversation_of_their_answered_request_is_told_once(setup):
    ticket(setup, "web-anon", email="someone@example.com")
    said = setup.service.follow_ups("web-anon", None, None)
    assert len(said) == 1 and "answered the request you left on Mon, Oct 5" in said[0] and "someone@" not in said[0]
    assert setup.service.follow_ups("web-anon", None, None) == []  # once


def test_another_conversations_request_is_told_only_to_the_verified_customer(setup):
    ticket(setup, "web-old")
    assert setup.service.follow_ups("web-new", None, None) == []  # anonymous: nothing about other conversations
    assert len(setup.service.follow_ups("web-new", "C1001", "Jane.Doe@example.com")) == 1


def test_an_open_or_old_request_is_not_brought_up(setup):
    setup.handoffs.add_ticket(conversation_id="web-anon", channel="socketio", email="a@example.com", customer_name=None,
                              description="x", reason="closed", packet={}, now=OPEN)
    old = setup.handoffs.add_ticket(conversation_id="web-anon", channel="socketio", email="a@example.com", customer_name=None,
                                    description="x", reason="closed", packet={}, now=OPEN - timedelta(days=60))
    setup.handoffs.close_ticket(old.id, OPEN - timedelta(days=45))
    assert setup.service.follow_ups("web-anon", None, None) == []


def resolved_handoff(setup, conversation: str, rated: bool = False):
    handoff = setup.handoffs.add_handoff(conversation_id=conversation, channel="socketio", reason=CUSTOMER_REQUEST, reason_detail="",
                                         summary="", packet={}, customer_name="Jane Doe", customer_email="jane.doe@example.com",
                                         customer_verified=True, frustration=0.0, now=OPEN - timedelta(hours=3))
    setup.handoffs.finish(handoff.id, RESOLVED, None, OPEN - timedelta(hours=2))
    if rated:
        setup.handoffs.add_csat(CsatRating(conversation, 5, OPEN - timedelta(hours=2), handoff_id=handoff.id))
    return handoff


def test_a_handoff_resolved_while_the_customer_was_away_is_told_when_they_come_back(setup):
    resolved_handoff(setup, "web-jane")
    said = setup.service.follow_ups("web-jane", "C1001", "jane.doe@example.com")
    assert len(said) == 1 and said[0].startswith("While you were away, Our team finished your conversation of Tue, Oct 6.")
    assert setup.service.follow_ups("web-jane", "C1001", "jane.doe@example.com") == []


def test_a_handoff_the_customer_rated_was_not_missed(setup):
    resolved_handoff(setup, "web-jane", rated=True)
    assert setup.service.follow_ups("web-jane", "C1001", "jane.doe@example.com") == []


def test_a_customer_who_opted_out_gets_no_follow_ups(setup):
    ticket(setup, "web-jane")
    setup.service.opt_out("web-other", "C1001")
    assert setup.service.follow_ups("web-jane", "C1001", "jane.doe@example.com") == []
