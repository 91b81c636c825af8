"""A customer's turn is either saved in the conversation or the customer is told it was not (applied by
`bot.rasa_server` to the Rasa server).

Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore`: when saving fails (a full disk, a read-only SQLite
file, a database restarting) it logs the error and keeps that turn in memory only; when reading fails it starts
the conversation afresh. Either way the customer is answered as if all were well, and the turn, or everything
said before it, is missing from the record once the store works again (found by the reliability battery's disk
part, bot/bench/reliability/disk.py). Here the store's error ends the turn instead: the channels tell the
customer to send the message again (bot/channels), the log names the database's own error, and the record never
silently parts from what the customer saw.

Second, a turn whose custom action finds the action server not accepting connections (it crashed and the
runner is starting it again, a matter of seconds) waits for it instead of failing at once: a request that could
not connect was never received, so sending it again cannot run an action twice. A connection that breaks after
the request went out is not retried, for that reason; the turn then fails with the clear error above.

Third, a message is handled once. A client that lost its connection, or was told to send again, cannot know
whether its first copy is still waiting for the conversation's lock; the widget and the REST channel give each
message an id of their own (`message_id`, bot/channels), and a copy whose id is already in the conversation is
not handled again: it gets the answers the first copy got (found by the battery's load part: 29 messages
handled twice at 200 conversations). The check runs inside the conversation's lock, on the tracker the turn
reads anyway, so it costs nothing and two copies racing each other cannot both pass it.

Fourth, the same for what the web app appends through Rasa's HTTP API (an agent's reply): the desk saves the
reply, then posts it with an id of its own in the event's metadata (`delivery_id`); when the post times out under
load (the turn queue is longer than the desk's patience) it cannot know whether Rasa appended it and posts again.
An event whose `delivery_id` is in the conversation already is not appended again, nor sent to the customer again
(found by `make bench-cluster`: agent replies recorded and received twice). The same holds for an intent triggered
from outside (the hand-back, which makes the bot ask for a rating) with a `delivery_id` entity: triggered again,
it is not run again.

Fifth, a request that changes a conversation runs to its end once Rasa has started it. Sanic cancels a request's
handler when the client hangs up, wherever it is: the desk that gave up after its timeout left Rasa's append route
cancelled after it had sent the agent's message to the customer and before it saved it, so the retry, finding
nothing in the record, sent it again (found by `make bench-cluster`: 22 agent replies received twice); a REST
client that gave up left a turn cancelled between running an action and saving it. The conversation routes and the
REST webhook are shielded from that cancellation; the client that left gets no answer, the record is whole, and a
copy it sends again is handled by the checks above.

Sixth, a message waiting for its conversation's lock is not dropped, and a turn keeps the lock as long as it runs.
Rasa's ticket lock gives every message a ticket that expires LOCK_LIFETIME after it was issued, whether the turn is
waiting or running: under a queue of turns longer than that, the turn ahead lost its ticket while still running
(so the next message of the conversation ran beside it) and a message waiting behind it lost its own and was
dropped with a `LockError` — for Slack after the event was acknowledged, so nobody ever answered it (found by the
battery's Slack part: 83 of 2,000 events at 106 s turns). Here each ticket is renewed while its holder is alive,
waiting or running, so the lifetime only bounds how long a process that died (kill -9, a lost worker) keeps a
conversation locked.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from typing import Any, Dict, List, Optional

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)
_applied = False
SERVER_WAIT_SECONDS = 15.0  # how long a turn waits for an action server that refuses connections (the runner
# restarts a dead one in 5-9 s: docs/benchmarks.md, kill -9 under load); once it has waited that long in vain, the
# server counts as down and later calls fail at once, until one connects again
_down: dict = {}  # url -> when a call last gave up waiting for it
DELIVERY_ID = "delivery_id"  # in an appended event's metadata: the sender's id for it (bot/handoff/rasa_gateway.py)
TURN_HELD = "turn held the conversation's lock for"  # the log line bot/bench/cluster.py reads


class ConversationStoreUnavailable(RasaException):
    """The conversation store refused to read or write; the turn was not handled."""


class StrictTrackerStore(FailSafeTrackerStore):
    """Rasa's wrapper, with its two fallbacks (save to memory, read as empty) replaced by an error."""

    def on_tracker_store_error(self, error: Exception) -> None:
        logger.error("the conversation store (%s) refused a write: %s", type(self._tracker_store).__name__, error)
        raise ConversationStoreUnavailable(f"the conversation store refused a write: {error}") from error

    def on_tracker_store_retrieve_error(self, error: Exception) -> None:
        logger.error("the conversation store (%s) could not be read: %s", type(self._tracker_store).__name__, error)
        raise ConversationStoreUnavailable(f"the conversation store could not be read: {error}") from error


