"""Proactive messaging's tables in the app database (SQLite or PostgreSQL; SQLAlchemy Core, portable SQL only).

Several web-app workers may send due messages at once: a worker takes a message with a conditional UPDATE (a claim
that lapses after `CLAIM_SECONDS`, so a worker that died mid-send does not keep it for ever), so of two workers
exactly one sends it; the delivery id on the trigger makes even a send repeated after a lapsed claim harmless.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional

import sqlalchemy as sa

from bot.proactive.models import DROPPED, SENT, WAITING, Contact, OrderEvent, ProactiveMessage
from bot.store.directory import create_engine

metadata = sa.MetaData()
CLAIM_SECONDS = 60

proactive_contacts = sa.Table(
    "proactive_contacts",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("seen_at", sa.DateTime, nullable=False),
)

proactive_messages = sa.Table(
    "proactive_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("order_number", sa.String(16), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False, index=True),
    sa.Column("event_at", sa.DateTime, nullable=False),
    sa.Column("carrier", sa.String(32)),
    sa.Column("tracking_number", sa.String(64)),
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("amount_cents", sa.Integer),
    sa.Column("source_key", sa.String(128), unique=True),
    sa.Column("conversation_id", sa.String(255)),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("detail", sa.String(500), nullable=False, default=""),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("claimed_until", sa.DateTime),
)

proactive_opt_outs = sa.Table(
    "proactive_opt_outs",
    metadata,
    sa.Column("customer_key", sa.String(300), primary_key=True),  # "customer:C1001" or "conversation:<id>"
    sa.Column("at", sa.DateTime, nullable=False),
)

proactive_follow_ups = sa.Table(
    "proactive_follow_ups",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(64), primary_key=True),  # the ticket's or handoff's id
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("told_at", sa.DateTime, nullable=False),
)


class SqlProactiveStore:
    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> "SqlProactiveStore":
        store = cls(create_engine(url))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        metadata.create_all(self._engine)

    # contacts ----------------------------------------------------------------------------

    def note_contact(self, contact: Contact) -> None:
        with self._engine.begin() as conn:
            updated = conn.execute(sa.update(proactive_contacts).where(proactive_contacts.c.customer_id == contact.customer_id)
                                   .values(conversation_id=contact.conversation_id, channel=contact.channel,
                                           seen_at=contact.seen_at)).rowcount
            if not updated:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(proactive_contacts).values(**contact.__dict__))
                except sa.exc.IntegrityError:  # another process noted the same customer first: ours is as new
                    conn.execute(sa.update(proactive_contacts).where(proactive_contacts.c.customer_id == contact.customer_id)
                                 .values(conversation_id=contact.conversation_id, channel=contact.channel,
                                         seen_at=contact.seen_at))

    def contact(self, customer_id: str) -> Optional[Contact]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(proactive_contacts).where(proactive_contacts.c.customer_id == customer_id)).first()
        return Contact(**row._asdict()) if row else None

    # messages ----------------------------------------------------------------------------

    def add_message(self, customer_id: str, event: OrderEvent, kind: str, now: datetime, due_at: datetime) -> Optional[ProactiveMessage]:
        """The new message; None when the store's event id (`source_key`) was recorded before."""
        values = dict(customer_id=customer_id, order_number=event.order_number, kind=kind, state=WAITING, created_at=now,
                      due_at=due_at, event_at=event.at, carrier=event.carrier, tracking_number=event.tracking_number,
                      estimated_delivery=event.estimated_delivery, amount_cents=event.amount_cents,
                      source_key=event.source_key, detail="", attempts=0)
        try:
            with self._engine.begin() as conn:
                new_id = conn.execute(sa.insert(proactive_messages).values(**values)).inserted_primary_key[0]
        except sa.exc.IntegrityError:
            if event.source_key is None:
                raise
            return None
        found = self.message(int(new_id))
        assert found is not None
        return found

    def message(self, message_id: int) -> Optional[ProactiveMessage]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(proactive_messages).where(proactive_messages.c.id == message_id)).first()
        return _message(row) if row else None

    def by_source_key(self, source_key: str) -> Optional[ProactiveMessage]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(proactive_messages).where(proactive_messages.c.source_key == source_key)).first()
        return _message(row) if row else None

    def messages_for_order(self, order_number: str) -> List[ProactiveMessage]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(proactive_messages).where(proactive_messages.c.order_number == order_number)
                                .order_by(proactive_messages.c.id)).all()
        return [_message(row) for row in rows]

    def sent_since(self, customer_id: str, since: datetime) -> List[datetime]:
        """When this customer's messages were sent after `since`, oldest first (for the rate limit)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(proactive_messages.c.sent_at)
                                .where(proactive_messages.c.customer_id == customer_id, proactive_messages.c.state == SENT,
                                       proactive_messages.c.sent_at > since)
                                .order_by(proactive_messages.c.sent_at)).all()
        return [row[0] for row in rows]

    def due(self, now: datetime, limit: int = 100) -> List[ProactiveMessage]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(proactive_messages)
                                .where(proactive_messages.c.state == WAITING, proactive_messages.c.due_at <= now,
                                       sa.or_(proactive_messages.c.claimed_until.is_(None),
                                              proactive_messages.c.claimed_until < now))
                                .order_by(proactive_messages.c.due_at, proactive_messages.c.id).limit(limit)).all()
        return [_message(row) for row in rows]

    def claim(self, message_id: int, now: datetime) -> bool:
        """Take a waiting message to send it; False when another worker has it (or it is no longer waiting)."""
        with self._engine.begin() as conn:
            return conn.execute(sa.update(proactive_messages)
                                .where(proactive_messages.c.id == message_id, proactive_messages.c.state == WAITING,
                                       sa.or_(proactive_messages.c.claimed_until.is_(None),
                                              proactive_messages.c.claimed_until < now))
                                .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                                        attempts=proactive_messages.c.attempts + 1)).rowcount == 1

    def postpone(self, message_id: int, due_at: datetime, detail: str) -> None:
        self._update(message_id, due_at=due_at, detail=detail[:500], claimed_until=None)

    def mark_sent(self, message_id: int, conversation_id: str, now: datetime) -> None:
        self._update(message_id, state=SENT, conversation_id=conversation_id, sent_at=now, detail="", claimed_until=None)

    def drop(self, message_id: int, detail: str) -> None:
        self._update(message_id, state=DROPPED, detail=detail[:500], claimed_until=None)

    def supersede(self, order_number: str, kinds: tuple, detail: str) -> int:
        """Drop the waiting messages of these kinds for the order (a newer event makes them wrong)."""
        with self._engine.begin() as conn:
            return conn.execute(sa.update(proactive_messages)
                                .where(proactive_messages.c.order_number == order_number, proactive_messages.c.state == WAITING,
                                       proactive_messages.c.kind.in_(kinds))
                                .values(state=DROPPED, detail=detail[:500], claimed_until=None)).rowcount

    def _update(self, message_id: int, **values: object) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(proactive_messages).where(proactive_messages.c.id == message_id).values(**values))

    # opt-outs and follow-ups -------------------------------------------------------------

    def opt_out(self, customer_key: str, now: datetime) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(proactive_opt_outs).values(customer_key=customer_key, at=now))
        except sa.exc.IntegrityError:  # said before: remembered already
            pass

    def opted_out(self, *customer_keys: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(proactive_opt_outs.c.customer_key)
                                .where(proactive_opt_outs.c.customer_key.in_(customer_keys))).first() is not None

    def told(self, kind: str, ref: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(proactive_follow_ups.c.ref).where(proactive_follow_ups.c.kind == kind,
                                                                           proactive_follow_ups.c.ref == ref)).first() is not None

    def mark_told(self, kind: str, ref: str, conversation_id: str, now: datetime) -> bool:
        """Record that the customer was told; False when it was told before (two sessions starting at once)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(proactive_follow_ups).values(kind=kind, ref=ref, conversation_id=conversation_id, told_at=now))
        except sa.exc.IntegrityError:
            return False
        return True


def _message(row: sa.engine.Row) -> ProactiveMessage:
    data = row._asdict()
    data.pop("claimed_until", None)
    if isinstance(data.get("estimated_delivery"), datetime):
        data["estimated_delivery"] = data["estimated_delivery"].date()
    data["detail"] = data.get("detail") or ""
    return ProactiveMessage(**data)
