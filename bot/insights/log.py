"""A record of every knowledge-base answer, rating and unanswered question, per conversation.

The leads' reports (`bot kb stats`, later the console) read it: which questions went
unanswered, which articles help, which do not.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Protocol, Tuple

import numpy as np
import sqlalchemy as sa

from bot.store.directory import create_engine

ANSWERED, CLARIFIED, UNANSWERED, RATED = "answered", "clarified", "unanswered", "rated"


@dataclass(frozen=True)
class KnowledgeEvent:
    conversation_id: str
    kind: str  # answered | clarified | unanswered | rated
    question: str
    at: datetime
    article_id: Optional[str] = None
    score: Optional[float] = None
    helpful: Optional[bool] = None


@dataclass(frozen=True)
class ArticleStats:
    article_id: str
    answers: int
    helpful: int
    not_helpful: int


class InsightLog(Protocol):
    def record(self, event: KnowledgeEvent, vector: Optional[np.ndarray] = None, model: str = "") -> None:
        """`vector`: the question's sentence embedding when the caller has it (the NLU made one), so the
        leads' content gaps can group questions by meaning without embedding them again."""

    def events(self, conversation_id: Optional[str] = None) -> List[KnowledgeEvent]: ...

    def article_stats(self) -> List[ArticleStats]: ...

    def unanswered(self, limit: int = 50) -> List[Tuple[str, int]]: ...


metadata = sa.MetaData()

knowledge_events = sa.Table(
    "knowledge_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False, index=True),  # the insights dashboard's periods
    sa.Column("article_id", sa.String(128), index=True),
    sa.Column("score", sa.Float),
    sa.Column("helpful", sa.Boolean),
)

# the embedding of an event's question, by the model named (a model change makes old ones unusable, not wrong)
question_vectors = sa.Table(
    "question_vectors",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("knowledge_events.id"), primary_key=True),
    sa.Column("model", sa.String(64), primary_key=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
)


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_of(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


class SqlInsightLog:
    """The insight log in the app database (SQLite by default, PostgreSQL when configured)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> "SqlInsightLog":
        log = cls(create_engine(url))
        metadata.create_all(log._engine)
        return log

    def record(self, event: KnowledgeEvent, vector: Optional[np.ndarray] = None, model: str = "") -> None:
        with self._engine.begin() as conn:
            event_id = conn.execute(sa.insert(knowledge_events).values(**event.__dict__)).inserted_primary_key[0]
            if vector is not None and model:
                conn.execute(sa.insert(question_vectors).values(event_id=event_id, model=model, vector=vector_bytes(vector)))

    def events(self, conversation_id: Optional[str] = None) -> List[KnowledgeEvent]:
        query = sa.select(knowledge_events).order_by(knowledge_events.c.id)
        if conversation_id is not None:
            query = query.where(knowledge_events.c.conversation_id == conversation_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [KnowledgeEvent(**{k: v for k, v in row._asdict().items() if k != "id"}) for row in rows]

    def article_stats(self) -> List[ArticleStats]:
        e = knowledge_events.c
        query = (
            sa.select(
                e.article_id,
                sa.func.sum(sa.case((e.kind == ANSWERED, 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(e.kind == RATED, e.helpful.is_(True)), 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(e.kind == RATED, e.helpful.is_(False)), 1), else_=0)),
            )
            .where(e.article_id.is_not(None))
            .group_by(e.article_id)
            .order_by(e.article_id)
        )
        with self._engine.connect() as conn:
            return [ArticleStats(a, int(n or 0), int(h or 0), int(nh or 0)) for a, n, h, nh in conn.execute(query)]

    def unanswered(self, limit: int = 50) -> List[Tuple[str, int]]:
        """The most frequent unanswered questions (case- and space-folded), most frequent first."""
        e = knowledge_events.c
        folded = sa.func.lower(sa.func.trim(e.question))
        query = (
            sa.select(folded, sa.func.count())
            .where(e.kind == UNANSWERED)
            .group_by(folded)
            .order_by(sa.func.count().desc(), folded)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [(q, int(n)) for q, n in conn.execute(query)]


def summary(stats: List[ArticleStats]) -> Dict[str, float]:
    rated = sum(s.helpful + s.not_helpful for s in stats)
    return {
        "answers": float(sum(s.answers for s in stats)),
        "rated": float(rated),
        "helpful_share": (sum(s.helpful for s in stats) / rated) if rated else 0.0,
    }
