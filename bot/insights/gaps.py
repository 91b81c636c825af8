"""Content gaps: what customers asked that the help centre could not answer, grouped by meaning.

The questions are the insight log's misses: no answer, an offer of articles instead of an answer
(low confidence), and answers the customer said did not help. They are grouped with the same
sentence embeddings the search uses (the NLU's vector of the message is kept with the record; a
question without one is embedded here, once).

Grouping is average-linkage agglomerative clustering on cosine similarity, made incremental so a
lead's page never re-clusters the whole history: new questions are clustered among themselves,
then each new group joins the existing cluster it is most similar to when the two groups'
average pairwise similarity, `sum_a . sum_b / (n_a n_b)` for unit vectors, reaches the same
threshold, or becomes a cluster of its own. A cluster stores the sum of its members' vectors and
their number, so joining costs one matrix product. The threshold (0.55) was chosen on StackFAQ's
validation paraphrases (125 help threads, 5 wordings each; B-cubed F1 0.898) and scored once on its
test paraphrases (0.933): `make bench-leads`.

A lead can dismiss a cluster as out of scope (questions that join it later stay dismissed), or fix
it: add its wordings to an article's `questions:` or start a new article from them. After a fix,
`recheck` runs the cluster's questions through the live search again and counts how many would now
be answered.
"""
from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import sqlalchemy as sa

from bot.embeddings import Embedder
from bot.errors import NotAllowed, NotFound
from bot.handoff.models import KB_NO_ANSWER, NOT_HELPFUL, Agent
from bot.handoff.store import handoffs
from bot.insights.log import CLARIFIED, RATED, UNANSWERED, knowledge_events, metadata, question_vectors, vector_bytes, vector_of
from bot.insights.sql import channel_filter, channel_of, seconds_between
from bot.privacy import mask_for_leads
from bot.store.directory import create_engine

SIMILARITY = 0.55  # average pairwise cosine at which two groups are one cluster (StackFAQ validation, see above)
BATCH = 1000  # new questions clustered together at most; more are taken in turns
HANDOFF_WINDOW_SECONDS = 30 * 60  # a help-centre handoff this soon after the miss is counted as caused by it
EXAMPLES = 5
KB_HANDOFF_REASONS = (KB_NO_ANSWER, NOT_HELPFUL)
MISS_KINDS = {UNANSWERED: "no answer", CLARIFIED: "unsure", RATED: "did not help"}

gap_clusters = sa.Table(
    "gap_clusters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("vector_sum", sa.LargeBinary, nullable=False),  # float32 sum of the members' unit vectors
    sa.Column("dismissed_at", sa.DateTime),
    sa.Column("dismissed_by", sa.String(200)),
    sa.Column("fixed_at", sa.DateTime),
    sa.Column("fixed_by", sa.String(200)),
    sa.Column("fixed_article", sa.String(128)),
)

gap_members = sa.Table(
    "gap_members",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("knowledge_events.id"), primary_key=True),
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("gap_clusters.id"), nullable=False, index=True),
)


def _is_miss(e):  # noqa: ANN001, ANN202 - knowledge_events.c → a SQL condition
    return sa.or_(e.kind.in_((UNANSWERED, CLARIFIED)), sa.and_(e.kind == RATED, e.helpful.is_(False)))


@dataclass(frozen=True)
class GapCluster:
    id: int
    questions: int  # in the period
    conversations: int
    previous: int  # in the period of the same length before it: the trend
    examples: Tuple[str, ...]  # masked, most recent first
    channels: Dict[str, int]
    kinds: Dict[str, int]  # no answer / unsure / did not help
    handed_off: int  # conversations handed to a person for the help centre soon after
    last_asked: datetime
    dismissed: bool
    fixed_at: Optional[datetime]
    fixed_article: Optional[str]
    asked_since_fix: int

    @property
    def trend(self) -> str:
        if self.questions > self.previous * 1.2 + 1:
            return "rising"
        if self.questions < self.previous * 0.8 - 1:
            return "falling"
        return "steady"


