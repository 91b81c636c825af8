"""Handoff actions: queue or offline form, the context packet stored with the handoff, CSAT afterwards."""
from typing import Any, Dict, List

import pytest

from actions.fallback import ActionDefaultFallback
from actions.handoff import (
    ActionAskCsat,
    ActionCreateTicket,
    ActionHandoff,
    ActionRecordCsat,
    ValidateOfflineForm,
)
from bot.handoff.models import CUSTOMER_REQUEST, FRUSTRATED, NOT_CONFIDENT
from tests.actions.test_orders import run, slots, texts
from tests.factories import make_tracker

SIGNED_IN = {"customer_id": "C1001", "customer_verified": True, "customer_first_name": "Jane"}


def conversation(*messages: str) -> List[Dict[str, Any]]:
    events: List[Dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
    for n, text in enumerate(messages):
        events.append({"event": "user", "text": text, "timestamp": 1_790_000_000 + n, "input_channel": "socketio",
                       "parse_data": {"intent": {"name": "order_status", "confidence": 0.9}, "entities": [],
                                      "frustration": {"score": 0.2, "signals": []}}})
        events.append({"event": "bot", "text": "Order 104512 shipped.", "timestamp": 1_790_000_000 + n})
    return events


@pytest.fixture
def agent_online(services):
    agent = services.handoff.create_agent("maya@brightwave.example", "Maya", "agent", "a long password")
    services.handoff.heartbeat(agent)
    return agent


def kinds(events) -> List[str]:
    return [e["event"] for e in events]


def test_request_for_a_person_joins_the_queue_and_pauses(services, agent_online):
    tracker = make_tracker("can I talk to a human", "request_human", slots=SIGNED_IN,
                           events=conversation("where is my order 104512", "can I talk to a human"))
    events, dispatcher = run(ActionHandoff(), tracker)
    assert "You're next in line, and the wait is about 3 minutes" in texts(dispatcher)
    assert dispatcher.messages[0]["custom"] == {"handoff": {"state": "waiting", "position": 1, "wait_minutes": 3}}
    assert kinds(events)[-1] == "pause"
    [handoff] = services.handoff.queue()
    assert (handoff.reason, handoff.customer_name, handoff.customer_verified) == (CUSTOMER_REQUEST, "Jane Doe", True)
    assert handoff.channel == "socketio" and handoff.packet["customer"]["email"] == "jane.doe@example.com"
    assert [t["text"] for t in handoff.packet["transcript"] if t["who"] == "customer"] == [
        "where is my order 104512", "can I talk to a human"]


def test_the_reason_set_by_the_policy_is_kept_and_a_form_in_progress_stops(services, agent_online):
    tracker = make_tracker("USELESS", "complain", active_loop="order_form",
                           slots={"handoff_reason": FRUSTRATED, "handoff_detail": "customer frustrated (caps)"})
    events, _ = run(ActionHandoff(), tracker)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert slots(events)["handoff_reason"] is None
    [handoff] = services.handoff.queue()
    assert (handoff.reason, handoff.reason_detail) == (FRUSTRATED, "customer frustrated (caps)")


def test_anonymous_visitor_details_stay_unverified(services, agent_online):
    run(ActionHandoff(), make_tracker("agent please", "request_human", slots={"email": "someone@example.com"}))
    [handoff] = services.handoff.queue()
    assert handoff.customer_verified is False and handoff.customer_name is None


def test_nobody_online_offers_the_offline_form_with_the_known_email(services):
    events, dispatcher = run(ActionHandoff(), make_tracker("human please", "request_human", slots=SIGNED_IN))
    assert "Everyone on our team is busy" in texts(dispatcher) and "leave your email" in texts(dispatcher)
    assert slots(events)["offline_email"] == "jane.doe@example.com"
    assert dispatcher.messages[0]["custom"]["handoff"]["email_known"] is True  # the widget asks only for the description
    assert events[-1] == {"event": "followup", "name": "offline_form", "timestamp": None}
    assert services.handoff.queue() == []


def test_outside_hours_says_when_the_team_is_back(services):
    services.handoff.clock.now = services.handoff.clock.now.replace(day=11)  # a Sunday
    _, dispatcher = run(ActionHandoff(), make_tracker("human please", "request_human"))
    assert "back tomorrow at 8:00 (EDT)" in texts(dispatcher)
    assert dispatcher.messages[0]["custom"]["handoff"] == {"state": "offline", "why": "closed", "email_known": False}


@pytest.mark.parametrize("typed, kept", [("jane.doe@example.com", "jane.doe@example.com"),
                                         ("it's Jane.Doe@Example.com thanks", "Jane.Doe@Example.com"),
                                         ("jane at example", None), ("<script>@x.y", None)])
def test_offline_email_is_checked(typed, kept):
    result = ValidateOfflineForm().validate_offline_email(typed, *_validator_args())
    assert result == {"offline_email": kept}


def test_offline_description_needs_words():
    assert ValidateOfflineForm().validate_offline_description("  ", *_validator_args()) == {"offline_description": None}
    assert ValidateOfflineForm().validate_offline_description("speaker\nbroken", *_validator_args()) == {
        "offline_description": "speaker broken"}


def test_the_slots_cleared_as_the_offline_form_starts_get_no_complaint():
    # action_handoff sets both slots to None before the form; Rasa validates those as if they were typed
    dispatcher, tracker, domain = _validator_args()
    assert ValidateOfflineForm().validate_offline_email(None, dispatcher, tracker, domain) == {"offline_email": None}
    assert ValidateOfflineForm().validate_offline_description(None, dispatcher, tracker, domain) == {"offline_description": None}
    assert dispatcher.messages == []


def _validator_args():
    from rasa_sdk.executor import CollectingDispatcher

    return CollectingDispatcher(), make_tracker(), {}


def test_the_ticket_carries_the_conversation(services):
    tracker = make_tracker("my speaker won't charge", "inform", slots={
        "offline_email": "sam@example.com", "offline_description": "my speaker won't charge", "offline_reason": NOT_CONFIDENT},
        events=conversation("hello", "my speaker won't charge"))
    events, dispatcher = run(ActionCreateTicket(), tracker)
    [ticket] = services.handoff.tickets("open")
    assert (ticket.email, ticket.description, ticket.reason) == ("sam@example.com", "my speaker won't charge", NOT_CONFIDENT)
    assert f"reference #{ticket.id}" in texts(dispatcher) and "within 24 hours" in texts(dispatcher)
    assert ticket.packet["transcript"][0]["text"] == "hello"


def test_csat_after_a_resolved_handoff(services, agent_online):
    run(ActionHandoff(), make_tracker("human", "request_human", sender_id="c-9"))
    [handoff] = services.handoff.queue()
    services.handoff.claim(handoff.id, agent_online)
    services.handoff.resolve(handoff.id, agent_online)
    events, dispatcher = run(ActionAskCsat(), make_tracker("/handoff_resolved", "handoff_resolved", sender_id="c-9"))
    assert "Maya has marked this conversation as resolved" in texts(dispatcher)
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]][-1] == '/csat_rating{"rating": "5"}'
    assert slots(events) == {"csat_pending": True}
    events, dispatcher = run(ActionRecordCsat(), make_tracker("2 stars, still not sorted", "csat_rating", sender_id="c-9",
                                                              slots={"csat_pending": True}))
    assert "sorry it wasn't better" in texts(dispatcher) and slots(events) == {"csat_pending": False}
    [rating] = services.handoff.store.csat()
    assert (rating.rating, rating.handoff_id) == (2, handoff.id)


