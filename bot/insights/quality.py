"""How well each help article does with customers over a period, computed in SQL.

- **shown**: answers given from the article;
- **helpful / not helpful**: the customers' "Did this help?";
- **handoffs after**: answers followed by a handoff to a person in the same conversation before the
  next help-centre answer and within `HANDOFF_AFTER_SECONDS` (the answer did not settle it);
- **flagged**: shown often but rarely helps (`QualityRules`): the articles a lead should read first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, List, Optional

import sqlalchemy as sa

from bot.handoff.store import handoffs
from bot.insights.log import ANSWERED, RATED, knowledge_events
from bot.insights.sql import channel_filter, seconds_between
from bot.store.directory import create_engine

HANDOFF_AFTER_SECONDS = 10 * 60


@dataclass(frozen=True)
class QualityRules:
    """When an article is flagged: shown at least `min_shown` times, and either rated at least `min_rated`
    times with a helpful share below `max_helpful_share`, or followed by a handoff in at least
    `max_handoff_share` of its answers."""

    min_shown: int = 10
    min_rated: int = 5
    max_helpful_share: float = 0.5
    max_handoff_share: float = 0.3


@dataclass(frozen=True)
class ArticleQuality:
    article_id: str
    shown: int
    helpful: int
    not_helpful: int
    handoffs_after: int
    flagged: bool
    why: str  # what flagged it ("" when not flagged)

    @property
    def rated(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_share(self) -> Optional[float]:
        return self.helpful / self.rated if self.rated else None

    @property
    def handoff_share(self) -> Optional[float]:
        return self.handoffs_after / self.shown if self.shown else None


class ArticleQualityReport:
    def __init__(self, engine: sa.engine.Engine, clock: Callable[[], datetime], rules: QualityRules = QualityRules()) -> None:
        self._engine = engine
        self.clock = clock
        self.rules = rules

    @classmethod
    def from_url(cls, url: str, clock: Callable[[], datetime], rules: QualityRules = QualityRules()) -> "ArticleQualityReport":
        return cls(create_engine(url), clock, rules)

    def articles(self, days: int = 30, channel: Optional[str] = None) -> List[ArticleQuality]:
        """Every article shown or rated in the period, most shown first."""
        until = self.clock()
        since = until - timedelta(days=days)
        e = knowledge_events.c
        later = knowledge_events.alias("later")
        h = handoffs.c
        # a handoff in the conversation after this answer, soon, and before the next answer
        followed = sa.exists().where(
            h.conversation_id == e.conversation_id,
            seconds_between(e.at, h.created_at).between(0, HANDOFF_AFTER_SECONDS),
            # two levels down: correlated by hand (SQLAlchemy correlates only with the enclosing query)
            ~sa.select(later.c.id).where(later.c.conversation_id == e.conversation_id, later.c.kind == ANSWERED,
                                         later.c.id != e.id, later.c.at >= e.at, later.c.at < h.created_at)
            .correlate(knowledge_events, handoffs).exists(),
        )
        answered = e.kind == ANSWERED
        query = (
            sa.select(
                e.article_id,
                sa.func.sum(sa.case((answered, 1), else_=0)).label("shown"),
                sa.func.sum(sa.case((sa.and_(e.kind == RATED, e.helpful.is_(True)), 1), else_=0)).label("helpful"),
                sa.func.sum(sa.case((sa.and_(e.kind == RATED, e.helpful.is_(False)), 1), else_=0)).label("not_helpful"),
                sa.func.sum(sa.case((sa.and_(answered, followed), 1), else_=0)).label("handoffs_after"),
            )
            .where(e.article_id.is_not(None), e.kind.in_((ANSWERED, RATED)), e.at >= since, e.at <= until,
                   channel_filter(e.conversation_id, channel))
            .group_by(e.article_id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        found = [self._judged(row.article_id, int(row.shown or 0), int(row.helpful or 0), int(row.not_helpful or 0),
                              int(row.handoffs_after or 0)) for row in rows]
        return sorted(found, key=lambda q: (-q.shown, q.article_id))

    def _judged(self, article_id: str, shown: int, helpful: int, not_helpful: int, handoffs_after: int) -> ArticleQuality:
        rules, why = self.rules, []
        rated = helpful + not_helpful
        if shown >= rules.min_shown:
            if rated >= rules.min_rated and helpful / rated < rules.max_helpful_share:
                why.append(f"{helpful} of {rated} ratings helpful")
            if handoffs_after / shown >= rules.max_handoff_share:
                why.append(f"{handoffs_after} of {shown} answers followed by a handoff")
        return ArticleQuality(article_id, shown, helpful, not_helpful, handoffs_after, bool(why), "; ".join(why))