@dataclass(frozen=True)
class GapQuestion:
    event_id: int
    text: str  # masked
    kind: str
    channel: str
    at: datetime


@dataclass(frozen=True)
class Recheck:
    """The cluster's questions run through the live search again."""

    questions: int
    answered: int
    clarified: int
    unanswered: int
    by_article: Dict[str, int]  # article that would answer → how many
    index_version: str


def cluster_vectors(vectors: np.ndarray, similarity: float = SIMILARITY) -> np.ndarray:
    """Average-linkage agglomerative clustering at the given cosine similarity; one label per row."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    # scikit-learn 1.1 (Rasa's pin) calls the metric `affinity`; later releases renamed it `metric`
    model = AgglomerativeClustering(n_clusters=None, affinity="cosine", linkage="average", distance_threshold=1.0 - similarity)
    return model.fit_predict(vectors).astype(np.int64)


def merge_into(sums: np.ndarray, sizes: np.ndarray, group_sums: np.ndarray, group_sizes: np.ndarray,
               similarity: float = SIMILARITY) -> np.ndarray:
    """For each new group, the index of the existing cluster it joins (average linkage >= similarity), or -1."""
    if len(sums) == 0 or len(group_sums) == 0:
        return np.full(len(group_sums), -1, dtype=np.int64)
    linkage = (group_sums @ sums.T) / np.outer(group_sizes, sizes)
    best = linkage.argmax(axis=1)
    return np.where(linkage[np.arange(len(best)), best] >= similarity, best, -1).astype(np.int64)


class ContentGaps:
    """The clusters of missed questions in the app database, kept up to date on demand."""

    def __init__(self, engine: sa.engine.Engine, embedder: Embedder, clock: Callable[[], datetime],
                 similarity: float = SIMILARITY, lock_dir: Optional[Path] = None) -> None:
        self._engine = engine
        self.embedder = embedder
        self.clock = clock
        self.similarity = similarity
        self.lock_dir = lock_dir
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, embedder: Embedder, clock: Callable[[], datetime], **kwargs) -> "ContentGaps":
        engine = create_engine(url)
        metadata.create_all(engine)
        return cls(engine, embedder, clock, **kwargs)

    # -- keeping the clusters up to date ------------------------------------------------------

    def refresh(self) -> int:
        """Cluster the misses recorded since the last refresh; returns how many were new."""
        from bot.knowledge.publishing import exclusive

        added = 0
        with self._lock:
            guard = exclusive(self.lock_dir / ".gaps.lock") if self.lock_dir is not None else nullcontext()
            with guard:
                while True:
                    batch = self._unclustered(BATCH)
                    if not batch:
                        return added
                    self._cluster_batch(batch)
                    added += len(batch)

    def _unclustered(self, limit: int) -> List[Tuple[int, str, Optional[np.ndarray]]]:
        e, v, m = knowledge_events.c, question_vectors.c, gap_members.c
        query = (sa.select(e.id, e.question, v.vector)
                 .select_from(knowledge_events.outerjoin(question_vectors, sa.and_(v.event_id == e.id,
                                                                                   v.model == self.embedder.name)))
                 .where(_is_miss(e), ~sa.exists().where(m.event_id == e.id))
                 .order_by(e.id).limit(limit))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(row.id, row.question, vector_of(row.vector) if row.vector is not None else None) for row in rows]

    def _cluster_batch(self, batch: Sequence[Tuple[int, str, Optional[np.ndarray]]]) -> None:
        missing = [i for i, (_, _, vector) in enumerate(batch) if vector is None]
        fresh = self.embedder.embed([batch[i][1] for i in missing]) if missing else np.zeros((0, self.embedder.dimension))
        vectors = np.zeros((len(batch), self.embedder.dimension), dtype=np.float32)
        for i, (_, _, vector) in enumerate(batch):
            if vector is not None:
                vectors[i] = vector
        for i, vector in zip(missing, fresh):
            vectors[i] = vector
        labels = cluster_vectors(vectors, self.similarity)
        groups = sorted(set(labels.tolist()))
        group_sums = np.stack([vectors[labels == g].sum(axis=0) for g in groups])
        group_sizes = np.array([(labels == g).sum() for g in groups], dtype=np.float64)
        now = self.clock()
        with self._engine.begin() as conn:
            for i in missing:  # kept, so the next model load or recheck does not embed them again
                conn.execute(sa.insert(question_vectors).values(event_id=batch[i][0], model=self.embedder.name,
                                                                vector=vector_bytes(vectors[i])))
            c = gap_clusters.c
            existing = conn.execute(sa.select(c.id, c.size, c.vector_sum).where(c.model == self.embedder.name)
                                    .order_by(c.id)).all()
            ids = [row.id for row in existing]
            sums = np.stack([vector_of(row.vector_sum) for row in existing]) if existing else np.zeros((0, vectors.shape[1]))
            sizes = np.array([row.size for row in existing], dtype=np.float64)
            targets = merge_into(sums, sizes, group_sums, group_sizes, self.similarity)
            for group, target, group_sum, group_size in zip(groups, targets, group_sums, group_sizes):
                if target >= 0:
                    cluster_id = ids[target]
                    sums[target] = sums[target] + group_sum
                    sizes[target] += group_size
                    conn.execute(sa.update(gap_clusters).where(c.id == cluster_id)
                                 .values(size=int(sizes[target]), vector_sum=vector_bytes(sums[target])))
                else:
                    cluster_id = conn.execute(sa.insert(gap_clusters).values(
                        created_at=now, model=self.embedder.name, size=int(group_size),
                        vector_sum=vector_bytes(group_sum))).inserted_primary_key[0]
                    ids.append(cluster_id)
                    sums = np.vstack([sums, group_sum[None, :]])
                    sizes = np.append(sizes, group_size)
                conn.execute(sa.insert(gap_members), [{"event_id": batch[i][0], "cluster_id": cluster_id}
                                                      for i in np.flatnonzero(labels == group)])

    # -- what the lead sees ---------------------------------------------------------------------

    def clusters(self, days: int = 30, channel: Optional[str] = None, dismissed: bool = False,
                 limit: int = 50) -> List[GapCluster]:
        """The period's clusters, biggest first (by conversations, then questions); dismissed ones only if asked."""
        until = self.clock()
        since = until - timedelta(days=days)
        before = since - timedelta(days=days)
        e, m, c = knowledge_events.c, gap_members.c, gap_clusters.c
        in_period = sa.and_(e.at >= since, e.at <= until)
        counts = (
            sa.select(
                m.cluster_id,
                sa.func.sum(sa.case((in_period, 1), else_=0)).label("questions"),
                sa.func.count(sa.distinct(sa.case((in_period, e.conversation_id), else_=None))).label("conversations"),
                sa.func.sum(sa.case((e.at < since, 1), else_=0)).label("previous"),
                sa.func.max(e.at).label("last_asked"),
            )
            .select_from(gap_members.join(knowledge_events, e.id == m.event_id))
            .where(e.at >= before, e.at <= until, channel_filter(e.conversation_id, channel))
            .group_by(m.cluster_id)
            .subquery()
        )
        query = (
            sa.select(counts, c.dismissed_at, c.fixed_at, c.fixed_article)
            .select_from(counts.join(gap_clusters, c.id == counts.c.cluster_id))
            .where(counts.c.questions > 0, c.dismissed_at.is_not(None) if dismissed else c.dismissed_at.is_(None))
            .order_by(counts.c.conversations.desc(), counts.c.questions.desc(), counts.c.cluster_id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [row.cluster_id for row in rows]
            details = self._details(conn, ids, since, until, channel)
        return [GapCluster(id=row.cluster_id, questions=int(row.questions), conversations=int(row.conversations),
                           previous=int(row.previous or 0), examples=details[row.cluster_id]["examples"],
                           channels=details[row.cluster_id]["channels"], kinds=details[row.cluster_id]["kinds"],
                           handed_off=details[row.cluster_id]["handed_off"], last_asked=row.last_asked,
                           dismissed=row.dismissed_at is not None, fixed_at=row.fixed_at, fixed_article=row.fixed_article,
                           asked_since_fix=details[row.cluster_id]["since_fix"])
                for row in rows]

    def _details(self, conn, ids: Sequence[int], since: datetime, until: datetime, channel: Optional[str]) -> Dict[int, dict]:
        """Examples, channels, kinds, handoffs and questions since the fix of the listed clusters, in a few queries."""
        e, m, c, h = knowledge_events.c, gap_members.c, gap_clusters.c, handoffs.c
        found: Dict[int, dict] = {i: {"examples": [], "channels": {}, "kinds": {}, "handed_off": 0, "since_fix": 0} for i in ids}
        if not ids:
            return found
        where = sa.and_(m.cluster_id.in_(ids), e.at >= since, e.at <= until, channel_filter(e.conversation_id, channel))
        joined = gap_members.join(knowledge_events, e.id == m.event_id)
        slack = e.conversation_id.like("slack:%")
        for cluster_id, is_slack, kind, helpful, n in conn.execute(
                sa.select(m.cluster_id, slack, e.kind, e.helpful, sa.func.count()).select_from(joined).where(where)
                .group_by(m.cluster_id, slack, e.kind, e.helpful)):
            channels, kinds = found[cluster_id]["channels"], found[cluster_id]["kinds"]
            name = "slack" if is_slack else "website"
            channels[name] = channels.get(name, 0) + int(n)
            kinds[MISS_KINDS[kind]] = kinds.get(MISS_KINDS[kind], 0) + int(n)
        # the latest distinct wordings of each cluster (a window function: both engines have them)
        folded = sa.func.lower(sa.func.trim(e.question))
        latest = (sa.select(m.cluster_id, folded.label("folded"), sa.func.max(e.question).label("question"),
                            sa.func.max(e.at).label("at"))
                  .select_from(joined).where(where).group_by(m.cluster_id, folded).subquery())
        ranked = sa.select(latest, sa.func.row_number().over(partition_by=latest.c.cluster_id,
                                                             order_by=latest.c.at.desc()).label("rank")).subquery()
        for cluster_id, question in conn.execute(sa.select(ranked.c.cluster_id, ranked.c.question)
                                                 .where(ranked.c.rank <= EXAMPLES).order_by(ranked.c.cluster_id, ranked.c.rank)):
            found[cluster_id]["examples"].append(mask_for_leads(question))
        handed = sa.exists().where(h.conversation_id == e.conversation_id, h.reason.in_(KB_HANDOFF_REASONS),
                                   seconds_between(e.at, h.created_at).between(0, HANDOFF_WINDOW_SECONDS))
        for cluster_id, n in conn.execute(sa.select(m.cluster_id, sa.func.count(sa.distinct(e.conversation_id)))
                                          .select_from(joined).where(where, handed).group_by(m.cluster_id)):
            found[cluster_id]["handed_off"] = int(n)
        for cluster_id, n in conn.execute(sa.select(m.cluster_id, sa.func.count()).select_from(
                joined.join(gap_clusters, c.id == m.cluster_id)).where(m.cluster_id.in_(ids), c.fixed_at.is_not(None),
                                                                       e.at > c.fixed_at).group_by(m.cluster_id)):
            found[cluster_id]["since_fix"] = int(n)
        for value in found.values():
            value["examples"] = tuple(value["examples"])
        return found

    def questions(self, cluster_id: int, limit: int = 200) -> List[GapQuestion]:
        """Every question of a cluster (masked), newest first."""
        self._cluster_row(cluster_id)
        e, m = knowledge_events.c, gap_members.c
        query = (sa.select(e.id, e.question, e.kind, e.conversation_id, e.at)
                 .select_from(gap_members.join(knowledge_events, e.id == m.event_id))
                 .where(m.cluster_id == cluster_id).order_by(e.at.desc(), e.id.desc()).limit(limit))
        with self._engine.connect() as conn:
            return [GapQuestion(row.id, mask_for_leads(row.question), MISS_KINDS[row.kind], channel_of(row.conversation_id),
                                row.at) for row in conn.execute(query)]

    def wordings(self, cluster_id: int, limit: int = 20) -> List[str]:
        """Distinct wordings fit to become an article's `questions:`: masked, and none with a placeholder left in."""
        seen, found = set(), []
        for question in self.questions(cluster_id, limit=1000):
            text = question.text
            if "[" in text or text.lower() in seen or len(text) > 300:
                continue
            seen.add(text.lower())
            found.append(text)
            if len(found) >= limit:
                break
        return found

    def centroid(self, cluster_id: int) -> np.ndarray:
        row = self._cluster_row(cluster_id)
        vector = vector_of(row.vector_sum)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    # -- what the lead does ---------------------------------------------------------------------

    def dismiss(self, who: Agent, cluster_id: int, dismissed: bool = True) -> None:
        """Out of scope (or back in): a dismissed cluster leaves the list, with what joins it later."""
        _must_lead(who)
        self._cluster_row(cluster_id)
        values = {"dismissed_at": self.clock(), "dismissed_by": who.name} if dismissed else {"dismissed_at": None, "dismissed_by": None}
        with self._engine.begin() as conn:
            conn.execute(sa.update(gap_clusters).where(gap_clusters.c.id == cluster_id).values(**values))

    def mark_fixed(self, who: Agent, cluster_id: int, article_id: str) -> None:
        _must_lead(who)
        self._cluster_row(cluster_id)
        with self._engine.begin() as conn:
            conn.execute(sa.update(gap_clusters).where(gap_clusters.c.id == cluster_id)
                         .values(fixed_at=self.clock(), fixed_by=who.name, fixed_article=article_id))

    def recheck(self, cluster_id: int, kb) -> Recheck:  # noqa: ANN001 - a bot.knowledge.service.KnowledgeBase
        """Every question of the cluster through the live search again, with its kept vector."""
        from bot.knowledge.search import ANSWER, CLARIFY

        self._cluster_row(cluster_id)
        e, m, v = knowledge_events.c, gap_members.c, question_vectors.c
        query = (sa.select(e.question, v.vector)
                 .select_from(gap_members.join(knowledge_events, e.id == m.event_id)
                              .outerjoin(question_vectors, sa.and_(v.event_id == e.id, v.model == kb.embedder.name)))
                 .where(m.cluster_id == cluster_id))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        counts = {ANSWER: 0, CLARIFY: 0}
        by_article: Dict[str, int] = {}
        for row in rows:
            vector = vector_of(row.vector) if row.vector is not None else None
            decision = kb.decide(row.question, vector=vector)
            if decision.action in counts:
                counts[decision.action] += 1
            if decision.action == ANSWER:
                by_article[decision.hits[0].article_id] = by_article.get(decision.hits[0].article_id, 0) + 1
        return Recheck(questions=len(rows), answered=counts[ANSWER], clarified=counts[CLARIFY],
                       unanswered=len(rows) - counts[ANSWER] - counts[CLARIFY], by_article=by_article, index_version=kb.version)

    def _cluster_row(self, cluster_id: int):  # noqa: ANN202 - a Row
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(gap_clusters).where(gap_clusters.c.id == cluster_id)).first()
        if row is None:
            raise NotFound(f"no content-gap cluster {cluster_id}")
        return row


def _must_lead(who: Agent) -> None:
    if not who.is_lead:
        raise NotAllowed("only leads can change content gaps; agents can read them")
