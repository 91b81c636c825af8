"""The JSON shapes of the desk API (pydantic v1, as Rasa pins it) and the conversions from the service's records.

Times leave the server as ISO 8601 with an explicit UTC offset: the database keeps naive UTC, and a
browser would read a naive time as its own local time.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from fastapi import Path
from pydantic import BaseModel, Field, conint, constr
from typing_extensions import Annotated

from bot.handoff.models import REASON_LABELS, WAITING, Agent, Handoff, HandoffMessage, HandoffReport, Ticket
from bot.handoff.service import MAX_TEXT
from bot.insights.log import ArticleStats

# Row ids are 64-bit in SQLite and PostgreSQL: a bigger number is refused here with a 422 (found by the
# reliability battery: 176132504772720590848 reached SQLite and overflowed, a 500)
MAX_ROW_ID = 2**63 - 1
RowId = conint(ge=1, le=MAX_ROW_ID)
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class Strict(BaseModel):
    """Request bodies: an unknown field is a mistake worth reporting, not something to ignore."""

    class Config:
        extra = "forbid"


# requests ---------------------------------------------------------------------------------

class LoginRequest(Strict):
    email: constr(max_length=320)  # type: ignore[valid-type]
    password: constr(max_length=1024)  # type: ignore[valid-type]


class TextRequest(Strict):
    text: constr(max_length=MAX_TEXT) = Field(..., description="plain text; shown to people as text, never as HTML")  # type: ignore[valid-type]


class TransferRequest(Strict):
    to_agent_id: Optional[RowId] = Field(None, description="the agent to hand the conversation to; null puts it back in the queue")
    note: constr(max_length=MAX_TEXT) = Field("", description="an internal note for the next agent")  # type: ignore[valid-type]


class AbandonRequest(Strict):
    detail: constr(max_length=500) = "customer left"  # type: ignore[valid-type]


class NewAgentRequest(Strict):
    email: constr(max_length=320)  # type: ignore[valid-type]
    name: constr(max_length=120)  # type: ignore[valid-type]
    role: str = Field(..., description="agent | lead")
    password: constr(max_length=1024)  # type: ignore[valid-type]


class AgentPatch(Strict):
    active: bool


# responses --------------------------------------------------------------------------------

class ProblemLine(BaseModel):
    line: Optional[int]
    message: str
    severity: str


class ErrorOut(BaseModel):
    error: str
    message_id: Optional[int] = Field(None, description="the saved message, when a reply could not be delivered")
    details: Optional[List[str]] = Field(None, description="one line per invalid field")
    current_etag: Optional[str] = Field(None, description="409 on an article: its version now (null: it was deleted)")
    problems: Optional[List[ProblemLine]] = Field(None, description="400 on an article: the lint findings that refused it")


class Ok(BaseModel):
    ok: bool = True


class AgentOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    active: bool
    last_seen_at: Optional[datetime]


class AgentBrief(BaseModel):
    id: int
    name: str
    role: str


CSRF_DESCRIPTION = ("send it as the `X-CSRF-Token` header with every request that changes something when the session "
                    "cookie authenticates it (bearer-token requests need none)")


class LoginResponse(BaseModel):
    token: str = Field(..., description="a session token for `Authorization: Bearer`; the desk itself uses the cookie")
    agent: AgentOut
    csrf_token: str = Field(..., description=CSRF_DESCRIPTION)


class MeOut(AgentOut):
    csrf_token: str = Field(..., description=CSRF_DESCRIPTION)


class HandoffOut(BaseModel):
    id: int
    conversation_id: str
    channel: str
    state: str
    reason: str
    reason_label: str
    reason_detail: str
    summary: str
    customer_name: Optional[str]
    customer_email: Optional[str]
    customer_verified: bool
    frustration: float
    agent_id: Optional[int]
    agent_name: Optional[str]
    created_at: datetime
    assigned_at: Optional[datetime]
    resolved_at: Optional[datetime]
    abandoned_at: Optional[datetime]
    updated_at: Optional[datetime]
    waiting_seconds: int = Field(..., description="seconds since the handoff was opened")
    position: Optional[int] = Field(None, description="place among the waiting handoffs (1 = next); null once assigned")


class QueueOut(BaseModel):
    handoffs: List[HandoffOut]


class HandoffList(BaseModel):
    handoffs: List[HandoffOut]


class MessageOut(BaseModel):
    id: int
    handoff_id: int
    author: str = Field(..., description="customer | agent | note | system")
    text: str
    at: datetime
    agent_id: Optional[int]
    agent_name: Optional[str]
    delivered: bool


class HistoryEntry(BaseModel):
    at: datetime
    kind: str = Field(..., description="created | claimed | transferred | resolved | abandoned | handed_back | hand_back_failed")
    agent_id: Optional[int]
    agent_name: Optional[str]
    detail: str = Field(..., description="transferred: JSON {to_agent_id, note}; created: the reason; abandoned: why")


class HandoffDetail(BaseModel):
    handoff: HandoffOut
    packet: Dict[str, Any] = Field(..., description="the context packet the assistant collected before the handoff")
    messages: List[MessageOut]
    history: List[HistoryEntry]


class TicketOut(BaseModel):
    id: int
    conversation_id: str
    channel: str
    email: str
    customer_name: Optional[str]
    description: str
    reason: str
    reason_label: str
    state: str
    created_at: datetime
    closed_at: Optional[datetime]
    packet: Dict[str, Any]


class TicketList(BaseModel):
    tickets: List[TicketOut]


class AgentList(BaseModel):
    agents: List[AgentOut]


class OnlineAgents(BaseModel):
    agents: List[AgentBrief]


class ReasonCount(BaseModel):
    reason: str
    label: str
    count: int


class StateCount(BaseModel):
    state: str
    count: int


class RatingCount(BaseModel):
    rating: int
    count: int


class HandoffReportOut(BaseModel):
    days: int
    handoffs: int
    by_reason: List[ReasonCount]
    by_state: List[StateCount]
    median_wait_seconds: Optional[float]
    median_handling_seconds: Optional[float]
    csat_count: int
    csat_average: Optional[float]
    csat_distribution: List[RatingCount]
    open_tickets: int


class ArticleStatsOut(BaseModel):
    article_id: str
    title: Optional[str] = Field(None, description="the article's title; absent when it is no longer in the help centre")
    url: Optional[str] = None
    answers: int
    helpful: int
    not_helpful: int


class UnansweredOut(BaseModel):
    question: str
    count: int


class KnowledgeSummary(BaseModel):
    answers: int
    rated: int
    helpful_share: float = Field(..., description="share of ratings that said the answer helped (0 when nothing was rated)")


class KnowledgeReportOut(BaseModel):
    articles: List[ArticleStatsOut]
    unanswered: List[UnansweredOut]
    summary: KnowledgeSummary


# the insights dashboard (bot/insights/dashboard.py): one model per result row, the same fields ---------------

BUCKET_START = "the start of the bucket (UTC); pass it as bucket_start to list its conversations"
SHARE = "a share between 0 and 1; null when there is nothing to divide by"
NO_TRACKER = "null when the tracker store is not SQL"


class InsightsPeriodOut(BaseModel):
    since: datetime = Field(..., description="the first moment of the period (UTC, included)")
    until: datetime = Field(..., description="the end of the period (UTC, excluded)")
    channel: Optional[str] = Field(None, description="website | slack; null: both")
    bucket: str = Field(..., description="day | week | period (one bucket, the whole period)")
    bucket_starts: List[datetime]


class ConversationRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    conversations: Optional[int] = Field(None, description=f"distinct conversations with a customer message; {NO_TRACKER}")
    handed_off: int
    offline_tickets: int
    with_person: int = Field(..., description="distinct conversations with a handoff or an offline ticket")
    contained: Optional[int]
    containment_rate: Optional[float] = Field(None, description=SHARE)


class HandoffReasonRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    reason: str
    label: str
    group: str = Field(..., description="asked | low confidence | help-centre miss | frustrated | policy")
    handoffs: int
    rate: Optional[float] = Field(None, description="handoffs per conversation of the bucket")


class CsatRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    ratings: int
    average: Optional[float]
    rating_1: int
    rating_2: int
    rating_3: int
    rating_4: int
    rating_5: int


class CsatShareOut(BaseModel):
    rating: int
    count: int
    share: Optional[float] = Field(None, description=SHARE)


class NpsRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    answers: int
    promoters: int = Field(..., description="answers of 9 or 10")
    passives: int = Field(..., description="answers of 7 or 8")
    detractors: int = Field(..., description="answers from 0 to 6")
    nps: Optional[float] = Field(None, description="(promoters - detractors) / answers x 100, from -100 to 100")


class NpsShareOut(BaseModel):
    score: int = Field(..., description="0-10")
    band: str = Field(..., description="promoter | passive | detractor")
    count: int
    share: Optional[float] = Field(None, description=SHARE)


class CommentRowOut(BaseModel):
    at: datetime
    conversation_id: str
    channel: str = Field(..., description="website | slack")
    survey: str = Field(..., description="csat | nps: the question the comment answered with its score")
    score: int
    text: str = Field(..., description="what the customer wrote with the score, personal details masked")


class AgentTimesRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    handoffs: int
    replied: int
    first_reply_p50: Optional[float] = Field(None, description="seconds from the handoff to the first agent reply")
    first_reply_p90: Optional[float]
    resolved: int
    resolution_p50: Optional[float] = Field(None, description="seconds from the handoff to its resolution")
    resolution_p90: Optional[float]
    abandoned: int
    abandoned_unclaimed: int


class QueueHourRowOut(BaseModel):
    hour: int = Field(..., description="hour of the day, UTC (0-23)")
    snapshots: int
    mean_waiting: Optional[float]
    max_waiting: Optional[int]


class KnowledgeRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    answered: int
    clarified: int
    unanswered: int
    answer_rate: Optional[float] = Field(None, description=SHARE)
    rated: int
    helpful: int
    helpful_rate: Optional[float] = Field(None, description=SHARE)


class IntentRowOut(BaseModel):
    intent: str
    messages: int
    fallbacks: int
    fallback_rate: Optional[float] = Field(None, description=SHARE)


class FrustrationRowOut(BaseModel):
    start: datetime = Field(..., description=BUCKET_START)
    conversations: Optional[int]
    reached: Optional[int] = Field(None, description=f"conversations that reached the frustration threshold; {NO_TRACKER}")
    share: Optional[float] = Field(None, description=SHARE)
    handed_off: int
    resolved_by_person: int
    abandoned: int
    offline_tickets: int
    stayed_with_bot: Optional[int]


class InsightsOut(BaseModel):
    period: InsightsPeriodOut
    tracker_store: bool = Field(..., description="false: the figures that need Rasa's tracker store are null")
    conversations: List[ConversationRowOut]
    handoff_reasons: List[HandoffReasonRowOut]
    csat: List[CsatRowOut]
    csat_distribution: List[CsatShareOut]
    nps: List[NpsRowOut]
    nps_distribution: List[NpsShareOut]
    comments: List[CommentRowOut] = Field(..., description="the newest comments of the period (CSV: all of them)")
    agent_times: List[AgentTimesRowOut]
    queue: List[QueueHourRowOut]
    knowledge: List[KnowledgeRowOut]
    intents: Optional[List[IntentRowOut]] = Field(None, description=f"the top intents, most messages first; {NO_TRACKER}")
    frustration: List[FrustrationRowOut]


class InsightConversationOut(BaseModel):
    conversation_id: str
    channel: str = Field(..., description="website | slack")
    transcript: str = Field(..., description="the API path of its transcript, personal details masked")
    page: str = Field(..., description="the dashboard's page showing that transcript")


class InsightConversationsOut(BaseModel):
    figure: str
    key: Optional[str]
    bucket_start: Optional[datetime] = Field(None, description="null: the whole period")
    available: bool = Field(..., description="false: the figure needs the tracker store and there is none")
    limit: int
    conversations: List[InsightConversationOut]


class TranscriptLineOut(BaseModel):
    at: Optional[datetime]
    who: str = Field(..., description="customer | bot | agent")
    text: str = Field(..., description="personal details (emails, card, phone and order numbers, addresses) masked")
    agent: Optional[str] = Field(None, description="the agent's name, on an agent's message")


class TranscriptOut(BaseModel):
    conversation_id: str
    channel: str
    truncated: bool = Field(..., description="the conversation is longer than the lines shown")
    lines: List[TranscriptLineOut]


# conversions ------------------------------------------------------------------------------

def utc(at: Optional[datetime]) -> Optional[datetime]:
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def agent_out(agent: Agent) -> AgentOut:
    return AgentOut(id=agent.id, email=agent.email, name=agent.name, role=agent.role, active=agent.active,
                    last_seen_at=utc(agent.last_seen_at))


def handoff_out(handoff: Handoff, now: datetime, position: Optional[int] = None) -> HandoffOut:
    return HandoffOut(
        id=handoff.id, conversation_id=handoff.conversation_id, channel=handoff.channel, state=handoff.state,
        reason=handoff.reason, reason_label=reason_label(handoff.reason), reason_detail=handoff.reason_detail,
        summary=handoff.summary, customer_name=handoff.customer_name, customer_email=handoff.customer_email,
        customer_verified=handoff.customer_verified, frustration=handoff.frustration, agent_id=handoff.agent_id,
        agent_name=handoff.agent_name, created_at=utc(handoff.created_at), assigned_at=utc(handoff.assigned_at),
        resolved_at=utc(handoff.resolved_at), abandoned_at=utc(handoff.abandoned_at), updated_at=utc(handoff.updated_at),
        waiting_seconds=max(0, int((now - handoff.created_at).total_seconds())), position=position)


def queue_out(handoffs: List[Handoff], now: datetime) -> QueueOut:
    """The active handoffs oldest first, the waiting ones numbered in the order they will be taken."""
    items, place = [], 0
    for handoff in handoffs:
        if handoff.state == WAITING:
            place += 1
        items.append(handoff_out(handoff, now, place if handoff.state == WAITING else None))
    return QueueOut(handoffs=items)


def message_out(message: HandoffMessage) -> MessageOut:
    return MessageOut(id=message.id, handoff_id=message.handoff_id, author=message.author, text=message.text,
                      at=utc(message.at), agent_id=message.agent_id, agent_name=message.agent_name, delivered=message.delivered)


def history_entry(row: Dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(at=utc(row["at"]), kind=row["kind"], agent_id=row.get("agent_id"), agent_name=row.get("agent_name"),
                        detail=row.get("detail") or "")


def ticket_out(ticket: Ticket) -> TicketOut:
    return TicketOut(id=ticket.id, conversation_id=ticket.conversation_id, channel=ticket.channel, email=ticket.email,
                     customer_name=ticket.customer_name, description=ticket.description, reason=ticket.reason,
                     reason_label=reason_label(ticket.reason), state=ticket.state, created_at=utc(ticket.created_at),
                     closed_at=utc(ticket.closed_at), packet=ticket.packet)


def report_out(report: HandoffReport, days: int) -> HandoffReportOut:
    return HandoffReportOut(
        days=days, handoffs=report.handoffs,
        by_reason=[ReasonCount(reason=reason, label=reason_label(reason), count=count) for reason, count in report.by_reason],
        by_state=[StateCount(state=state, count=count) for state, count in report.by_state],
        median_wait_seconds=report.median_wait_seconds, median_handling_seconds=report.median_handling_seconds,
        csat_count=report.csat_count, csat_average=report.csat_average,
        csat_distribution=[RatingCount(rating=rating, count=count) for rating, count in report.csat_distribution],
        open_tickets=report.open_tickets)


def knowledge_out(stats: List[ArticleStats], unanswered: List[tuple], totals: Dict[str, float],
                  titles: Optional[Dict[str, Tuple[str, str]]] = None) -> KnowledgeReportOut:
    titles = titles or {}
    return KnowledgeReportOut(
        articles=[ArticleStatsOut(article_id=s.article_id, title=titles.get(s.article_id, (None, None))[0],
                                  url=titles.get(s.article_id, (None, None))[1], answers=s.answers, helpful=s.helpful,
                                  not_helpful=s.not_helpful)
                  for s in stats],
        unanswered=[UnansweredOut(question=question, count=count) for question, count in unanswered],
        summary=KnowledgeSummary(answers=int(totals["answers"]), rated=int(totals["rated"]),
                                 helpful_share=round(totals["helpful_share"], 4)))


INSIGHT_ROWS: Dict[str, type] = {
    "conversations": ConversationRowOut, "handoff_reasons": HandoffReasonRowOut, "csat": CsatRowOut,
    "csat_distribution": CsatShareOut, "nps": NpsRowOut, "nps_distribution": NpsShareOut, "comments": CommentRowOut,
    "agent_times": AgentTimesRowOut, "queue": QueueHourRowOut,
    "knowledge": KnowledgeRowOut, "intents": IntentRowOut, "frustration": FrustrationRowOut,
}


def insight_row(model: type, row: Any) -> BaseModel:
    """A dashboard result row as its response model: the same fields, times with their UTC offset."""
    values = {name: utc(value) if isinstance(value, datetime) else value for name, value in vars(row).items()}
    if model is HandoffReasonRowOut:
        values["label"] = reason_label(values["reason"])
    return model(**values)


def insights_out(board: Any) -> InsightsOut:
    """The whole dashboard (bot.insights.dashboard.Dashboard) as the API returns it."""
    period = board.period
    tables = {name: [insight_row(model, row) for row in getattr(board, name)] for name, model in INSIGHT_ROWS.items()
              if getattr(board, name) is not None}
    return InsightsOut(period=InsightsPeriodOut(since=utc(period.since), until=utc(period.until), channel=period.channel,
                                                bucket=period.bucket, bucket_starts=[utc(s) for s in period.starts()]),
                       tracker_store=board.tracker_store, **{"intents": None, **tables})


def transcript_out(transcript: Any) -> TranscriptOut:
    return TranscriptOut(conversation_id=transcript.conversation_id, channel=transcript.channel,
                         truncated=transcript.truncated,
                         lines=[TranscriptLineOut(at=utc(line.at), who=line.who, text=line.text, agent=line.agent)
                                for line in transcript.lines])
