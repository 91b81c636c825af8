"""The proactive actions: the triggered turn says the order event only to the order's verified customer and keeps the
order; "stop these messages" is remembered; a session start notes the contact and tells what happened meanwhile."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from actions.proactive import ActionProactiveMessage, ActionProactiveOptOut
from actions.services import use_services
from actions.session import ActionSessionStart
from bot.proactive.models import SHIPPED, OrderEvent
from bot.proactive.service import DETAIL_FREE, ProactiveService
from bot.proactive.store import SqlProactiveStore
from tests.actions.test_orders import run, slots, texts
from tests.actions.test_session import signed
from tests.bot.proactive.conftest import HOURS, RecordingProactiveGateway
from tests.conftest import NOW
from tests.factories import make_tracker
from tests.fakes import Clock

JANE = {"customer_id": "C1001", "customer_verified": True, "customer_first_name": "Jane"}


@pytest.fixture
def proactive(services, tmp_path) -> ProactiveService:
    service = ProactiveService(SqlProactiveStore.from_url(f"sqlite:///{tmp_path / 'app.db'}"), services.directory,
                               services.handoff.store, HOURS, RecordingProactiveGateway(), Clock(NOW.replace(hour=10)))
    use_services(replace(services, proactive=service))
    return service


def shipped_message(proactive: ProactiveService):
    proactive.note_contact("C1001", "web-jane")
    return proactive.announce(OrderEvent("104512", SHIPPED, proactive.clock(), carrier="UPS", tracking_number="1Z999AA10123456784",
                                         estimated_delivery=date(2026, 10, 9)))


def triggered(delivery_id: str, **tracker_slots):
    return make_tracker("EXTERNAL: proactive_message", "proactive_message", slots=tracker_slots, sender_id="web-jane",
                        entities=[{"entity": "delivery_id", "value": delivery_id}])


def test_the_order_owner_hears_the_event_and_the_order_is_kept_for_the_next_question(proactive):
    message = shipped_message(proactive)
    events, dispatcher = run(ActionProactiveMessage(), triggered(message.delivery_id, **JANE))
    assert texts(dispatcher).startswith("Your order 104512 (Pulse 700 Wireless Headphones) shipped with UPS")
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/order_status", "/proactive_opt_out"]
    assert slots(events) == {"order_number": "104512", "verified_order": "104512"}


@pytest.mark.parametrize("session", [{}, {"customer_id": "C1001", "customer_verified": False},
                                     {"customer_id": "C1002", "customer_verified": True}])
def test_a_session_that_is_not_the_order_owners_gets_no_order_detail(proactive, session):
    message = shipped_message(proactive)
    events, dispatcher = run(ActionProactiveMessage(), triggered(message.delivery_id, **session))
    assert texts(dispatcher) == DETAIL_FREE and events == []
    assert "104512" not in str(dispatcher.messages) and "1Z999" not in str(dispatcher.messages)


def test_a_typed_or_unknown_trigger_says_nothing(proactive):
    for tracker in (make_tracker("/proactive_message", "proactive_message", slots=JANE), triggered("proactive-99-20260101", **JANE)):
        events, dispatcher = run(ActionProactiveMessage(), tracker)
        assert events == [] and dispatcher.messages == []


def test_stop_these_messages_is_remembered_and_then_nothing_is_said(proactive):
    message = shipped_message(proactive)
    _, dispatcher = run(ActionProactiveOptOut(), make_tracker("stop these messages", "proactive_opt_out", slots=JANE, sender_id="web-jane"))
    assert "won't send you order updates" in texts(dispatcher)
    assert proactive.opted_out("slack:T1:DJANE", "C1001")  # the customer's, on any channel
    _, dispatcher = run(ActionProactiveMessage(), triggered(message.delivery_id, **JANE))
    assert dispatcher.messages == []


def test_a_verified_session_start_notes_the_contact_and_tells_what_happened_meanwhile(proactive, services):
    ticket = services.handoff.store.add_ticket(conversation_id="web-old", channel="socketio", email="jane.doe@example.com",
                                               customer_name="Jane", description="lost parcel", reason="closed", packet={},
                                               now=NOW - timedelta(days=2))
    services.handoff.store.close_ticket(ticket.id, NOW - timedelta(days=1))
    events, dispatcher = run(ActionSessionStart(), make_tracker(slots={"session_started_metadata": signed()}, sender_id="web-jane"))
    assert proactive.store.contact("C1001").conversation_id == "web-jane"
    assert "answered the request you left on Sun, Oct 4" in texts(dispatcher)
    assert events[-1]["name"] == "action_listen"
    _, again = run(ActionSessionStart(), make_tracker(slots={"session_started_metadata": signed()}, sender_id="web-jane"))
    assert again.messages == []  # told once


def test_an_anonymous_session_start_notes_no_contact(proactive):
    run(ActionSessionStart(), make_tracker(sender_id="web-anon"))
    assert proactive.store.contact("C1001") is None


def session(*slot_values, said=None) -> list:
    """A session's opening events as action_session_start leaves them, then what the customer said in it."""
    events = [{"event": "session_started"}] + [{"event": "slot", "name": n, "value": v} for n, v in slot_values]
    for text, intent in said or []:
        events.append({"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}})
    return events


TRIGGER = [("EXTERNAL: proactive_message", "proactive_message")]


def test_a_session_the_trigger_started_after_a_verified_one_keeps_the_customers_identity(proactive):
    # a day later Jane's session had expired: Rasa started a new one for the trigger, without her signed identity
    message = shipped_message(proactive)
    events = (session(("customer_id", "C1001"), ("customer_verified", True), said=[("hello", "greet")])
              + session(("customer_verified", False), said=TRIGGER))
    tracker = triggered(message.delivery_id)
    tracker.events = events
    result, dispatcher = run(ActionProactiveMessage(), tracker)
    assert texts(dispatcher).startswith("Your order 104512")
    assert slots(result) == {"customer_id": "C1001", "customer_verified": True, "customer_first_name": "Jane",
                             "order_number": "104512", "verified_order": "104512"}


@pytest.mark.parametrize("events", [
    # someone wrote in this session without a signed identity: only what it proved itself counts
    session(("customer_id", "C1001"), ("customer_verified", True)) + session(("customer_verified", False), said=[("hi", "greet")] + TRIGGER),
    # the earlier session was not verified either
    session(("customer_verified", False), said=[("hi", "greet")]) + session(("customer_verified", False), said=TRIGGER),
    # another customer's conversation
    session(("customer_id", "C1002"), ("customer_verified", True)) + session(("customer_verified", False), said=TRIGGER),
    # one session only
    session(("customer_verified", False), said=TRIGGER),
])
def test_no_identity_is_carried_into_a_session_someone_wrote_in_or_from_an_unverified_one(proactive, events):
    message = shipped_message(proactive)
    tracker = triggered(message.delivery_id)
    tracker.events = events
    result, dispatcher = run(ActionProactiveMessage(), tracker)
    assert texts(dispatcher) == DETAIL_FREE and result == []
