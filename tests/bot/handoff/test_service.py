"""The handoff service on every store (SQLite, PostgreSQL when reachable): queue, claim, reply, resolve, tickets."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest

from bot.errors import NotAllowed, NotFound
from bot.handoff.models import ABANDONED, ASSIGNED, CUSTOMER_REQUEST, FRUSTRATED, LEAD, RESOLVED, WAITING, QueuePlace, Unavailable
from bot.handoff.rules import load_rules
from bot.handoff.service import AlreadyClaimed, DeliveryFailed, HandoffService, InvalidInput
from bot.handoff.store import SqlHandoffStore
from tests.databases import store_on
from tests.fakes import Clock, RecordingGateway

# Tuesday 2026-10-06 14:00 UTC = 10:00 in New York: the team is working
OPEN = datetime(2026, 10, 6, 14, 0)
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    yield from store_on(request.param, tmp_path, SqlHandoffStore.from_url)


@pytest.fixture
def clock():
    return Clock(OPEN)


@pytest.fixture
def gateway():
    return RecordingGateway()


@pytest.fixture
def service(store, clock, gateway):
    return HandoffService(store, load_rules(), gateway, clock)


@pytest.fixture
def maya(service):
    agent = service.create_agent("maya@brightwave.example", "Maya", "agent", PASSWORD)
    service.heartbeat(agent)
    return agent


def open_one(service, conversation="conv-1", reason=CUSTOMER_REQUEST):
    return service.open_handoff(conversation_id=conversation, channel="socketio", reason=reason,
                                reason_detail="asked for a person", summary="Wants a refund for order 104512",
                                packet={"transcript": [{"who": "customer", "text": "a person please"}]},
                                customer_name="Jane Doe", customer_email="jane.doe@example.com", customer_verified=True)


def test_handoff_waits_in_the_queue_with_place_and_estimate(service, maya):
    first = open_one(service, "conv-1")
    second = open_one(service, "conv-2", FRUSTRATED)
    assert isinstance(first, QueuePlace) and first.created and first.position == 1
    assert second.position == 2 and second.wait_minutes >= first.wait_minutes >= 1
    assert [h.conversation_id for h in service.queue()] == ["conv-1", "conv-2"]
    assert first.handoff.state == WAITING and first.handoff.packet["transcript"][0]["text"] == "a person please"


def test_asking_twice_keeps_one_handoff(service, maya):
    open_one(service)
    again = open_one(service)
    assert not again.created and again.position == 1
    assert len(service.queue()) == 1


def test_nobody_online_or_closed_is_unavailable(service, clock):
    assert open_one(service) == Unavailable("no_agents", None)
    clock.now = datetime(2026, 10, 11, 14, 0)  # a Sunday
    result = open_one(service)
    assert isinstance(result, Unavailable) and result.why == "closed"
    assert result.next_open == datetime(2026, 10, 12, 12, 0)  # Monday 8:00 New York (EDT)
    assert service.queue() == []


def test_agent_goes_offline_after_the_presence_window(service, maya, clock):
    assert service.agents_online() == [service.store.agent(maya.id)]
    clock.advance(minutes=3)
    assert service.agents_online() == []


def test_claim_reply_resolve_hand_back(service, maya, gateway, clock):
    handoff = open_one(service).handoff
    service.record_customer_message("conv-1", "hello? anyone there")
    clock.advance(minutes=2)
    claimed = service.claim(handoff.id, maya)
    assert claimed.state == ASSIGNED and claimed.agent_name == "Maya"
    message = service.reply(handoff.id, maya, "Hi Jane, I'm Maya. Let me look at order 104512.")
    assert message.delivered and gateway.sent == [("conv-1", "Hi Jane, I'm Maya. Let me look at order 104512.", "Maya")]
    service.note(handoff.id, maya, "refund already issued on the 3rd")
    assert [m.author for m in service.messages(handoff.id)] == ["customer", "agent", "note"]
    resolved = service.resolve(handoff.id, maya)
    assert resolved.state == RESOLVED and resolved.resolved_at == clock.now
    assert gateway.handed_back == ["conv-1"]
    assert [entry["kind"] for entry in service.history(handoff.id)] == ["created", "claimed", "resolved", "handed_back"]
    # sent again (its answer was lost): the same handoff, not handed back twice
    assert service.resolve(handoff.id, maya) == resolved and gateway.handed_back == ["conv-1"]
    # the next handoff's estimate learns from the 2 minutes this one waited
    assert service.wait_estimate(3) == 6


def test_a_failed_hand_back_is_retried_until_the_assistant_has_the_conversation(service, maya, gateway):
    """Found by the reliability battery (kill -9 of Rasa mid-handoff): a resolve while Rasa was restarting left
    the conversation paused in Rasa for good, so the customer was never answered again."""
    handoff = open_one(service).handoff
    service.claim(handoff.id, maya)
    gateway.fail = True
    assert service.resolve(handoff.id, maya).state == RESOLVED  # the agent is done either way
    assert service.retry_hand_backs() == 0 and gateway.handed_back == []
    gateway.fail = False
    assert service.retry_hand_backs() == 1 and gateway.handed_back == ["conv-1"]
    assert service.retry_hand_backs() == 0 and gateway.handed_back == ["conv-1"]  # once
    kinds = [entry["kind"] for entry in service.history(handoff.id)]
    assert kinds == ["created", "claimed", "resolved", "hand_back_failed", "hand_back_failed", "handed_back"]


def test_a_pending_hand_back_never_takes_a_conversation_from_its_next_handoff(service, maya, gateway):
    first = open_one(service).handoff
    service.claim(first.id, maya)
    gateway.fail = True
    service.resolve(first.id, maya)
    gateway.fail = False
    second = open_one(service).handoff  # the customer asked for a person again: Rasa paused it again
    assert second.id != first.id
    assert service.retry_hand_backs() == 0 and gateway.handed_back == []


def test_a_redelivered_customer_message_reaches_the_desk_once(service, maya):
    handoff = open_one(service).handoff
    first = service.record_customer_message("conv-1", "is anyone there?", event_key="m-1")
    again = service.record_customer_message("conv-1", "is anyone there?", event_key="m-1")
    other = service.record_customer_message("conv-1", "is anyone there?", event_key="m-2")  # said twice: twice
    assert first is not None and again is None and other is not None
    assert [m.text for m in service.messages(handoff.id)] == ["is anyone there?", "is anyone there?"]


def test_two_agents_claiming_at_once_one_wins(service, maya):
    sam = service.create_agent("sam@brightwave.example", "Sam", "agent", PASSWORD)
    handoff = open_one(service).handoff
    outcomes = []

    def claim(agent):
        try:
            outcomes.append(("won", service.claim(handoff.id, agent).agent_name))
        except AlreadyClaimed as refused:
            outcomes.append(("refused", str(refused)))

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in (maya, sam)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kind for kind, _ in outcomes) == ["refused", "won"]
    winner = next(name for kind, name in outcomes if kind == "won")
    assert next(text for kind, text in outcomes if kind == "refused") == f"{winner} already took this conversation"


def test_only_the_owner_replies_and_leads_may_resolve(service, maya):
    sam = service.create_agent("sam@brightwave.example", "Sam", "agent", PASSWORD)
    lead = service.create_agent("lee@brightwave.example", "Lee", LEAD, PASSWORD)
    handoff = open_one(service).handoff
    with pytest.raises(NotAllowed, match="claim this conversation first"):
        service.reply(handoff.id, maya, "hello")
    service.claim(handoff.id, maya)
    with pytest.raises(NotAllowed, match="Maya has this conversation"):
        service.reply(handoff.id, sam, "hello")
    with pytest.raises(NotAllowed):
        service.resolve(handoff.id, sam)
    assert service.resolve(handoff.id, lead).state == RESOLVED


def test_failed_delivery_keeps_the_message_for_a_retry(service, maya, gateway):
    handoff = open_one(service).handoff
    service.claim(handoff.id, maya)
    gateway.fail = True
    with pytest.raises(DeliveryFailed) as failed:
        service.reply(handoff.id, maya, "are you still there?")
    assert failed.value.saved.delivered is False
    assert service.messages(handoff.id)[-1].text == "are you still there?"
    gateway.fail = False
    assert service.retry(failed.value.saved.id, maya).delivered
    assert gateway.sent[-1][1] == "are you still there?"


def test_transfer_to_agent_and_back_to_queue(service, maya):
    sam = service.create_agent("sam@brightwave.example", "Sam", "agent", PASSWORD)
    handoff = open_one(service).handoff
    service.claim(handoff.id, maya)
    moved = service.transfer(handoff.id, maya, sam.id, note="Sam knows the billing system")
    assert moved.agent_name == "Sam" and moved.state == ASSIGNED
    back = service.transfer(handoff.id, sam, None)
    assert back.state == WAITING and back.agent_id is None
    assert service.messages(handoff.id)[-1].text == "Sam knows the billing system"


def test_abandon_and_finished_handoffs_refuse_more_changes(service, maya, gateway):
    handoff = open_one(service).handoff
    assert service.abandon(handoff.id, maya).state == ABANDONED
    assert gateway.handed_back == ["conv-1"]
    with pytest.raises(AlreadyClaimed, match="abandoned"):
        service.claim(handoff.id, maya)
    assert service.record_customer_message("conv-1", "hello") is None


def test_resolve_survives_an_unreachable_conversation_server(service, maya, gateway):
    handoff = open_one(service).handoff
    service.claim(handoff.id, maya)
    gateway.fail = True
    assert service.resolve(handoff.id, maya).state == RESOLVED


def test_sign_in_sessions_and_wrong_passwords(service, maya, clock):
    token, agent = service.sign_in("MAYA@brightwave.example", PASSWORD)
    assert agent.id == maya.id and service.agent_for_token(token).name == "Maya"
    with pytest.raises(NotAllowed, match="wrong email or password"):
        service.sign_in("maya@brightwave.example", "not the password")
    with pytest.raises(NotAllowed, match="wrong email or password"):
        service.sign_in("nobody@brightwave.example", PASSWORD)
    assert service.agent_for_token("forged") is None
    clock.advance(hours=13)
    assert service.agent_for_token(token) is None  # sessions expire
    token, _ = service.sign_in("maya@brightwave.example", PASSWORD)
    service.sign_out(token)
    assert service.agent_for_token(token) is None


def test_passwords_are_stored_hashed(service, maya):
    stored = service.store.password_hash(maya.id)
    assert PASSWORD not in stored and stored.startswith("scrypt$")


def test_agent_admin_is_for_leads(service, maya):
    with pytest.raises(NotAllowed, match="only leads"):
        service.add_agent(maya, "x@brightwave.example", "X", "agent", PASSWORD)
    with pytest.raises(NotAllowed):
        service.report(maya)
    lead = service.create_agent("lee@brightwave.example", "Lee", LEAD, PASSWORD)
    added = service.add_agent(lead, "x@brightwave.example", "X", "agent", PASSWORD)
    assert service.set_agent_active(lead, added.id, False).active is False
    with pytest.raises(NotAllowed):
        service.sign_in("x@brightwave.example", PASSWORD)
    with pytest.raises(InvalidInput, match="already exists"):
        service.add_agent(lead, "X@brightwave.example", "X", "agent", PASSWORD)
    with pytest.raises(InvalidInput, match="at least 10"):
        service.add_agent(lead, "y@brightwave.example", "Y", "agent", "short")


def test_tickets_and_csat_feed_the_report(service, maya, clock):
    lead = service.create_agent("lee@brightwave.example", "Lee", LEAD, PASSWORD)
    ticket = service.create_ticket(conversation_id="conv-9", channel="socketio", email="a@b.example",
                                   description="my speaker will not charge", reason=CUSTOMER_REQUEST, packet={})
    assert ticket.state == "open" and [t.id for t in service.tickets("open")] == [ticket.id]
    with pytest.raises(InvalidInput):
        service.create_ticket(conversation_id="c", channel="rest", email="not-an-email", description="x",
                              reason=CUSTOMER_REQUEST, packet={})
    handoff = open_one(service).handoff
    clock.advance(minutes=4)
    service.claim(handoff.id, maya)
    clock.advance(minutes=10)
    service.resolve(handoff.id, maya)
    rating = service.record_csat("conv-1", 4)
    assert rating.handoff_id == handoff.id
    with pytest.raises(InvalidInput):
        service.record_csat("conv-1", 6)
    report = service.report(lead)
    assert report.handoffs == 1 and report.by_reason == ((CUSTOMER_REQUEST, 1),)
    assert report.median_wait_seconds == 240 and report.median_handling_seconds == 600
    assert report.csat_average == 4 and report.open_tickets == 1
    assert service.close_ticket(ticket.id, maya).state == "closed"


def test_unknown_handoff_and_reason(service, maya):
    with pytest.raises(NotFound):
        service.claim(999, maya)
    with pytest.raises(InvalidInput):
        open_one(service, reason="bored")
