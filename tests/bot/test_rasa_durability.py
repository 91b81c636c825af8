"""A turn the conversation store cannot save fails loudly (bot/rasa_durability.py), where Rasa's fail-safe
store would keep it in memory only and answer as if it were saved."""
from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import OperationalError

from bot import rasa_durability
from bot.rasa_durability import ConversationStoreUnavailable, StrictTrackerStore, strict_tracker_store


class RefusingStore(InMemoryTrackerStore):
    """A store whose disk filled up: what SQLAlchemy raises for SQLite's SQLITE_FULL."""

    refuse = False

    async def save(self, tracker):
        if self.refuse:
            raise OperationalError("INSERT INTO events ...", {}, sqlite3.OperationalError("database or disk is full"))
        await super().save(tracker)

    async def retrieve(self, sender_id):
        if self.refuse:
            raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("unable to open database file"))
        return await super().retrieve(sender_id)


def tracker(*texts: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("c1", [UserUttered(text) for text in texts])


def test_rasas_own_wrapper_would_lose_the_turn_silently():
    primary = RefusingStore(Domain.empty())
    store = FailSafeTrackerStore(primary)
    asyncio.run(store.save(tracker("first")))
    primary.refuse = True
    asyncio.run(store.save(tracker("first", "second")))  # no error: kept in memory only
    primary.refuse = False
    assert [e.text for e in asyncio.run(store.retrieve("c1")).events] == ["first"]


def test_a_refused_write_or_read_ends_the_turn_with_the_cause_logged(caplog):
    primary = RefusingStore(Domain.empty())
    store = strict_tracker_store(primary, Domain.empty())
    asyncio.run(store.save(tracker("first")))
    primary.refuse = True
    with pytest.raises(ConversationStoreUnavailable, match="database or disk is full"):
        asyncio.run(store.save(tracker("first", "second")))
    with pytest.raises(ConversationStoreUnavailable, match="unable to open database file"):
        asyncio.run(store.retrieve("c1"))  # never an empty conversation in its place
    assert "database or disk is full" in caplog.text
    primary.refuse = False
    assert [e.text for e in asyncio.run(store.retrieve("c1")).events] == ["first"]


def test_the_rasa_agent_builds_the_strict_store_once_applied():
    from rasa.core.agent import Agent

    rasa_durability.apply()
    rasa_durability.apply()  # idempotent
    store = Agent._create_tracker_store(None, Domain.empty())
    assert isinstance(store, StrictTrackerStore) and isinstance(store, FailSafeTrackerStore)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_action_server_that_refuses_connections_is_waited_for_not_one_that_broke_mid_request():
    from aiohttp import ClientConnectorError, web
    from rasa.utils.endpoints import EndpointConfig

    port = free_port()
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    rasas_own = getattr(EndpointConfig.request, "__wrapped__", EndpointConfig.request)  # apply() may have run
    patient = rasa_durability.waiting_for_connections(rasas_own, wait_seconds=10)

    async def scenario():
        async def webhook(request):
            return web.json_response({"events": [], "responses": []})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)

        async def start_later():  # the runner restarting the action server
            await asyncio.sleep(1.0)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()

        starting = asyncio.create_task(start_later())
        answer = await patient(endpoint, method="post", json={})
        await starting
        await runner.cleanup()
        return answer

    assert asyncio.run(scenario()) == {"events": [], "responses": []}

    impatient = rasa_durability.waiting_for_connections(rasas_own, wait_seconds=0.5)
    with pytest.raises(ClientConnectorError):
        asyncio.run(impatient(EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook"), method="post", json={}))


def test_a_server_that_stayed_down_is_not_waited_for_again_until_it_answers():
    from aiohttp import ClientConnectorError
    from rasa.utils.endpoints import EndpointConfig

    rasas_own = getattr(EndpointConfig.request, "__wrapped__", EndpointConfig.request)
    patient = rasa_durability.waiting_for_connections(rasas_own, wait_seconds=1.0)
    endpoint = EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")

    def timed() -> float:
        started = time.monotonic()
        with pytest.raises(ClientConnectorError):
            asyncio.run(patient(endpoint, method="post", json={}))
        return time.monotonic() - started

    assert timed() >= 0.7  # waited for a restart
    assert timed() < 0.3  # the same turn's next action, or the next turn: at once


# --- a message is handled once ---

def conversation_with_ids() -> DialogueStateTracker:
    from rasa.shared.core.events import BotUttered

    return DialogueStateTracker.from_events("c1", [
        UserUttered("where is my order", message_id="first-copy-1"),
        BotUttered("Which order number?", {"buttons": [{"title": "104512", "payload": "104512"}]}),
        UserUttered("104512", message_id="second-msg-2"),
        BotUttered("It shipped."),
        BotUttered("Anything else?"),
        UserUttered("ok thanks (during a handoff)", message_id="silent-msg-3"),
    ])


def test_the_answers_to_a_message_are_the_bot_messages_up_to_the_next_customer_message():
    from bot.rasa_durability import answers_to

    conversation = conversation_with_ids()
    first = answers_to(conversation, "first-copy-1")
    assert [a["text"] for a in first] == ["Which order number?"] and first[0]["buttons"][0]["payload"] == "104512"
    assert isinstance(first[0]["timestamp"], float)  # the widget knows a message it has by its timestamp
    assert [a["text"] for a in answers_to(conversation, "second-msg-2")] == ["It shipped.", "Anything else?"]
    assert answers_to(conversation, "silent-msg-3") == []  # handled, unanswered: still not handled again
    assert answers_to(conversation, "never-sent-4") is None
    assert answers_to(conversation, None) is None


def test_a_copy_of_a_handled_message_is_not_handled_again_and_gets_the_first_answers(caplog):
    import logging

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    handled: list = []

    class Processor:
        async def _handle_message_with_tracker(self, message, tracker):
            handled.append(message.text)
            tracker.update(UserUttered(message.text, message_id=message.message_id))

        async def handle_message(self, message):
            await self._handle_message_with_tracker(message, self.tracker)
            return message.output_channel.messages

    Processor._handle_message_with_tracker = rasa_durability.refusing_copies(Processor._handle_message_with_tracker)
    Processor.handle_message = rasa_durability.answering_copies(Processor.handle_message)
    processor = Processor()
    processor.tracker = conversation_with_ids()
    caplog.set_level(logging.INFO, "bot.rasa_durability")

    copy = asyncio.run(processor.handle_message(UserMessage("104512", CollectingOutputChannel(), "c1",
                                                            message_id="second-msg-2")))
    assert [m["text"] for m in copy] == ["It shipped.", "Anything else?"] and handled == []
    assert "message second-msg-2 of conversation c1 was handled before" in caplog.text
    new = asyncio.run(processor.handle_message(UserMessage("and my refund?", CollectingOutputChannel(), "c1",
                                                           message_id="fourth-msg-4")))
    assert new == [] and handled == ["and my refund?"]
    asyncio.run(processor.handle_message(UserMessage("and my refund?", CollectingOutputChannel(), "c1")))
    assert handled == ["and my refund?"] * 2  # without the client's id (Rasa makes a fresh one), always handled


def test_the_rasa_processor_handles_each_message_once_once_applied():
    from rasa.core.processor import MessageProcessor

    rasa_durability.apply()
    assert MessageProcessor.handle_message.__wrapped__ and MessageProcessor._handle_message_with_tracker.__wrapped__


class Processor:
    """What `appending_once` uses of Rasa's MessageProcessor: the conversation's tracker."""

    def __init__(self, tracker: DialogueStateTracker) -> None:
        self.tracker = tracker

    async def fetch_tracker_with_initial_session(self, conversation_id):
        return self.tracker


def agent_reply(text: str, delivery_id=None) -> BotUttered:
    return BotUttered(text, metadata={"kind": "agent", **({"delivery_id": delivery_id} if delivery_id else {})})


def test_an_event_delivered_before_is_neither_appended_nor_sent_again(caplog):
    from bot.handoff.rasa_gateway import DELIVERY_ID

    assert DELIVERY_ID == rasa_durability.DELIVERY_ID  # the web app's gateway and Rasa's side agree on the key
    conversation = tracker("I need a person")
    original_calls = []

    async def original(*args):
        original_calls.append(args)

    update = rasa_durability.appending_once(original)
    first = [agent_reply("On it.", "agent-message-1")]
    asyncio.run(update("c1", Processor(conversation), Domain.empty(), first))
    assert first and [e.text for e in conversation.events if isinstance(e, BotUttered)] == ["On it."]

    # the desk's post timed out and it posts again, with another message of its own in the same request
    again = [agent_reply("On it.", "agent-message-1"), agent_reply("Found it.", "agent-message-2")]
    with caplog.at_level("INFO", logger="bot.rasa_durability"):
        asyncio.run(update("c1", Processor(conversation), Domain.empty(), again))
    # the request's own list is what Rasa executes side effects for: the copy is out of it, not sent again
    assert [e.text for e in again] == ["Found it."]
    assert [e.text for e in conversation.events if isinstance(e, BotUttered)] == ["On it.", "Found it."]
    assert "agent-message-1" in caplog.text
    assert original_calls == []


def test_events_without_a_delivery_id_go_the_usual_way_and_are_never_taken_for_copies():
    conversation = tracker("hi")
    conversation.update(agent_reply("Same text"))
    calls = []

    async def original(conversation_id, processor, domain, events):
        calls.append(list(events))

    events = [agent_reply("Same text")]
    asyncio.run(rasa_durability.appending_once(original)("c1", Processor(conversation), Domain.empty(), events))
    assert calls == [events] and rasa_durability.delivered_before(conversation, events) == []
    twice = [agent_reply("x", "d1"), agent_reply("x", "d1")]
    assert rasa_durability.delivered_before(conversation, twice) == [twice[1]]


def test_rasas_append_and_trigger_routes_act_once_once_applied():
    import rasa.server
    from rasa.core.processor import MessageProcessor

    rasa_durability.apply()
    assert rasa.server.update_conversation_with_events.__wrapped__
    assert MessageProcessor.trigger_external_user_uttered.__wrapped__


def test_an_intent_triggered_again_with_the_same_delivery_id_is_not_run_again(caplog):
    runs = []

    async def trigger(self, intent_name, entities, tracker, output_channel):
        runs.append(intent_name)
        entity_list = [{"entity": k, "value": v} for k, v in entities.items()]
        tracker.update(UserUttered.create_external(intent_name, entity_list))

    once = rasa_durability.triggering_once(trigger)
    conversation = tracker("I need a person")
    for delivery_id in ("hand-back-1", "hand-back-1", "hand-back-2"):
        with caplog.at_level("INFO", logger="bot.rasa_durability"):
            asyncio.run(once(None, "handoff_resolved", {"delivery_id": delivery_id}, conversation, None))
    asyncio.run(once(None, "handoff_resolved", {}, conversation, None))  # without an id: as Rasa does, every time
    asyncio.run(once(None, "handoff_resolved", [{"entity": "delivery_id", "value": "hand-back-2"}], conversation, None))
    assert runs == ["handoff_resolved"] * 3
    assert "hand-back-1) was triggered before" in caplog.text


def test_a_conversation_request_runs_to_its_end_when_its_client_hangs_up(caplog):
    """On a real Sanic server: the desk gave up waiting (its timeout) while Rasa was appending its message."""
    import socket

    from sanic import Sanic, response

    rasa_durability.apply()
    app = Sanic(f"hangup_{time.monotonic_ns()}")
    started, finished = {}, []

    async def slow(request, name):
        started[name].set()
        await asyncio.sleep(0.5)  # the client is gone by now
        finished.append(name)
        return response.json({"ok": True})

    app.add_route(lambda request, cid: slow(request, "append"), "/conversations/<cid>/tracker/events", methods=["POST"])
    app.add_route(lambda request: slow(request, "status"), "/status")

    async def hang_up_during(path: str, port: int, name: str) -> None:
        started[name] = asyncio.Event()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        method = "POST" if "conversations" in path else "GET"
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        await asyncio.wait_for(started[name].wait(), 30)
        writer.close()  # the client hangs up while the handler runs

    async def scenario() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        await server.startup()
        await server.start_serving()
        try:
            await hang_up_during("/conversations/c1/tracker/events", port, "append")
            await hang_up_during("/status", port, "status")
            await asyncio.sleep(1.5)
        finally:
            server.close()

    with caplog.at_level("INFO"):
        asyncio.run(scenario())
    assert finished == ["append"]  # a conversation's request finished; any other is cancelled, as Sanic does
    assert "hung up; the request runs to its end" in caplog.text
    assert "will not be sent to client" not in caplog.text


# --- lock tickets renewed while their holder is alive ------------------------------------------------------------

def _locks():
    from rasa.core.lock_store import InMemoryLockStore

    rasa_durability.apply()
    return InMemoryLockStore()


def test_a_message_waiting_longer_than_the_lock_lifetime_is_handled_after_the_turn_ahead():
    store, order = _locks(), []

    async def turn(name: str, seconds: float) -> None:
        async with store.lock("c1", lock_lifetime=0.3, wait_time_in_seconds=0.05):
            order.append(f"{name} starts")
            await asyncio.sleep(seconds)  # a turn 4 lifetimes long: Rasa's own ticket expired under it
            order.append(f"{name} ends")

    async def both() -> None:
        first = asyncio.create_task(turn("first", 1.2))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, turn("second", 0.1))  # Rasa alone: LockError for the second, or both at once

    asyncio.run(both())
    assert order == ["first starts", "first ends", "second starts", "second ends"]
    assert store.get_lock("c1") is None  # released


def test_a_ticket_nobody_renews_any_more_still_expires():
    # the holder's process died (kill -9): its ticket stops being renewed and the conversation is free a lifetime later
    store = _locks()
    store.issue_ticket("c1", 0.3)

    async def waiting() -> float:
        started = time.monotonic()
        async with store.lock("c1", lock_lifetime=0.3, wait_time_in_seconds=0.05):
            return time.monotonic() - started

    assert 0.2 < asyncio.run(waiting()) < 1.0


def test_a_request_dropped_before_it_was_written_is_sent_again_not_one_that_may_have_arrived():
    from aiohttp import ClientOSError

    calls = []

    async def dropped_twice(endpoint, **kwargs):  # what aiohttp raises when the server closed before the body went out
        calls.append(kwargs)
        if len(calls) <= 2:
            raise ClientOSError(None, "Can not write request body for http://127.0.0.1:5055/webhook")
        return {"events": [], "responses": []}

    endpoint = type("Endpoint", (), {"url": f"http://127.0.0.1:{free_port()}/webhook"})()
    patient = rasa_durability.waiting_for_connections(dropped_twice, wait_seconds=10)
    assert asyncio.run(patient(endpoint, method="post", json={})) == {"events": [], "responses": []}
    assert len(calls) == 3

    async def reset_mid_request(endpoint, **kwargs):
        calls.append(kwargs)
        raise ClientOSError(104, "Connection reset by peer")

    calls.clear()
    with pytest.raises(ClientOSError):
        asyncio.run(rasa_durability.waiting_for_connections(reset_mid_request, wait_seconds=10)(endpoint, method="post"))
    assert len(calls) == 1  # it may have reached the action server: not sent again
