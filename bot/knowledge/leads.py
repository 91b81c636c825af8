"""What the support leads' knowledge pages do, in one place: the workspace, the content gaps and the
per-article quality, and the steps that span them (a gap's wordings become an article's questions,
then the gap is checked again against the live search).

The web app's routes call only this; each method is one thing a lead does on a page.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from bot.errors import NotAllowed, NotFound
from bot.handoff.models import Agent
from bot.insights.gaps import ContentGaps, GapCluster, GapQuestion, Recheck
from bot.insights.quality import ArticleQuality, ArticleQualityReport
from bot.knowledge.articles import MAX_QUESTIONS
from bot.knowledge.editing import ArticleFields, add_questions
from bot.knowledge.errors import ArticleRefused
from bot.knowledge.service import KnowledgeBase, search_report
from bot.knowledge.workspace import ArticleSummary, KnowledgeWorkspace, SaveResult

logger = logging.getLogger(__name__)

ATTENTION_DAYS = 30  # the period whose quality flags put an article under "needs attention"


@dataclass(frozen=True)
class ListedArticle:
    summary: ArticleSummary
    attention: Tuple[str, ...]  # why it needs attention: lint findings, low helpfulness; empty when fine


@dataclass(frozen=True)
class Suggestion:
    article_id: str
    title: str
    score: float


@dataclass(frozen=True)
class GapDetail:
    cluster: Optional[GapCluster]  # None when the cluster has no question in the period asked for
    questions: List[GapQuestion]
    wordings: List[str]  # fit to become `questions:` (masked, no placeholders)
    suggestions: List[Suggestion]  # the articles closest to the cluster


@dataclass(frozen=True)
class GapFix:
    saved: SaveResult
    recheck: Optional[Recheck]


class LeadsKnowledge:
    def __init__(self, workspace: KnowledgeWorkspace, gaps: ContentGaps, quality: ArticleQualityReport,
                 knowledge: Callable[[], KnowledgeBase], clock: Callable[[], datetime]) -> None:
        self.workspace = workspace
        self.gaps = gaps
        self.quality = quality
        self.knowledge = knowledge  # the live index (opened lazily: the model loads on first use)
        self.clock = clock

    def warm_up(self) -> None:
        """Load the embedding model, the sentence splitter and the live index ahead of the first request."""
        from bot.knowledge.passages import sentences

        try:
            sentences("Warm up. The splitter loads once.")
            self.gaps.embedder.embed(["warm up"])
            self.knowledge()
        except Exception as error:  # noqa: BLE001 - a failed warm-up only means the first request is slower
            logger.warning("knowledge warm-up incomplete: %s", error)

    # -- articles ---------------------------------------------------------------------------------

    def articles(self, query: str = "", category: Optional[str] = None, status: Optional[str] = None,
                 tag: Optional[str] = None, attention: bool = False) -> List[ListedArticle]:
        flags = {q.article_id: q.why for q in self.quality.articles(days=ATTENTION_DAYS) if q.flagged}
        words = query.lower().split()
        found = []
        for row in self.workspace.list():
            why = []
            if not row.readable:
                why.append("the file cannot be read")
            elif row.errors:
                why.append(f"{row.errors} lint error(s)")
            if row.warnings:
                why.append(f"{row.warnings} lint warning(s)")
            if row.id in flags:
                why.append(f"rarely helps: {flags[row.id]}")
            haystack = " ".join((row.id, row.title, row.category, *row.tags)).lower()
            if (words and not all(w in haystack for w in words)) or (category and row.category != category) \
                    or (status and row.status != status) or (tag and tag not in row.tags) or (attention and not why):
                continue
            found.append(ListedArticle(row, tuple(why)))
        return found

    def try_question(self, question: str, k: int = 5) -> Dict[str, object]:
        """What the assistant would do with a customer's question, as `bot kb search --json` shows it."""
        return search_report(self.knowledge(), question, k=k)

    # -- content gaps -----------------------------------------------------------------------------

    def gap_clusters(self, days: int, channel: Optional[str], dismissed: bool) -> List[GapCluster]:
        self.gaps.refresh()
        return self.gaps.clusters(days=days, channel=channel, dismissed=dismissed)

    def gap(self, cluster_id: int, days: int = 365) -> GapDetail:
        self.gaps.refresh()
        questions = self.gaps.questions(cluster_id)
        wordings = self.gaps.wordings(cluster_id)
        listed = [c for c in self.gaps.clusters(days=days, dismissed=False) + self.gaps.clusters(days=days, dismissed=True)
                  if c.id == cluster_id]
        kb = self.knowledge()
        probe = wordings[0] if wordings else (questions[0].text if questions else "")
        hits = kb.search(probe, k=3, vector=self.gaps.centroid(cluster_id)) if probe else []
        return GapDetail(cluster=listed[0] if listed else None, questions=questions, wordings=wordings,
                         suggestions=[Suggestion(h.article_id, h.title, round(h.score, 3)) for h in hits])

    def add_gap_questions(self, who: Agent, cluster_id: int, article_id: str, questions: Sequence[str], etag: str) -> GapFix:
        """The chosen wordings become the article's `questions:` (published: live at once), then the gap is re-run."""
        _must_lead(who)
        self.gaps.centroid(cluster_id)  # NotFound before anything is written
        opened = self.workspace.get(article_id)
        if opened.fields is None:
            raise ArticleRefused(f"'{article_id}' cannot be read as an article; fix the file first", opened.problems)
        updated = add_questions(opened.fields, questions)
        if len(updated.questions) > MAX_QUESTIONS:
            raise ArticleRefused(f"'{article_id}' would have {len(updated.questions)} questions; an article takes at most "
                                 f"{MAX_QUESTIONS}: choose fewer, or start a new article for this gap")
        if updated.questions == opened.fields.questions:
            raise ArticleRefused("the article has all of these questions already")
        saved = self.workspace.save(who, article_id, updated, etag)
        self.gaps.mark_fixed(who, cluster_id, article_id)
        return GapFix(saved=saved, recheck=self.gaps.recheck(cluster_id, self.knowledge()))

    def create_article(self, who: Agent, fields: ArticleFields, gap_id: Optional[int] = None) -> GapFix:
        """A new article; started from a gap, the gap is marked as fixed by it and re-run."""
        if gap_id is not None:
            self.gaps.centroid(gap_id)  # NotFound before anything is written
        saved = self.workspace.create(who, fields)
        if gap_id is None:
            return GapFix(saved=saved, recheck=None)
        self.gaps.mark_fixed(who, gap_id, fields.id)
        return GapFix(saved=saved, recheck=self.gaps.recheck(gap_id, self.knowledge()))

    def recheck(self, cluster_id: int) -> Recheck:
        return self.gaps.recheck(cluster_id, self.knowledge())

    def dismiss(self, who: Agent, cluster_id: int, dismissed: bool) -> None:
        self.gaps.dismiss(who, cluster_id, dismissed)

    def draft_from_gap(self, cluster_id: int) -> ArticleFields:
        """The fields of a new article pre-filled from a gap (not saved: the lead writes the answer first)."""
        wordings = self.gaps.wordings(cluster_id, limit=MAX_QUESTIONS)
        if not wordings:
            raise NotFound(f"content-gap cluster {cluster_id} has no wording fit to become a question")
        title = wordings[0][:1].upper() + wordings[0][1:]
        return ArticleFields(id="", title=title.rstrip("?"), category="", tags=(), status="draft", url="", body="",
                             questions=tuple(wordings))

    # -- per-article quality ------------------------------------------------------------------------

    def article_quality(self, days: int, channel: Optional[str]) -> List[Tuple[ArticleQuality, Optional[ArticleSummary]]]:
        rows = {row.id: row for row in self.workspace.list()}
        return [(q, rows.get(q.article_id)) for q in self.quality.articles(days=days, channel=channel)]


def _must_lead(who: Agent) -> None:
    if not who.is_lead:
        raise NotAllowed("only leads can change help articles; agents can read them")
