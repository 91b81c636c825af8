"""The JSON shapes of the leads' knowledge API (pydantic v1) and the conversions from the services' records."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, Field, conint, constr

from bot.insights.gaps import GapCluster, GapQuestion, Recheck
from bot.insights.quality import ArticleQuality
from bot.knowledge.articles import MAX_QUESTION_CHARS, MAX_QUESTIONS, Problem
from bot.knowledge.editing import ArticleFields, body_line
from bot.knowledge.leads import GapDetail, ListedArticle
from bot.knowledge.revisions import Revision
from bot.knowledge.workspace import ArticleSummary, ArticleView, LiveStatus, PreviewCard, SaveResult
from bot.web.schemas import ProblemLine, RowId, Strict, utc

# The request limit is 64 KB (bot/web/app.py); the longest help article is about 2 kB.
MAX_BODY_CHARS = 60_000
Etag = constr(min_length=1, max_length=64)


# requests ---------------------------------------------------------------------------------

class ArticleIn(Strict):
    id: constr(max_length=120) = Field(..., description="the file name without .md: lowercase letters, digits, single hyphens")  # type: ignore[valid-type]
    title: constr(max_length=300)  # type: ignore[valid-type]
    category: constr(max_length=80)  # type: ignore[valid-type]
    tags: List[constr(max_length=80)] = Field(default_factory=list, max_items=30)  # type: ignore[valid-type]
    status: Literal["published", "draft"] = "draft"
    url: constr(max_length=2048)  # type: ignore[valid-type]
    body: constr(max_length=MAX_BODY_CHARS) = Field(..., description="Markdown")  # type: ignore[valid-type]
    questions: List[constr(max_length=MAX_QUESTION_CHARS)] = Field(  # type: ignore[valid-type]
        default_factory=list, max_items=MAX_QUESTIONS, description="how customers ask for it, in their words (searched, never shown)")

    def fields(self) -> ArticleFields:
        return ArticleFields.from_mapping(self.dict())


class CreateArticleRequest(Strict):
    article: ArticleIn
    gap_id: Optional[RowId] = Field(None, description="the content-gap cluster this article answers (marked as fixed by it)")


class SaveArticleRequest(Strict):
    article: ArticleIn
    etag: Etag = Field(..., description="the version the lead opened (GET's etag); 409 if the file changed since")  # type: ignore[valid-type]


class EtagRequest(Strict):
    etag: Etag  # type: ignore[valid-type]


class RevertRequest(Strict):
    revision_id: RowId
    etag: Optional[Etag] = Field(None, description="the version on screen; null to bring back a deleted article")  # type: ignore[valid-type]


class CheckRequest(Strict):
    article: ArticleIn
    article_id: Optional[constr(max_length=120)] = Field(None, description="the article being edited (null: a new one)")  # type: ignore[valid-type]


class PreviewRequest(Strict):
    article: ArticleIn


class TryRequest(Strict):
    question: constr(min_length=1, max_length=2000)  # type: ignore[valid-type]
    k: conint(ge=1, le=20) = 5  # type: ignore[valid-type]


class DismissRequest(Strict):
    dismissed: bool = True


class AddQuestionsRequest(Strict):
    article_id: constr(max_length=120)  # type: ignore[valid-type]
    questions: List[constr(min_length=1, max_length=MAX_QUESTION_CHARS)] = Field(..., min_items=1, max_items=MAX_QUESTIONS)  # type: ignore[valid-type]
    etag: Etag  # type: ignore[valid-type]


# responses ---------------------------------------------------------------------------------

ProblemOut = ProblemLine  # one shape for findings, in errors and in answers


class ArticleOut(BaseModel):
    id: str
    title: str
    category: str
    tags: List[str]
    status: str
    url: str
    body: str
    questions: List[str]


class ArticleViewOut(BaseModel):
    id: str
    path: str
    etag: str
    text: str
    body_line: int = Field(..., description="the file line the body starts on (findings carry file lines)")
    article: Optional[ArticleOut] = Field(None, description="null when the file cannot be read as an article (see problems)")
    problems: List[ProblemOut]


class ArticleRow(BaseModel):
    id: str
    title: str
    category: str
    tags: List[str]
    status: str
    updated: Optional[date]
    path: str
    errors: int
    warnings: int
    readable: bool
    last_editor: Optional[str]
    last_edited_at: Optional[datetime]
    attention: List[str] = Field(..., description="why it needs attention (lint findings, rarely helps); empty when fine")


class ArticleList(BaseModel):
    articles: List[ArticleRow]
    categories: List[str]
    tags: List[str]


class RevisionOut(BaseModel):
    id: int
    article_id: str
    at: datetime
    editor: str
    action: str
    status: Optional[str]
    detail: str


class RevisionList(BaseModel):
    revisions: List[RevisionOut]


class RevisionDetail(BaseModel):
    revision: RevisionOut
    text: Optional[str]
    diff: str = Field(..., description="unified diff against the revision before it")


class PublicationOut(BaseModel):
    index_version: Optional[str]
    rebuilt: bool
    seconds: float


class RecheckOut(BaseModel):
    questions: int
    answered: int
    clarified: int
    unanswered: int
    by_article: Dict[str, int]
    index_version: str


class SaveOut(BaseModel):
    article: Optional[ArticleViewOut]
    revision: RevisionOut
    problems: List[ProblemOut]
    publication: Optional[PublicationOut] = Field(None, description="set when the change rebuilt what customers are answered from")
    recheck: Optional[RecheckOut] = Field(None, description="a content gap's questions run again after this change")


class ProblemsOut(BaseModel):
    problems: List[ProblemOut]
    body_line: int = Field(..., description="the file line the body would start on (findings carry file lines)")


class LiveOut(BaseModel):
    index_version: Optional[str] = Field(None, description="the newest index build")
    serving_version: Optional[str] = Field(None, description="what the running assistant answers from (null: it did not say)")
    live: bool


class PreviewCardOut(BaseModel):
    section: str
    text: str
    custom: Dict[str, Any]


class PreviewOut(BaseModel):
    cards: List[PreviewCardOut]


class TryDecision(BaseModel):
    action: str
    reason: str
    articles: List[str]


class TryHit(BaseModel):
    article_id: str
    title: str
    url: str
    score: float
    dense: float
    lexical: float
    section: str
    passage: str


class TryOut(BaseModel):
    question: str
    index_version: str
    decision: TryDecision
    hits: List[TryHit]


class GapOut(BaseModel):
    id: int
    questions: int
    conversations: int
    previous: int = Field(..., description="questions in the period of the same length before")
    trend: str
    examples: List[str] = Field(..., description="latest wordings, personal details masked")
    channels: Dict[str, int]
    kinds: Dict[str, int]
    handed_off: int
    last_asked: datetime
    dismissed: bool
    fixed_at: Optional[datetime]
    fixed_article: Optional[str]
    asked_since_fix: int


class GapList(BaseModel):
    clusters: List[GapOut]


class GapQuestionOut(BaseModel):
    event_id: int
    text: str
    kind: str
    channel: str
    at: datetime


class SuggestionOut(BaseModel):
    article_id: str
    title: str
    score: float


class GapDetailOut(BaseModel):
    cluster: Optional[GapOut]
    questions: List[GapQuestionOut]
    wordings: List[str]
    suggestions: List[SuggestionOut]


class DraftOut(BaseModel):
    article: ArticleOut


class QualityRow(BaseModel):
    article_id: str
    title: Optional[str]
    status: Optional[str]
    shown: int
    helpful: int
    not_helpful: int
    helpful_share: Optional[float]
    handoffs_after: int
    handoff_share: Optional[float]
    flagged: bool
    why: str


class QualityOut(BaseModel):
    days: int
    articles: List[QualityRow]


# conversions -------------------------------------------------------------------------------

def problem_out(problem: Problem) -> ProblemOut:
    return ProblemOut(line=problem.line, message=problem.message, severity=problem.severity)


def article_out(fields: ArticleFields) -> ArticleOut:
    return ArticleOut(id=fields.id, title=fields.title, category=fields.category, tags=list(fields.tags), status=fields.status,
                      url=fields.url, body=fields.body, questions=list(fields.questions))


def view_out(view: ArticleView) -> ArticleViewOut:
    return ArticleViewOut(id=view.id, path=view.path, etag=view.etag, text=view.text, body_line=body_line(view.text),
                          article=article_out(view.fields) if view.fields else None, problems=[problem_out(p) for p in view.problems])


def row_out(listed: ListedArticle) -> ArticleRow:
    row: ArticleSummary = listed.summary
    return ArticleRow(id=row.id, title=row.title, category=row.category, tags=list(row.tags), status=row.status, updated=row.updated,
                      path=row.path, errors=row.errors, warnings=row.warnings, readable=row.readable, last_editor=row.last_editor,
                      last_edited_at=utc(row.last_edited_at), attention=list(listed.attention))


def revision_out(revision: Revision) -> RevisionOut:
    return RevisionOut(id=revision.id, article_id=revision.article_id, at=utc(revision.at), editor=revision.editor,
                       action=revision.action, status=revision.status, detail=revision.detail)


def recheck_out(recheck: Optional[Recheck]) -> Optional[RecheckOut]:
    if recheck is None:
        return None
    return RecheckOut(questions=recheck.questions, answered=recheck.answered, clarified=recheck.clarified,
                      unanswered=recheck.unanswered, by_article=recheck.by_article, index_version=recheck.index_version)


def save_out(result: SaveResult, recheck: Optional[Recheck] = None) -> SaveOut:
    publication = result.publication
    return SaveOut(article=view_out(result.article) if result.article else None, revision=revision_out(result.revision),
                   problems=[problem_out(p) for p in result.problems],
                   publication=PublicationOut(index_version=publication.index_version, rebuilt=publication.rebuilt,
                                              seconds=round(publication.seconds, 3)) if publication else None,
                   recheck=recheck_out(recheck))


def live_out(status: LiveStatus) -> LiveOut:
    return LiveOut(index_version=status.index_version, serving_version=status.serving_version, live=status.live)


def preview_out(cards: List[PreviewCard]) -> PreviewOut:
    return PreviewOut(cards=[PreviewCardOut(section=c.section, text=c.text, custom=c.custom) for c in cards])


def gap_out(cluster: GapCluster) -> GapOut:
    return GapOut(id=cluster.id, questions=cluster.questions, conversations=cluster.conversations, previous=cluster.previous,
                  trend=cluster.trend, examples=list(cluster.examples), channels=cluster.channels, kinds=cluster.kinds,
                  handed_off=cluster.handed_off, last_asked=utc(cluster.last_asked), dismissed=cluster.dismissed,
                  fixed_at=utc(cluster.fixed_at), fixed_article=cluster.fixed_article, asked_since_fix=cluster.asked_since_fix)


def gap_question_out(question: GapQuestion) -> GapQuestionOut:
    return GapQuestionOut(event_id=question.event_id, text=question.text, kind=question.kind, channel=question.channel,
                          at=utc(question.at))


def gap_detail_out(detail: GapDetail) -> GapDetailOut:
    return GapDetailOut(cluster=gap_out(detail.cluster) if detail.cluster else None,
                        questions=[gap_question_out(q) for q in detail.questions], wordings=detail.wordings,
                        suggestions=[SuggestionOut(article_id=s.article_id, title=s.title, score=s.score) for s in detail.suggestions])


def quality_row(quality: ArticleQuality, row: Optional[ArticleSummary]) -> QualityRow:
    share = quality.helpful_share
    handoff_share = quality.handoff_share
    return QualityRow(article_id=quality.article_id, title=row.title if row else None, status=row.status if row else None,
                      shown=quality.shown, helpful=quality.helpful, not_helpful=quality.not_helpful,
                      helpful_share=round(share, 3) if share is not None else None, handoffs_after=quality.handoffs_after,
                      handoff_share=round(handoff_share, 3) if handoff_share is not None else None, flagged=quality.flagged,
                      why=quality.why)
