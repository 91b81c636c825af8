"""The tracker store hands the broker exactly the new events, without reading the conversation back."""
import asyncio
from typing import Any, Dict, List

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.store.tracker_store import SupportSQLTrackerStore


class RecordingBroker(EventBroker):
    def __init__(self) -> None:
        self.published: List[Dict[str, Any]] = []

    def publish(self, event: Dict[str, Any]) -> None:
        self.published.append(event)


def test_only_new_events_reach_the_broker(tmp_path, monkeypatch):
    broker = RecordingBroker()
    store = SupportSQLTrackerStore(Domain.empty(), host=f"sqlite:///{tmp_path / 'conversations.db'}", event_broker=broker)

    async def no_retrieve(sender_id):
        raise AssertionError("the conversation was read back")

    # as Rasa logs a session start: the action's events (SessionStarted) exist before its ActionExecuted
    started = SessionStarted()
    tracker = DialogueStateTracker.from_events("c1", [ActionExecuted("action_session_start"), started,
                                                      ActionExecuted("action_listen"), UserUttered("hello")])
    monkeypatch.setattr(store, "retrieve", no_retrieve)
    asyncio.run(store.save(tracker))
    assert [(e["event"], e["sender_id"]) for e in broker.published] == [
        ("action", "c1"), ("session_started", "c1"), ("action", "c1"), ("user", "c1")]

    tracker.update(BotUttered("Hi Jane"))
    tracker.update(UserUttered("where is my order?"))
    asyncio.run(store.save(tracker))
    assert [(e["event"], e.get("text")) for e in broker.published[4:]] == [("bot", "Hi Jane"), ("user", "where is my order?")]
    monkeypatch.undo()
    stored = asyncio.run(store.retrieve("c1"))
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["hello", "where is my order?"]
