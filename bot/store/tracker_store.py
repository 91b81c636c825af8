"""Rasa's SQL tracker store, telling the event broker what is new without reading the conversation back.

Rasa 3.6's `TrackerStore.stream_events` loads the whole stored conversation again on every save (one
more `retrieve`: every event since the session started, deserialised and replayed) only to find the
events that are new. The SQL store already knows them: `_additional_events` is what `save` writes,
found with one COUNT. With the handoff event broker (endpoints.yml) that retrieve was about 7 % of the
Rasa server's CPU per message, and it grows with the conversation. Registered in endpoints.yml
(`type: bot.store.tracker_store.SupportSQLTrackerStore`); everything else is Rasa's `SQLTrackerStore`.

It also gives Rasa's `events` table the indexes the leads' insights dashboard reads it by (customer messages and
slot events of a period: `bot.insights.dashboard.TRACKER_INDEXES`); Rasa's own table has only its sender_id index.
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)


class SupportSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from bot.insights.dashboard import ensure_tracker_indexes

        try:
            ensure_tracker_indexes(self.engine)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            # several Rasa workers start at once (cluster mode): one of them creates each index, like Rasa's tables
            logger.warning("could not add the insights indexes to the tracker store: %s", error)

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
