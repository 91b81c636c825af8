"""A customer's turn is either saved in the conversation or the customer is told it was not (applied by
`bot.rasa_server` to the Rasa server).

Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore`: when saving fails (a full disk, a read-only SQLite
file, a database restarting) it logs the error and keeps that turn in memory only; when reading fails it starts
the conversation afresh. Either way the customer is answered as if all were well, and the turn, or everything
said before it, is missing from the record once the store works again (found by the reliability battery's disk
part, bot/bench/reliability/disk.py). Here the store's error ends the turn instead: the channels tell the
customer to send the message again (bot/channels), the log names the database's own error, and the record never
silently parts from what the customer saw.
"""
from __future__ import annotations

import logging
from typing import Optional

from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)
_applied = False


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


def apply() -> None:
    """Make the Rasa agent's tracker store strict (idempotent)."""
    global _applied
    if _applied:
        return
    from rasa.core.agent import Agent

    Agent._create_tracker_store = staticmethod(strict_tracker_store)  # type: ignore[method-assign]
    _applied = True