def strict_tracker_store(store: Optional[TrackerStore], domain: Domain) -> TrackerStore:
    """What `Agent._create_tracker_store` returns, strict."""
    if store is None:
        store = InMemoryTrackerStore(domain)
    store.domain = domain
    return StrictTrackerStore(store)


def never_received(error: aiohttp.ClientOSError) -> bool:
    """Whether aiohttp failed before the request was whole on the wire: the server cannot have acted on it.

    Under a burst (the battery's 2,000 Slack events in 40 s) the action server's listen queue overflows and a
    connection the kernel had completed is closed before the request's body is written (found by the battery's
    Slack part: 121 actions failed with "Can not write request body")."""
    text = str(error)
    return "Can not write request body" in text or "closing transport" in text


def waiting_for_connections(request: Any, wait_seconds: float = SERVER_WAIT_SECONDS) -> Any:
    """`EndpointConfig.request`, sent again while the server refuses connections (or drops them before the request
    was written), for up to `wait_seconds`."""

    @functools.wraps(request)  # keeps Rasa's own as __wrapped__
    async def patient_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadline, delay = time.monotonic() + wait_seconds, 0.25
        while True:
            try:
                answer = await request(self, *args, **kwargs)
                _down.pop(self.url, None)
                return answer
            except (aiohttp.ClientConnectorError, aiohttp.ClientOSError) as error:
                if not isinstance(error, aiohttp.ClientConnectorError) and not never_received(error):
                    raise  # the request may have reached the server: sending it again could run an action twice
                if self.url in _down or time.monotonic() + delay > deadline:
                    _down[self.url] = time.monotonic()
                    raise
                logger.warning("%s refuses connections (%s); sending again in %.2f s", self.url, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    return patient_request


class HandledBefore(Exception):
    """This message (by its id) is in the conversation already; `answers` are the bot's messages that followed it."""

    def __init__(self, answers: List[Dict[str, Any]]) -> None:
        super().__init__("handled before")
        self.answers = answers


def answers_to(tracker: DialogueStateTracker, message_id: Optional[str]) -> Optional[List[Dict[str, Any]]]:
    """The bot's messages that answered the message with this id, or None when the conversation has no such message."""
    if not message_id:
        return None
    answers: Optional[List[Dict[str, Any]]] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if answers is not None:
                break
            if event.message_id == message_id:
                answers = []
        elif answers is not None and isinstance(event, BotUttered):
            answers.append(event.message())
    return answers


def refusing_copies(handle_with_tracker: Any) -> Any:
    """`MessageProcessor._handle_message_with_tracker`, refusing a message whose id the conversation has."""

    @functools.wraps(handle_with_tracker)
    async def once(self: Any, message: UserMessage, tracker: DialogueStateTracker) -> None:
        earlier = answers_to(tracker, message.message_id)
        if earlier is not None:
            raise HandledBefore(earlier)  # before anything is added to the tracker, so nothing is saved
        await handle_with_tracker(self, message, tracker)

    return once


def answering_copies(handle_message: Any) -> Any:
    """`MessageProcessor.handle_message`, where a copy of a handled message gets the first copy's answers."""

    @functools.wraps(handle_message)
    async def handle(self: Any, message: UserMessage) -> Optional[List[Dict[str, Any]]]:
        started = time.monotonic()
        try:
            return await handle_message(self, message)
        except HandledBefore as copy:
            logger.info("message %s of conversation %s was handled before; sent its %d answers again",
                        message.message_id, message.sender_id, len(copy.answers))
            for answer in copy.answers:
                await message.output_channel.send_response(message.sender_id, answer)
            if isinstance(message.output_channel, CollectingOutputChannel):
                return message.output_channel.messages
            return None
        finally:
            # Rasa calls this holding the conversation's lock: how long a turn holds it is what the lock's
            # lifetime must cover (bot/settings.py LOCK_LIFETIME, measured by `make bench-cluster`)
            logger.info("%s %.3f s, conversation %s", TURN_HELD, time.monotonic() - started, message.sender_id)

    return handle


def delivered_before(tracker: DialogueStateTracker, events: List[Event]) -> List[Event]:
    """Those of `events` whose delivery id is in the conversation already, or earlier in `events` itself."""
    seen = {(e.metadata or {}).get(DELIVERY_ID) for e in tracker.events} - {None}
    copies = []
    for event in events:
        delivery_id = (event.metadata or {}).get(DELIVERY_ID)
        if delivery_id in seen:
            copies.append(event)
        elif delivery_id:
            seen.add(delivery_id)
    return copies


def appending_once(update: Any) -> Any:
    """`rasa.server.update_conversation_with_events`, leaving out events delivered before.

    Rasa's append route calls it holding the conversation's lock and then executes the side effects of the
    request's own `events` list (sends a bot message to the customer): the copies are taken out of that very list,
    so they are neither recorded nor sent again."""

    @functools.wraps(update)
    async def once(conversation_id: str, processor: Any, domain: Domain, events: List[Event]) -> DialogueStateTracker:
        if not any((e.metadata or {}).get(DELIVERY_ID) for e in events):
            return await update(conversation_id, processor, domain, events)
        tracker = await processor.fetch_tracker_with_initial_session(conversation_id)
        copies = delivered_before(tracker, events)
        if copies:
            logger.info("conversation %s: %d event(s) delivered before were not appended again (%s)", conversation_id,
                        len(copies), ", ".join(str(e.metadata.get(DELIVERY_ID)) for e in copies))
            events[:] = [e for e in events if not any(e is c for c in copies)]
        for event in events:
            tracker.update(event, domain)
        return tracker

    return once


def _delivery_id_of(entities: Any) -> Optional[str]:
    if isinstance(entities, dict):
        value = entities.get(DELIVERY_ID)
    elif isinstance(entities, list):
        value = next((e.get("value") for e in entities if isinstance(e, dict) and e.get("entity") == DELIVERY_ID), None)
    else:
        value = None
    return str(value) if value else None


def triggering_once(trigger: Any) -> Any:
    """`MessageProcessor.trigger_external_user_uttered` (Rasa's trigger_intent route calls it holding the
    conversation's lock), doing nothing for a `delivery_id` entity the conversation has had already."""

    @functools.wraps(trigger)
    async def once(self: Any, intent_name: str, entities: Any, tracker: DialogueStateTracker, output_channel: Any) -> None:
        delivery_id = _delivery_id_of(entities)
        if delivery_id and any(isinstance(e, UserUttered) and any(x.get("entity") == DELIVERY_ID and str(x.get("value")) == delivery_id
                                                                  for x in e.entities) for e in tracker.events):
            logger.info("conversation %s: %s (%s) was triggered before; not run again", tracker.sender_id,
                        intent_name, delivery_id)
            return
        await trigger(self, intent_name, entities, tracker, output_channel)

    return once


COMPLETED_PATHS = ("/conversations/", "/webhooks/rest/")  # the requests shielded from the client hanging up


def finishing_started_requests(protocol_init: Any) -> Any:
    """`HttpProtocol.__init__`, with the connection's request handler (the app's `handle_request`) run to its end
    for the paths that change a conversation, whoever hangs up. (Wrapped per connection, not on the Sanic class:
    Sanic's TouchUp recompiles `Sanic.handle_request` from its source at startup, which would drop a wrapper.)"""

    @functools.wraps(protocol_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        protocol_init(self, *args, **kwargs)
        self.request_handler = _shielded(self.request_handler)

    return init


_hung_up: "contextvars.ContextVar[Optional[List[bool]]]" = contextvars.ContextVar("hung_up", default=None)


def _shielded(handle_request: Any) -> Any:
    async def handle(request: Any) -> Any:
        if not str(getattr(request, "path", "")).startswith(COMPLETED_PATHS):
            return await handle_request(request)
        hung_up = [False]

        async def run() -> Any:
            _hung_up.set(hung_up)  # read by AnsweredAlready, in this task's own context
            return await handle_request(request)

        task = asyncio.ensure_future(run())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            hung_up[0] = True
            if not task.done():
                logger.info("the client of %s %s hung up; the request runs to its end", request.method, request.path)
                task.add_done_callback(_log_failure)
            raise

    return handle


class AnsweredAlready(logging.Filter):
    """Sanic answered a request whose client hung up with a 503 on the spot; when the shielded handler then
    finishes, Sanic logs an error that its response cannot be sent. That is the expected end of such a request
    (the INFO line above says so), not an error for the operator to chase."""

    def filter(self, record: logging.LogRecord) -> bool:
        hung_up = _hung_up.get()
        return not (hung_up and hung_up[0] and "will not be sent to client" in record.getMessage())


def _log_failure(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("a request whose client hung up failed", exc_info=task.exception())


RENEWALS_PER_LIFETIME = 3  # a ticket is renewed this often within its lifetime, so a late renewal still comes in time


async def _renew_ticket(store: Any, conversation_id: str, number: int, lifetime: float) -> None:
    """Push the ticket's expiry a lifetime ahead, every lifetime/3, until cancelled (the lock is released)."""
    while True:
        await asyncio.sleep(lifetime / RENEWALS_PER_LIFETIME)
        try:
            lock = store.get_lock(conversation_id)
            ticket = lock._ticket_for_ticket_number(number) if lock else None
            if ticket is None:  # expired all the same (the loop was blocked past a lifetime): nothing to renew
                logger.warning("the lock ticket of conversation %s expired before it was renewed", conversation_id)
                return
            ticket.expires = time.time() + lifetime
            store.save_lock(lock)
        except Exception:  # the lock store (Redis) failed: the turn goes on; its ticket may expire
            logger.exception("could not renew the lock ticket of conversation %s", conversation_id)


def renewing_tickets(lock: Any) -> Any:
    """`LockStore.lock`, its ticket renewed while the message waits for the lock and while its turn holds it."""

    @contextlib.asynccontextmanager
    async def renewed(self: Any, conversation_id: str, lock_lifetime: float = 0, wait_time_in_seconds: float = 1) -> Any:
        from rasa.core.lock_store import LOCK_LIFETIME

        lifetime = lock_lifetime or LOCK_LIFETIME
        ticket = self.issue_ticket(conversation_id, lifetime)
        renewal = asyncio.get_running_loop().create_task(_renew_ticket(self, conversation_id, ticket, lifetime))
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            renewal.cancel()
            self.cleanup(conversation_id, ticket)

    renewed.__wrapped__ = lock  # type: ignore[attr-defined]
    return renewed


def apply() -> None:
    """Make the Rasa agent's tracker store strict, its action calls wait for a restarting server, and each message
    and each appended event with an id handled once (idempotent)."""
    global _applied
    if _applied:
        return
    import rasa.server
    from rasa.core.agent import Agent
    from rasa.core.lock_store import LockStore
    from rasa.core.processor import MessageProcessor
    from rasa.utils.endpoints import EndpointConfig
    from sanic.server.protocols.http_protocol import HttpProtocol

    Agent._create_tracker_store = staticmethod(strict_tracker_store)  # type: ignore[method-assign]
    EndpointConfig.request = waiting_for_connections(EndpointConfig.request)  # type: ignore[method-assign]
    MessageProcessor._handle_message_with_tracker = refusing_copies(  # type: ignore[method-assign]
        MessageProcessor._handle_message_with_tracker)
    MessageProcessor.handle_message = answering_copies(MessageProcessor.handle_message)  # type: ignore[method-assign]
    rasa.server.update_conversation_with_events = appending_once(rasa.server.update_conversation_with_events)
    MessageProcessor.trigger_external_user_uttered = triggering_once(  # type: ignore[method-assign]
        MessageProcessor.trigger_external_user_uttered)
    HttpProtocol.__init__ = finishing_started_requests(HttpProtocol.__init__)  # type: ignore[method-assign]
    LockStore.lock = renewing_tickets(LockStore.lock)  # type: ignore[method-assign]
    logging.getLogger("sanic.error").addFilter(AnsweredAlready())
    _applied = True
