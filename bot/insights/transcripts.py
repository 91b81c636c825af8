"""A conversation as a lead reads it from the insights dashboard: the messages, every personal detail masked.

The dashboard links each figure to the conversations behind it, including the ones no person ever saw (contained
ones have no handoff, so the desk has no page for them). A lead looking at how support went needs what was said,
not whose it was: customers' words go through `mask_for_leads` (emails, card, phone and order numbers, addresses
and postcodes become placeholders), and so do the assistant's and the agents' (they repeat what the customer said:
"I've sent the label to jane@...").

The events are read from Rasa's SQL tracker store, the same rows the figures are counted from, so every id a
figure lists opens here. Only text, times and the agent's name leave this module: no slots, entities or payloads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa

from bot.insights.dashboard import events
from bot.insights.sql import channel_of
from bot.privacy import mask_for_leads
from bot.store.directory import create_engine

CUSTOMER, BOT, AGENT = "customer", "bot", "agent"
MAX_EVENTS = 5000  # a conversation is tens of events; a runaway one is cut here, said so by `truncated`
# the widget's own button, shown under its title as the customer pressed it (bot/web/widget.py WIDGET_PAYLOADS)
BUTTON_TITLES = {"/request_human": "Talk to a person"}


@dataclass(frozen=True)
class Line:
    at: Optional[datetime]  # naive UTC
    who: str  # customer | bot | agent
    text: str  # personal details masked
    agent: Optional[str] = None


@dataclass(frozen=True)
class Transcript:
    conversation_id: str
    channel: str
    lines: Tuple[Line, ...]
    truncated: bool  # the conversation had more than MAX_EVENTS events; the first ones are shown


def lines_of(rasa_events: Iterable[Dict[str, Any]]) -> List[Line]:
    """Customer, assistant and agent messages of Rasa events (as stored: `events.data`), masked, oldest first."""
    titles = dict(BUTTON_TITLES)  # a button's payload → its title, so a click reads as the customer saw it
    found: List[Line] = []
    for event in rasa_events:
        kind, text = event.get("event"), str(event.get("text") or "")
        if kind == "user":
            text = titles.get(text, text)
            if text.strip():
                found.append(Line(_time(event.get("timestamp")), CUSTOMER, mask_for_leads(text)))
        elif kind == "bot":
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            for button in data.get("buttons") or []:
                if isinstance(button, dict) and button.get("payload"):
                    titles[str(button["payload"])] = str(button.get("title") or "")
            metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
            if text.strip():
                agent = str(metadata["agent"]) if metadata.get("agent") else None
                found.append(Line(_time(event.get("timestamp")), AGENT if agent else BOT, mask_for_leads(text), agent))
    return found


def _time(value: Any) -> Optional[datetime]:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)
    return None


class LeadsTranscripts:
    """Masked transcripts from Rasa's SQL tracker store."""

    def __init__(self, tracker: sa.engine.Engine) -> None:
        self._tracker = tracker

    @classmethod
    def from_url(cls, tracker_store_url: str) -> "LeadsTranscripts":
        return cls(create_engine(tracker_store_url))

    def transcript(self, conversation_id: str) -> Optional[Transcript]:
        """The conversation's messages, masked; None when the tracker store has no such conversation."""
        query = (sa.select(events.c.data).where(events.c.sender_id == conversation_id)
                 .order_by(events.c.id).limit(MAX_EVENTS + 1))
        with self._tracker.connect() as conn:
            rows = [row[0] for row in conn.execute(query)]
        if not rows:
            return None
        parsed = []
        for data in rows[:MAX_EVENTS]:
            try:
                event = json.loads(data) if data else {}
            except ValueError:  # a row another writer left unreadable: the rest of the conversation still shows
                continue
            if isinstance(event, dict):
                parsed.append(event)
        return Transcript(conversation_id, channel_of(conversation_id), tuple(lines_of(parsed)), len(rows) > MAX_EVENTS)
