"""Handoffs, agents, desk sessions, offline tickets and CSAT ratings in the app database.

SQLite by default, PostgreSQL when APP_DB_URL says so: SQLAlchemy Core, portable SQL only.
Every state change is one transaction, so a restart of any process loses nothing, and a
claim is a conditional UPDATE, so of two agents claiming at once exactly one wins.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

import sqlalchemy as sa

from bot.handoff.models import (
    ABANDONED,
    ACTIVE_STATES,
    ASSIGNED,
    RESOLVED,
    WAITING,
    Agent,
    CsatRating,
    Handoff,
    HandoffMessage,
    Ticket,
)
from bot.store.directory import create_engine

metadata = sa.MetaData()
# handoff_log kinds of the hand-back to the assistant: a failed one is retried until it is done
HANDED_BACK, HAND_BACK_FAILED = "handed_back", "hand_back_failed"

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime),
)

desk_sessions = sa.Table(
    "desk_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # SHA-256 of the token: a leaked table opens nothing
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("reason_detail", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("packet", sa.Text, nullable=False),  # JSON context packet
    sa.Column("customer_name", sa.String(200)),
    sa.Column("customer_email", sa.String(320)),
    sa.Column("customer_verified", sa.Boolean, nullable=False, default=False),
    sa.Column("frustration", sa.Float, nullable=False, default=0.0),
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),  # the insights dashboard's periods
    sa.Column("assigned_at", sa.DateTime),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("abandoned_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
)

handoff_messages = sa.Table(
    "handoff_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("author", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
    sa.Column("delivered", sa.Boolean, nullable=False, default=True),
)

# Customer messages that reached the desk through the event queue, by the event's id: a redelivered event
# (RabbitMQ delivers at least once) is recognised in the same transaction that would store it again
handoff_event_keys = sa.Table(
    "handoff_event_keys",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
)

handoff_log = sa.Table(
    "handoff_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # created | claimed | transferred | resolved | abandoned
    sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("customer_name", sa.String(200)),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("packet", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("closed_at", sa.DateTime),
)

csat_ratings = sa.Table(
    "csat_ratings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id")),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
)


class SqlHandoffStore:
    """Plain storage: no rules here, those live in `HandoffService`."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> "SqlHandoffStore":
        store = cls(create_engine(url))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        metadata.create_all(self._engine)

    # agents and sessions ---------------------------------------------------------------

    def add_agent(self, email: str, name: str, role: str, password_hash: str, now: datetime) -> Agent:
        with self._engine.begin() as conn:
            result = conn.execute(sa.insert(agents).values(
                email=email, name=name, role=role, password_hash=password_hash, active=True, created_at=now))
            agent_id = int(result.inserted_primary_key[0])
        return Agent(id=agent_id, email=email, name=name, role=role)

    def agent(self, agent_id: int) -> Optional[Agent]:
        return self._one_agent(agents.c.id == agent_id)

    def agent_by_email(self, email: str) -> Optional[Agent]:
        return self._one_agent(sa.func.lower(agents.c.email) == email.lower())

    def password_hash(self, agent_id: int) -> Optional[str]:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(agents.c.password_hash).where(agents.c.id == agent_id)).scalar()

    def set_password_hash(self, agent_id: int, password_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(agents).where(agents.c.id == agent_id).values(password_hash=password_hash))

    def list_agents(self) -> List[Agent]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(agents).order_by(agents.c.name)).all()
        return [_agent(row) for row in rows]

    def set_agent_active(self, agent_id: int, active: bool) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(agents).where(agents.c.id == agent_id).values(active=active))
            if not active:
                conn.execute(sa.delete(desk_sessions).where(desk_sessions.c.agent_id == agent_id))

    def touch_agent(self, agent_id: int, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(agents).where(agents.c.id == agent_id).values(last_seen_at=now))

    def agents_seen_since(self, since: datetime) -> List[Agent]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(agents).where(agents.c.active.is_(True), agents.c.last_seen_at >= since)).all()
        return [_agent(row) for row in rows]

    def add_session(self, token_hash: str, agent_id: int, now: datetime, expires_at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.delete(desk_sessions).where(desk_sessions.c.expires_at < now))
            conn.execute(sa.insert(desk_sessions).values(
                token_hash=token_hash, agent_id=agent_id, created_at=now, expires_at=expires_at))

    def session_agent(self, token_hash: str, now: datetime) -> Optional[Agent]:
        query = (sa.select(agents).join(desk_sessions, desk_sessions.c.agent_id == agents.c.id)
                 .where(desk_sessions.c.token_hash == token_hash, desk_sessions.c.expires_at > now, agents.c.active.is_(True)))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _agent(row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.delete(desk_sessions).where(desk_sessions.c.token_hash == token_hash))

    def _one_agent(self, condition) -> Optional[Agent]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(agents).where(condition)).first()
        return _agent(row) if row else None

    # handoffs ---------------------------------------------------------------------------

    def add_handoff(self, *, conversation_id: str, channel: str, reason: str, reason_detail: str, summary: str,
                    packet: Dict[str, Any], customer_name: Optional[str], customer_email: Optional[str],
                    customer_verified: bool, frustration: float, now: datetime) -> Handoff:
        with self._engine.begin() as conn:
            result = conn.execute(sa.insert(handoffs).values(
                conversation_id=conversation_id, channel=channel, state=WAITING, reason=reason,
                reason_detail=reason_detail, summary=summary, packet=json.dumps(packet, default=str),
                customer_name=customer_name, customer_email=customer_email, customer_verified=customer_verified,
                frustration=frustration, created_at=now, updated_at=now))
            handoff_id = int(result.inserted_primary_key[0])
            conn.execute(sa.insert(handoff_log).values(handoff_id=handoff_id, at=now, kind="created", detail=reason))
        found = self.handoff(handoff_id)
        assert found is not None
        return found

    def handoff(self, handoff_id: int) -> Optional[Handoff]:
        rows = self._handoffs(handoffs.c.id == handoff_id)
        return rows[0] if rows else None

    def active_handoff(self, conversation_id: str) -> Optional[Handoff]:
        rows = self._handoffs(sa.and_(handoffs.c.conversation_id == conversation_id, handoffs.c.state.in_(ACTIVE_STATES)))
        return rows[-1] if rows else None

    def latest_handoff(self, conversation_id: str) -> Optional[Handoff]:
        rows = self._handoffs(handoffs.c.conversation_id == conversation_id)
        return rows[-1] if rows else None

    def handoffs_in(self, states: Sequence[str], limit: int = 500) -> List[Handoff]:
        return self._handoffs(handoffs.c.state.in_(tuple(states)), limit=limit)

    def handoffs_updated_since(self, since: datetime) -> List[Handoff]:
        return self._handoffs(handoffs.c.updated_at >= since)

    def recent_handoffs(self, limit: int) -> List[Handoff]:
        return list(reversed(self._handoffs(sa.true(), limit=limit, newest_first=True)))

    def waiting_before(self, handoff: Handoff) -> int:
        """How many waiting handoffs were created before this one."""
        query = sa.select(sa.func.count()).select_from(handoffs).where(
            handoffs.c.state == WAITING, handoffs.c.id < handoff.id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def claim(self, handoff_id: int, agent_id: int, now: datetime) -> bool:
        """Assign a waiting handoff; False when it was not waiting any more (someone else won)."""
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.update(handoffs)
                .where(handoffs.c.id == handoff_id, handoffs.c.state == WAITING)
                .values(state=ASSIGNED, agent_id=agent_id, assigned_at=now, updated_at=now))
            if result.rowcount != 1:
                return False
            conn.execute(sa.insert(handoff_log).values(handoff_id=handoff_id, at=now, kind="claimed", agent_id=agent_id))
        return True

    def transfer(self, handoff_id: int, from_agent_id: int, to_agent_id: Optional[int], now: datetime, note: str) -> bool:
        """Give an assigned handoff to another agent, or back to the queue (to_agent_id None)."""
        values: Dict[str, Any] = {"agent_id": to_agent_id, "updated_at": now}
        if to_agent_id is None:
            values.update(state=WAITING, assigned_at=None)
        with self._engine.begin() as conn:
            result = conn.execute(sa.update(handoffs).where(
                handoffs.c.id == handoff_id, handoffs.c.state == ASSIGNED).values(**values))
            if result.rowcount != 1:
                return False
            conn.execute(sa.insert(handoff_log).values(
                handoff_id=handoff_id, at=now, kind="transferred", agent_id=from_agent_id,
                detail=json.dumps({"to_agent_id": to_agent_id, "note": note})))
        return True

    def finish(self, handoff_id: int, state: str, agent_id: Optional[int], now: datetime, detail: str = "") -> bool:
        """Resolve or abandon an active handoff; False when it was already finished."""
        column = {RESOLVED: "resolved_at", ABANDONED: "abandoned_at"}[state]
        with self._engine.begin() as conn:
            result = conn.execute(sa.update(handoffs).where(
                handoffs.c.id == handoff_id, handoffs.c.state.in_(ACTIVE_STATES)).values(
                    state=state, updated_at=now, **{column: now}))
            if result.rowcount != 1:
                return False
            conn.execute(sa.insert(handoff_log).values(handoff_id=handoff_id, at=now, kind=state, agent_id=agent_id,
                                                       detail=detail))
        return True

    def note_hand_back(self, handoff_id: int, now: datetime, done: bool, detail: str = "") -> None:
        """Record a hand-back to the assistant: done, or failed (then `pending_hand_backs` returns it)."""
        with self._engine.begin() as conn:
            conn.execute(sa.insert(handoff_log).values(handoff_id=handoff_id, at=now, agent_id=None, detail=detail[:500],
                                                       kind=HANDED_BACK if done else HAND_BACK_FAILED))

    def pending_hand_backs(self) -> List[Handoff]:
        """Finished handoffs whose hand-back failed and never succeeded since, unless the conversation has a
        newer handoff (it is a person's again, so the old hand-back must not resume it)."""
        log, newer = handoff_log.alias("log"), handoffs.alias("newer")
        failed = sa.exists().where(handoff_log.c.handoff_id == handoffs.c.id, handoff_log.c.kind == HAND_BACK_FAILED)
        done_since = sa.exists().where(log.c.handoff_id == handoffs.c.id, log.c.kind == HANDED_BACK,
                                       log.c.id > sa.select(sa.func.max(handoff_log.c.id)).where(
                                           handoff_log.c.handoff_id == handoffs.c.id,
                                           handoff_log.c.kind == HAND_BACK_FAILED).scalar_subquery())
        superseded = sa.exists().where(newer.c.conversation_id == handoffs.c.conversation_id, newer.c.id > handoffs.c.id)
        query = (sa.select(handoffs.c.id).where(handoffs.c.state.in_((RESOLVED, ABANDONED)), failed, ~done_since,
                                                ~superseded).order_by(handoffs.c.id))
        with self._engine.connect() as conn:
            ids = [row.id for row in conn.execute(query)]
        return [h for h in (self.handoff(i) for i in ids) if h is not None]

    def touch_handoff(self, handoff_id: int, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(handoffs).where(handoffs.c.id == handoff_id).values(updated_at=now))

    def log(self, handoff_id: int) -> List[Dict[str, Any]]:
        """The handoff's history, each entry with the acting agent's name (agent_name) for the desk."""
        query = (sa.select(handoff_log, agents.c.name.label("agent_name"))
                 .select_from(handoff_log.outerjoin(agents, agents.c.id == handoff_log.c.agent_id))
                 .where(handoff_log.c.handoff_id == handoff_id).order_by(handoff_log.c.id))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [dict(row._mapping) for row in rows]

    def _handoffs(self, condition, limit: Optional[int] = None, newest_first: bool = False) -> List[Handoff]:
        query = (sa.select(handoffs, agents.c.name.label("agent_name"))
                 .select_from(handoffs.outerjoin(agents, agents.c.id == handoffs.c.agent_id))
                 .where(condition)
                 .order_by(handoffs.c.id.desc() if newest_first else handoffs.c.id))
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [_handoff(row) for row in conn.execute(query).all()]

    # transcript lines during a handoff ----------------------------------------------

    def add_message(self, handoff_id: int, author: str, text: str, now: datetime, agent_id: Optional[int] = None,
                    delivered: bool = True, once_key: Optional[str] = None) -> Optional[HandoffMessage]:
        """Store a message; with `once_key`, only if no message with that key was stored before (else None)."""
        try:
            return self._add_message(handoff_id, author, text, now, agent_id, delivered, once_key)
        except sa.exc.IntegrityError:
            if once_key is None or not self.has_event_key(once_key):
                raise
            return None

    def has_event_key(self, key: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(handoff_event_keys.c.key).where(handoff_event_keys.c.key == key)).first() is not None

    def _add_message(self, handoff_id: int, author: str, text: str, now: datetime, agent_id: Optional[int],
                     delivered: bool, once_key: Optional[str]) -> HandoffMessage:
        with self._engine.begin() as conn:
            if once_key is not None:  # first: a duplicate fails here, before anything is written
                conn.execute(sa.insert(handoff_event_keys).values(key=once_key, at=now))
            result = conn.execute(sa.insert(handoff_messages).values(
                handoff_id=handoff_id, author=author, text=text, at=now, agent_id=agent_id, delivered=delivered))
            conn.execute(sa.update(handoffs).where(handoffs.c.id == handoff_id).values(updated_at=now))
            message_id = int(result.inserted_primary_key[0])
        found = self.messages(handoff_id, after_id=message_id - 1)
        return found[0]

    def set_delivered(self, message_id: int, delivered: bool) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(handoff_messages).where(handoff_messages.c.id == message_id).values(delivered=delivered))

    def messages(self, handoff_id: int, after_id: int = 0) -> List[HandoffMessage]:
        query = (sa.select(handoff_messages, agents.c.name.label("agent_name"))
                 .select_from(handoff_messages.outerjoin(agents, agents.c.id == handoff_messages.c.agent_id))
                 .where(handoff_messages.c.handoff_id == handoff_id, handoff_messages.c.id > after_id)
                 .order_by(handoff_messages.c.id))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [HandoffMessage(id=r.id, handoff_id=r.handoff_id, author=r.author, text=r.text, at=r.at,
                               agent_id=r.agent_id, agent_name=r.agent_name, delivered=bool(r.delivered)) for r in rows]

    def message(self, message_id: int) -> Optional[HandoffMessage]:
        with self._engine.connect() as conn:
            handoff_id = conn.execute(sa.select(handoff_messages.c.handoff_id)
                                      .where(handoff_messages.c.id == message_id)).scalar()
        if handoff_id is None:
            return None
        return self.messages(int(handoff_id), after_id=message_id - 1)[0]

    # offline tickets and CSAT ----------------------------------------------------------

    def add_ticket(self, *, conversation_id: str, channel: str, email: str, customer_name: Optional[str],
                   description: str, reason: str, packet: Dict[str, Any], now: datetime) -> Ticket:
        with self._engine.begin() as conn:
            result = conn.execute(sa.insert(tickets).values(
                conversation_id=conversation_id, channel=channel, email=email, customer_name=customer_name,
                description=description, reason=reason, packet=json.dumps(packet, default=str), state="open",
                created_at=now))
            ticket_id = int(result.inserted_primary_key[0])
        found = self.ticket(ticket_id)
        assert found is not None
        return found

    def ticket(self, ticket_id: int) -> Optional[Ticket]:
        rows = self._tickets(tickets.c.id == ticket_id)
        return rows[0] if rows else None

    def list_tickets(self, state: Optional[str] = None) -> List[Ticket]:
        return self._tickets(tickets.c.state == state if state else sa.true())

    def close_ticket(self, ticket_id: int, now: datetime) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(sa.update(tickets).where(tickets.c.id == ticket_id, tickets.c.state == "open")
                                  .values(state="closed", closed_at=now))
        return result.rowcount == 1

    def _tickets(self, condition) -> List[Ticket]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(tickets).where(condition).order_by(tickets.c.id)).all()
        return [Ticket(id=r.id, conversation_id=r.conversation_id, channel=r.channel, email=r.email,
                       description=r.description, reason=r.reason, created_at=r.created_at, state=r.state,
                       customer_name=r.customer_name, packet=json.loads(r.packet or "{}"), closed_at=r.closed_at)
                for r in rows]

    def add_csat(self, rating: CsatRating) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.insert(csat_ratings).values(
                conversation_id=rating.conversation_id, handoff_id=rating.handoff_id, rating=rating.rating, at=rating.at))

    def csat(self, since: Optional[datetime] = None) -> List[CsatRating]:
        query = sa.select(csat_ratings).order_by(csat_ratings.c.id)
        if since is not None:
            query = query.where(csat_ratings.c.at >= since)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [CsatRating(conversation_id=r.conversation_id, rating=r.rating, at=r.at, handoff_id=r.handoff_id) for r in rows]


def _agent(row) -> Agent:
    return Agent(id=row.id, email=row.email, name=row.name, role=row.role, active=bool(row.active),
                 last_seen_at=row.last_seen_at)


def _handoff(row) -> Handoff:
    return Handoff(
        id=row.id, conversation_id=row.conversation_id, channel=row.channel, state=row.state, reason=row.reason,
        reason_detail=row.reason_detail, summary=row.summary, created_at=row.created_at,
        packet=json.loads(row.packet or "{}"), customer_name=row.customer_name, customer_email=row.customer_email,
        customer_verified=bool(row.customer_verified), frustration=float(row.frustration or 0.0), agent_id=row.agent_id,
        agent_name=row.agent_name, assigned_at=row.assigned_at, resolved_at=row.resolved_at,
        abandoned_at=row.abandoned_at, updated_at=row.updated_at)
