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
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Optional

import aiohttp
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)
_applied = False
SERVER_WAIT_SECONDS = 15.0  # how long a turn waits for an action server that refuses connections (the runner
# restarts a dead one in 5-9 s: docs/benchmarks.md, kill -9 under load); once it has waited that long in vain, the
# server counts as down and later calls fail at once, until one connects again
_down: dict = {}  # url -> when a call last gave up waiting for it


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


def waiting_for_connections(request: Any, wait_seconds: float = SERVER_WAIT_SECONDS) -> Any:
    """`EndpointConfig.request`, sent again while the server refuses connections, for up to `wait_seconds`."""

    @functools.wraps(request)  # keeps Rasa's own as __wrapped__
    async def patient_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadline, delay = time.monotonic() + wait_seconds, 0.25
        while True:
            try:
                answer = await request(self, *args, **kwargs)
                _down.pop(self.url, None)
                return answer
            except aiohttp.ClientConnectorError as error:
                if self.url in _down or time.monotonic() + delay > deadline:
                    _down[self.url] = time.monotonic()
                    raise
                logger.warning("%s refuses connections (%s); sending again in %.2f s", self.url, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    return patient_request


def apply() -> None:
    """Make the Rasa agent's tracker store strict and its action calls wait for a restarting server (idempotent)."""
    global _applied
    if _applied:
        return
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    Agent._create_tracker_store = staticmethod(strict_tracker_store)  # type: ignore[method-assign]
    EndpointConfig.request = waiting_for_connections(EndpointConfig.request)  # type: ignore[method-assign]
    _applied = True
