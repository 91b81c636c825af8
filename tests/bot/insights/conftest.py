"""An app database (SQLite, and PostgreSQL when a server answers) with the insight log and the handoffs."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Dict, List, Sequence

import numpy as np
import pytest

from bot.handoff.store import SqlHandoffStore
from bot.insights.log import KnowledgeEvent, SqlInsightLog
from tests.databases import fresh_postgres, sqlite_url

NOW = datetime(2026, 12, 5, 12, 0)

# what each made-up question is about: the word that names its topic
TOPICS = ("gift", "warranty", "sunday", "crypto", "trade")


class TopicEmbedder:
    """Questions about the same topic (the topic word is in them) get nearby vectors, others near-orthogonal ones.

    Deterministic like the knowledge tests' fake embedder, but with meaning enough to cluster.
    """

    name = "topic-fake"
    dimension = 64

    def __init__(self) -> None:
        self.embedded: List[str] = []

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        noise = np.random.default_rng(seed).standard_normal(self.dimension) * 0.05
        base = np.zeros(self.dimension)
        for index, topic in enumerate(TOPICS):
            if topic in text.lower():
                base[index] = 1.0
        if not base.any():  # no topic: a direction of its own
            base = np.random.default_rng(seed + 1).standard_normal(self.dimension)
        vector = base / np.linalg.norm(base) + noise
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts])


class AppDb:
    def __init__(self, url: str) -> None:
        self.url = url
        self.handoffs = SqlHandoffStore.from_url(url)
        self.log = SqlInsightLog.from_url(url)

    def miss(self, kind: str, question: str, conversation: str = "c1", minutes: float = 0, helpful=None, article=None,
             vector=None, model: str = "") -> None:
        self.log.record(KnowledgeEvent(conversation, kind, question, NOW - timedelta(minutes=minutes), article, 0.3, helpful),
                        vector=vector, model=model)

    def handoff(self, conversation: str, reason: str, minutes: float = 0) -> None:
        self.handoffs.add_handoff(conversation_id=conversation, channel="socketio", reason=reason, reason_detail="",
                                  summary="", packet={}, customer_name=None, customer_email=None, customer_verified=False,
                                  frustration=0.0, now=NOW - timedelta(minutes=minutes))


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db(request, tmp_path):
    if request.param == "sqlite":
        yield AppDb(sqlite_url(tmp_path))
        return
    url, drop = fresh_postgres()  # skips with the reason when no server answers
    db = AppDb(url)
    yield db
    db.handoffs._engine.dispose()
    db.log._engine.dispose()
    drop()


@pytest.fixture
def embedder() -> TopicEmbedder:
    return TopicEmbedder()


def by_topic(clusters) -> Dict[str, object]:  # noqa: ANN001
    """Clusters keyed by the topic word their examples share."""
    found = {}
    for cluster in clusters:
        words = [t for t in TOPICS if all(t in e.lower() for e in cluster.examples)]
        found[words[0] if words else f"other-{cluster.id}"] = cluster
    return found
