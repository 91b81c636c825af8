"""What the Slack side remembers, in the app database (SQLite or PostgreSQL, like the handoffs).

- Events already handled. Slack retries an event it thinks went unanswered, and a message that
  mentions the app arrives twice (`message` and `app_mention`, with different event ids), so an
  event is handled only when neither its event id nor its message (channel + ts) was seen. In the
  database, so a restart in between does not answer twice; a primary key, so two processes
  receiving the same event at once cannot both win.
- The agents' channel post of each handoff: where it is, which state it shows and how far the
  handoff's transcript has been copied into its thread. Updates are compare-and-set, so with
  several Rasa processes each change is posted by exactly one of them.
- Agent messages written in a Slack thread, which the thread must not show a second time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, List, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.store.directory import create_engine

metadata = sa.MetaData()

seen_events = sa.Table(
    "slack_seen_events",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
)

handoff_posts = sa.Table(
    "slack_handoff_posts",
    metadata,
    sa.Column("handoff_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("ts", sa.String(32), index=True),  # None while the post is being made
    sa.Column("state", sa.String(16), nullable=False),  # the state (and agent) the post shows
    sa.Column("agent_id", sa.Integer),
    sa.Column("last_message_id", sa.Integer, nullable=False, default=0),  # transcript copied up to here
    sa.Column("created_at", sa.DateTime, nullable=False),
)

slack_written = sa.Table(
    "slack_written_messages",
    metadata,
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=False),
)


@dataclass(frozen=True)
class HandoffPost:
    handoff_id: int
    channel: str
    ts: Optional[str]
    state: str
    agent_id: Optional[int]
    last_message_id: int


class SlackStore:
    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> "SlackStore":
        store = cls(create_engine(url))
        metadata.create_all(store._engine)
        return store

    # events --------------------------------------------------------------------------

    def first_sighting(self, keys: Iterable[str], now: datetime) -> bool:
        """Record the keys of an event; False (nothing recorded) when any of them was seen before."""
        rows = [{"key": key[:200], "at": now} for key in dict.fromkeys(keys) if key]
        if not rows:
            return True
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(seen_events), rows)
        except IntegrityError:
            return False
        return True

    def forget_events_before(self, cutoff: datetime) -> int:
        """Slack retries for minutes, not days: old keys only take room."""
        with self._engine.begin() as conn:
            return conn.execute(sa.delete(seen_events).where(seen_events.c.at < cutoff)).rowcount

    # handoff posts -------------------------------------------------------------------

    def reserve_post(self, handoff_id: int, channel: str, state: str, agent_id: Optional[int], now: datetime) -> bool:
        """Claim the right to post a handoff; False when another process already has."""
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(handoff_posts).values(handoff_id=handoff_id, channel=channel, ts=None, state=state,
                                                             agent_id=agent_id, last_message_id=0, created_at=now))
        except IntegrityError:
            return False
        return True

    def set_post_ts(self, handoff_id: int, ts: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(handoff_posts).where(handoff_posts.c.handoff_id == handoff_id).values(ts=ts))

    def drop_post(self, handoff_id: int) -> None:
        """The post could not be made: let the next round try again."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(handoff_posts).where(handoff_posts.c.handoff_id == handoff_id))

    def post(self, handoff_id: int) -> Optional[HandoffPost]:
        return self._one(handoff_posts.c.handoff_id == handoff_id)

    def post_at(self, channel: str, ts: str) -> Optional[HandoffPost]:
        return self._one(sa.and_(handoff_posts.c.channel == channel, handoff_posts.c.ts == ts))

    def move_state(self, post: HandoffPost, state: str, agent_id: Optional[int]) -> bool:
        """Compare-and-set the state the post shows; True when this caller made the change (and updates Slack)."""
        with self._engine.begin() as conn:
            result = conn.execute(sa.update(handoff_posts).where(
                handoff_posts.c.handoff_id == post.handoff_id, handoff_posts.c.state == post.state,
                _is(handoff_posts.c.agent_id, post.agent_id)).values(state=state, agent_id=agent_id))
        return result.rowcount == 1

    def move_messages(self, post: HandoffPost, last_message_id: int) -> bool:
        """Compare-and-set how far the transcript was copied; True when this caller copies the lines in between."""
        with self._engine.begin() as conn:
            result = conn.execute(sa.update(handoff_posts).where(
                handoff_posts.c.handoff_id == post.handoff_id,
                handoff_posts.c.last_message_id == post.last_message_id).values(last_message_id=last_message_id))
        return result.rowcount == 1

    # agent messages written in Slack -------------------------------------------------

    def mark_written_in_slack(self, message_id: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.insert(slack_written).values(message_id=message_id))

    def written_in_slack(self, message_ids: List[int]) -> set:
        if not message_ids:
            return set()
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(slack_written.c.message_id).where(slack_written.c.message_id.in_(message_ids)))
            return {row[0] for row in rows}

    def _one(self, condition) -> Optional[HandoffPost]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(handoff_posts).where(condition)).first()
        return HandoffPost(**_post_fields(row)) if row else None


def _post_fields(row) -> dict:
    data = dict(row._mapping)
    data.pop("created_at", None)
    return data


def _is(column, value):
    return column.is_(None) if value is None else column == value


EVENT_MEMORY = timedelta(days=2)
