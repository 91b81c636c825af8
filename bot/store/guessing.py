"""Failed order verifications counted across conversations, so ownership cannot be guessed.

A conversation stops after three wrong answers, but a new conversation costs nothing: with a known
email, order numbers near one's own could be tried one conversation at a time until one matched
(found by the reliability battery). So failures are counted per email and per order number over a
window, in the app database (every action server sees the same counts), and past the limit that
email or order number cannot be verified by email at all until the window has passed, right or
wrong. The keys are SHA-256 digests: the table holds no email address or order number.
"""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Dict, List, Protocol, Tuple

import sqlalchemy as sa

from bot.store.directory import create_engine

LIMIT = 5  # wrong emails for one order, or wrong orders for one email
WINDOW = timedelta(hours=1)

metadata = sa.MetaData()
verification_failures = sa.Table(
    "verification_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
)


def keys(email: str, order_number: str) -> Tuple[str, str]:
    """The digests an attempt is counted under: its email, and its order number."""
    return (hashlib.sha256(f"email:{email.strip().lower()}".encode()).hexdigest(),
            hashlib.sha256(f"order:{order_number}".encode()).hexdigest())


class GuessingLimiter(Protocol):
    def blocked(self, email: str, order_number: str, now: datetime) -> bool: ...

    def failed(self, email: str, order_number: str, now: datetime) -> None: ...


class SqlGuessingLimiter:
    def __init__(self, engine: sa.engine.Engine, limit: int = LIMIT, window: timedelta = WINDOW) -> None:
        self._engine, self.limit, self.window = engine, limit, window
        metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "SqlGuessingLimiter":
        return cls(create_engine(url), **kwargs)

    def blocked(self, email: str, order_number: str, now: datetime) -> bool:
        query = (sa.select(verification_failures.c.key, sa.func.count())
                 .where(verification_failures.c.key.in_(keys(email, order_number)),
                        verification_failures.c.at > now - self.window)
                 .group_by(verification_failures.c.key))
        with self._engine.connect() as conn:
            return any(count >= self.limit for _key, count in conn.execute(query))

    def failed(self, email: str, order_number: str, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(verification_failures.insert(), [{"key": key, "at": now} for key in keys(email, order_number)])
            conn.execute(verification_failures.delete().where(verification_failures.c.at <= now - self.window))


class MemoryGuessingLimiter:
    """The same rule in one process's memory (tests, and the fake store)."""

    def __init__(self, limit: int = LIMIT, window: timedelta = WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: Dict[str, List[datetime]] = {}
        self._lock = threading.Lock()

    def blocked(self, email: str, order_number: str, now: datetime) -> bool:
        with self._lock:
            return any(len([t for t in self._failures.get(k, []) if t > now - self.window]) >= self.limit
                       for k in keys(email, order_number))

    def failed(self, email: str, order_number: str, now: datetime) -> None:
        with self._lock:
            for key in keys(email, order_number):
                self._failures.setdefault(key, []).append(now)


