"""Rasa's SQL tracker store, telling the event broker what is new without reading the conversation back.

Rasa 3.6's `TrackerStore.stream_events` loads the whole stored conversation again on every save (one
more `retrieve`: every event since the session started, deserialised and replayed) only to find the
events that are new. The SQL store already knows them: `_additional_events` is what `save` writes,
found with one COUNT. With the handoff event broker (endpoints.yml) that retrieve was about 7 % of the
Rasa server's CPU per message, and it grows with the conversation. Registered in endpoints.yml
(`type: bot.store.tracker_store.SupportSQLTrackerStore`); everything else is Rasa's `SQLTrackerStore`.
"""
from __future__ import annotations

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker


class SupportSQLTrackerStore(SQLTrackerStore):
    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