def test_csat_needs_a_pending_prompt_and_a_number(services):
    run(ActionRecordCsat(), make_tracker("5", "csat_rating"))
    _, dispatcher = run(ActionRecordCsat(), make_tracker("great", "csat_rating", slots={"csat_pending": True}))
    assert "from 1 (poor) to 5 (excellent)" in texts(dispatcher)
    assert services.handoff.store.csat() == []


def test_an_abandoned_handoff_gets_no_rating_prompt(services, agent_online):
    run(ActionHandoff(), make_tracker("human", "request_human", sender_id="c-10"))
    services.handoff.abandon(services.handoff.queue()[0].id, agent_online)
    _, dispatcher = run(ActionAskCsat(), make_tracker("", "handoff_resolved", sender_id="c-10"))
    assert "has ended" in texts(dispatcher) and "buttons" not in dispatcher.messages[0] or not dispatcher.messages[0]["buttons"]


def test_failed_clarification_hands_off(services):
    events, _ = run(ActionDefaultFallback(), make_tracker("asdf", "nlu_fallback", active_loop="action_two_stage_fallback"))
    assert slots(events)["handoff_reason"] == NOT_CONFIDENT
    assert events[-1]["name"] == "action_handoff"


def test_other_fallbacks_apologise_and_forget_the_message(services):
    events, dispatcher = run(ActionDefaultFallback(), make_tracker("asdf", "nlu_fallback"))
    assert dispatcher.messages[0]["response"] == "utter_default"
    assert kinds(events) == ["rewind"]


def test_a_signed_in_customer_is_handed_off_while_the_order_system_is_down(services, agent_online, monkeypatch, caplog):
    from bot.store.directory import StoreUnavailable

    def down(customer_id):
        raise StoreUnavailable("the store database cannot be used: connection refused")

    monkeypatch.setattr(services.orders, "customer", down)
    tracker = make_tracker("can I talk to a human", "request_human", slots=SIGNED_IN,
                           events=conversation("where is my order 104512", "can I talk to a human"))
    events, dispatcher = run(ActionHandoff(), tracker)
    assert kinds(events)[-1] == "pause"  # the person still comes, with who the customer is by their signed id
    [handoff] = services.handoff.queue()
    assert handoff.customer_verified is True and handoff.packet["customer"]["id"] == "C1001"
    assert "customer details for the handoff unavailable" in caplog.text
