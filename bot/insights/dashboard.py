"""The leads' insights dashboard (issue 18): how support is going over a period, per day or week, in SQL.

Two databases: the app database (handoffs, agent replies, offline tickets, CSAT ratings, the help centre's
`knowledge_events`) and Rasa's SQL tracker store (table `events`: every customer message with its intent).
They may be different servers, so nothing here joins across them; a figure that needs both is two aggregate
queries combined per bucket. Without a SQL tracker store the figures that need it are None, not guesses.

Buckets are `[since + i * size, since + (i + 1) * size)` (size: a day, a week, or the whole period); times are
the naive UTC datetimes the app writes, and Rasa's float epoch seconds. Every figure is a GROUP BY over the rows
of the period; the only rows read into Python are the aggregates (and, for `conversation_ids`, up to N ids).

What each figure counts:

- **conversations**: distinct conversation ids with at least one customer message (tracker `user` event) in the
  bucket; a conversation active on three days counts on each of them.
- **with a person**: distinct conversations with a handoff or an offline ticket created in the bucket;
  **containment rate** = (conversations - with a person) / conversations. An offline ticket counts as needing a
  person (the team answers it by email), so it is not contained.
- **handoffs by reason**: handoffs created in the bucket per `handoffs.reason` as `bot.handoff.models` writes it
  (customer_request, not_confident, kb_no_answer, not_helpful, frustrated, policy_topic; `REASON_GROUPS` maps them
  to the issue's asked / low confidence / help-centre miss / frustrated / policy); rate = handoffs / conversations.
- **offline tickets**: tickets created in the bucket.
- **CSAT**: ratings (1-5) given in the bucket, their count per value and average.
- **NPS** (asked of the share of resolved conversations `feedback.yml` names, bot/insights/feedback.py): answers
  (0-10) given in the bucket; promoters 9-10, passives 7-8, detractors 0-6; NPS = (promoters - detractors) /
  answers x 100, from -100 to 100; and the count per score.
- **comments**: what customers wrote with a CSAT or NPS answer (`feedback_comments`), newest first, masked like the
  transcripts (`mask_for_leads`), each with its conversation.
- **agent times** (handoffs created in the bucket): first reply = first `handoff_messages` row by an agent minus
  the handoff's creation; resolution = `resolved_at - created_at` of resolved handoffs; p50/p90 are nearest-rank
  (the smallest value with at least p % of the values at or below it). Abandoned = handoffs now `abandoned`, and
  of those the ones no agent had claimed.
- **queue by hour of day**: the number of handoffs waiting (created, not yet claimed, resolved or abandoned) at
  each full hour of the period, averaged (and maximum) per hour of the day (UTC). A handoff transferred back to
  the queue counts as waiting from its creation to its last claim (the table keeps only the latest claim).
- **help centre**: per `knowledge_events` decision in the bucket: answer rate = answered / (answered + clarified
  + unanswered); "did this help" rate = rated helpful / rated.
- **intents**: customer messages of the period per intent. The NLU's FallbackClassifier replaces an unsure
  intent by `nlu_fallback` and keeps its best guess second in the ranking, so such a message counts for that
  guess, as a fallback; fallback rate = fallbacks / messages of the intent.
- **frustration**: the conversation reached the threshold when `HandoffPolicy` decided so
  (bot/handoff/triggers.py `decide`: `conversation_frustration(...).frustrated`), which it records in the tracker
  as `SlotSet("handoff_reason", "frustrated")` before `action_handoff`: distinct conversations with that event in
  the bucket, and their share of the bucket's conversations. What happened after, from the app database:
  handed off = distinct conversations with a `frustrated` handoff created in the bucket (and of those resolved by a
  person / abandoned); offline ticket = a `frustrated` ticket (nobody was available); stayed with the bot = the rest
  (nobody available and the offline form left unfinished). Handoffs of other reasons also carry a frustration
  score (`handoffs.frustration`) but are counted under their reason, not here.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from bot.handoff.models import (
    ABANDONED,
    AGENT_AUTHOR,
    CUSTOMER_REQUEST,
    FRUSTRATED,
    KB_NO_ANSWER,
    NOT_CONFIDENT,
    NOT_HELPFUL,
    POLICY_TOPIC,
    REASONS,
    RESOLVED,
)
from bot.handoff.store import csat_ratings, handoff_messages, handoffs, tickets
from bot.insights.feedback import (
    CSAT,
    DETRACTOR,
    NPS,
    NPS_MAX,
    NPS_MIN,
    PASSIVE,
    PROMOTER,
    feedback_comments,
    nps_band,
    nps_scores,
)
from bot.insights.log import ANSWERED, CLARIFIED, RATED, UNANSWERED, knowledge_events
from bot.insights.sql import CHANNELS, channel_filter, channel_of, seconds_between
from bot.privacy import mask_for_leads
from bot.store.directory import create_engine

DAY, WEEK, PERIOD = "day", "week", "period"
BUCKET_SECONDS = {DAY: 86400, WEEK: 7 * 86400}  # PERIOD: one bucket, the whole period (the headline figures)
HOUR = 3600
# bucket arithmetic on julianday floats is off by microseconds: an event at exactly midnight must not fall
# into the day before
EPSILON = 0.001

REASON_GROUPS = {
    CUSTOMER_REQUEST: "asked",
    NOT_CONFIDENT: "low confidence",
    KB_NO_ANSWER: "help-centre miss",
    NOT_HELPFUL: "help-centre miss",
    FRUSTRATED: "frustrated",
    POLICY_TOPIC: "policy",
}

# Rasa's names (rasa.shared.constants / rasa.shared.core.events), not imported: services do not import Rasa
USER_EVENT, SLOT_EVENT = "user", "slot"
NLU_FALLBACK = "nlu_fallback"
REASON_SLOT = "handoff_reason"

# Rasa's SQLTrackerStore.SQLEvent, by the same schema (rasa/core/tracker_store.py); the tests check it matches
tracker_metadata = sa.MetaData()
events = sa.Table(
    "events",
    tracker_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),  # ActionExecuted's action; SlotSet's slot name (Rasa stores data["name"])
    sa.Column("data", sa.Text),  # the event as JSON
)
# What the figures read Rasa's events by: customer messages of a period (with who and which intent, so those figures
# are read from the index alone) and HandoffPolicy's SlotSet of a period. Rasa's own table has only its sender_id
# index; `ensure_tracker_indexes` adds these to the tracker store (bot/store/tracker_store.py does at Rasa's start).
TRACKER_INDEXES = (
    sa.Index("ix_events_type_timestamp", events.c.type_name, events.c.timestamp, events.c.sender_id, events.c.intent_name),
    sa.Index("ix_events_type_action_timestamp", events.c.type_name, events.c.action_name, events.c.timestamp),
)
COMMENTS_SHOWN = 100  # the newest comments of the period on the page; the CSV has up to COMMENTS_EXPORTED
COMMENTS_EXPORTED = 10_000
NPS_BANDS = (PROMOTER, PASSIVE, DETRACTOR)


# SQL pieces both engines need and SQLAlchemy does not have -----------------------------------------------

class floor_int(FunctionElement):
    """`floor_int(x)`: x rounded down to a whole number, for x >= 0 (bucket numbers are never negative)."""

    type = sa.Integer()
    name = "floor_int"
    inherit_cache = True


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler, **kw) -> str:  # noqa: ANN001 - SQLAlchemy's signature
    # SQLite's FLOOR needs the optional math functions; CAST truncates, which is floor for x >= 0
    return f"CAST(({compiler.process(list(element.clauses)[0], **kw)}) AS INTEGER)"


@compiles(floor_int)
def _floor_default(element: floor_int, compiler, **kw) -> str:  # noqa: ANN001
    # PostgreSQL's CAST rounds to nearest, so FLOOR first
    return f"CAST(FLOOR({compiler.process(list(element.clauses)[0], **kw)}) AS INTEGER)"


class _json_text(FunctionElement):
    """The text at a fixed path of a JSON document stored as text (Rasa's `events.data`); None when absent."""

    type = sa.Text()
    path: Tuple[Any, ...] = ()
    inherit_cache = True


class runner_up_intent(_json_text):
    """A user event's second-ranked intent: the NLU's guess when FallbackClassifier put nlu_fallback first."""

    name = "runner_up_intent"
    path = ("parse_data", "intent_ranking", 1, "name")
    inherit_cache = True


class slot_value(_json_text):
    name = "slot_value"
    path = ("value",)
    inherit_cache = True


@compiles(_json_text, "sqlite")
def _json_sqlite(element: _json_text, compiler, **kw) -> str:  # noqa: ANN001
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in element.path)
    return f"json_extract({compiler.process(list(element.clauses)[0], **kw)}, '{path}')"


@compiles(_json_text)
def _json_default(element: _json_text, compiler, **kw) -> str:  # noqa: ANN001 - PostgreSQL
    path = "{" + ",".join(str(p) for p in element.path) + "}"
    return f"(CAST({compiler.process(list(element.clauses)[0], **kw)} AS JSON) #>> '{path}')"


# the period ----------------------------------------------------------------------------------------------

def epoch(moment: datetime) -> float:
    """Seconds since 1970 of a naive UTC datetime (the tracker store's timestamps)."""
    return moment.replace(tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class Period:
    """[since, until) in naive UTC, one channel (None: all), buckets of a day, a week or the whole period."""

    since: datetime
    until: datetime
    channel: Optional[str] = None
    bucket: str = DAY

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise ValueError("the period must end after it starts")
        if self.bucket not in (DAY, WEEK, PERIOD):
            raise ValueError(f"bucket must be {DAY}, {WEEK} or {PERIOD}, not {self.bucket!r}")
        if self.channel is not None and self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)} or None, not {self.channel!r}")

    @property
    def bucket_seconds(self) -> float:
        return BUCKET_SECONDS.get(self.bucket) or (self.until - self.since).total_seconds()

    def starts(self) -> List[datetime]:
        """The start of every bucket of the period, in order."""
        size, found, n = timedelta(seconds=self.bucket_seconds), [], 0
        while self.since + n * size < self.until:
            found.append(self.since + n * size)
            n += 1
        return found

    def bucket_range(self, start: Optional[datetime]) -> Tuple[datetime, datetime]:
        """[start, end) of the bucket starting at `start`, clipped to the period (None: the whole period)."""
        if start is None:
            return self.since, self.until
        if start not in self.starts():
            raise ValueError(f"{start.isoformat()} is not the start of a bucket of this period")
        return start, min(start + timedelta(seconds=self.bucket_seconds), self.until)

    def start_of(self, index: int) -> datetime:
        return self.since + timedelta(seconds=self.bucket_seconds * index)


def _app_bucket(column: sa.Column, period: Period):  # noqa: ANN202 - a SQL expression
    since = sa.literal(period.since, sa.DateTime)
    return floor_int((seconds_between(since, column) + EPSILON) / period.bucket_seconds)


def _tracker_bucket(period: Period):  # noqa: ANN202
    return floor_int((events.c.timestamp - epoch(period.since) + EPSILON) / period.bucket_seconds)


def _in_app(column: sa.Column, since: datetime, until: datetime):  # noqa: ANN202
    return sa.and_(column >= since, column < until)


def _in_tracker(since: datetime, until: datetime):  # noqa: ANN202
    return sa.and_(events.c.timestamp >= epoch(since), events.c.timestamp < epoch(until))


def _share(part: Optional[int], whole: Optional[int]) -> Optional[float]:
    return part / whole if part is not None and whole else None


# results: flat frozen rows, so every table exports to CSV as it is -----------------------------------------

@dataclass(frozen=True)
class ConversationRow:
    start: datetime
    conversations: Optional[int]  # None: no SQL tracker store
    handed_off: int  # distinct conversations with a handoff created in the bucket
    offline_tickets: int  # tickets created in the bucket
    with_person: int  # distinct conversations with a handoff or a ticket
    contained: Optional[int]
    containment_rate: Optional[float]


@dataclass(frozen=True)
class HandoffReasonRow:
    start: datetime
    reason: str
    group: str
    handoffs: int
    rate: Optional[float]  # handoffs per conversation of the bucket


@dataclass(frozen=True)
class CsatRow:
    start: datetime
    ratings: int
    average: Optional[float]
    rating_1: int
    rating_2: int
    rating_3: int
    rating_4: int
    rating_5: int


@dataclass(frozen=True)
class CsatShare:
    rating: int
    count: int
    share: Optional[float]


@dataclass(frozen=True)
class NpsRow:
    start: datetime
    answers: int
    promoters: int  # 9-10
    passives: int  # 7-8
    detractors: int  # 0-6
    nps: Optional[float]  # (promoters - detractors) / answers x 100; None without answers


@dataclass(frozen=True)
class NpsShare:
    score: int  # 0-10
    band: str  # promoter | passive | detractor
    count: int
    share: Optional[float]


@dataclass(frozen=True)
class CommentRow:
    at: datetime
    conversation_id: str
    channel: str
    survey: str  # csat | nps
    score: int
    text: str  # personal details masked


@dataclass(frozen=True)
class AgentTimesRow:
    start: datetime
    handoffs: int
    replied: int
    first_reply_p50: Optional[float]  # seconds
    first_reply_p90: Optional[float]
    resolved: int
    resolution_p50: Optional[float]
    resolution_p90: Optional[float]
    abandoned: int
    abandoned_unclaimed: int


@dataclass(frozen=True)
class QueueHourRow:
    hour: int  # 0-23, UTC
    snapshots: int  # full hours of the period at this hour of the day
    mean_waiting: Optional[float]
    max_waiting: Optional[int]


@dataclass(frozen=True)
class KnowledgeRow:
    start: datetime
    answered: int
    clarified: int
    unanswered: int
    answer_rate: Optional[float]
    rated: int
    helpful: int
    helpful_rate: Optional[float]


@dataclass(frozen=True)
class IntentRow:
    intent: str
    messages: int
    fallbacks: int
    fallback_rate: Optional[float]


@dataclass(frozen=True)
class FrustrationRow:
    start: datetime
    conversations: Optional[int]
    reached: Optional[int]
    share: Optional[float]
    handed_off: int
    resolved_by_person: int
    abandoned: int
    offline_tickets: int
    stayed_with_bot: Optional[int]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    tracker_store: bool  # False: the figures that need the tracker store are None
    conversations: Tuple[ConversationRow, ...]
    handoff_reasons: Tuple[HandoffReasonRow, ...]
    csat: Tuple[CsatRow, ...]
    csat_distribution: Tuple[CsatShare, ...]
    nps: Tuple[NpsRow, ...]
    nps_distribution: Tuple[NpsShare, ...]
    comments: Tuple[CommentRow, ...]  # the newest COMMENTS_SHOWN of the period
    agent_times: Tuple[AgentTimesRow, ...]
    queue: Tuple[QueueHourRow, ...]
    knowledge: Tuple[KnowledgeRow, ...]
    intents: Optional[Tuple[IntentRow, ...]]
    frustration: Tuple[FrustrationRow, ...]


# figures whose conversations `conversation_ids` lists; `key` narrows some (a reason, a rating, an intent, an hour)
FIGURES = (
    "conversations", "contained", "with_person", "handoffs", "offline_tickets", "csat", "replied", "resolved",
    "abandoned", "queue", "answered", "clarified", "unanswered", "helpful", "not_helpful", "intent", "fallback",
    "frustrated", "frustrated_handed_off", "frustrated_ticket", "frustrated_stayed_with_bot", "nps", "comments",
)


class InsightsDashboard:
    """The dashboard's figures over the app database and (when there is one) Rasa's SQL tracker store."""

    def __init__(self, app: sa.engine.Engine, tracker: Optional[sa.engine.Engine], top_intents: int = 15) -> None:
        self._app = app
        self._tracker = tracker
        self.top_intents = top_intents

    @classmethod
    def from_urls(cls, app_db_url: str, tracker_store_url: Optional[str], top_intents: int = 15) -> "InsightsDashboard":
        """`tracker_store_url`: Rasa's SQL tracker store, or None when the tracker store is not SQL."""
        return cls(create_engine(app_db_url), create_engine(tracker_store_url) if tracker_store_url else None,
                   top_intents)

    @property
    def has_tracker_store(self) -> bool:
        return self._tracker is not None

    def dashboard(self, period: Period) -> Dashboard:
        """Every figure of the page."""
        conversations = self._conversations_per_bucket(period)
        return Dashboard(
            period=period, tracker_store=self.has_tracker_store,
            conversations=self.conversations(period, conversations),
            handoff_reasons=self.handoff_reasons(period, conversations),
            csat=self.csat(period), csat_distribution=self.csat_distribution(period),
            nps=self.nps(period), nps_distribution=self.nps_distribution(period), comments=self.comments(period),
            agent_times=self.agent_times(period), queue=self.queue_by_hour(period),
            knowledge=self.knowledge(period), intents=self.intents(period),
            frustration=self.frustration(period, conversations))

    # conversations, containment, reasons ------------------------------------------------------------------

    def _conversations_per_bucket(self, period: Period) -> Optional[Dict[int, int]]:
        if self._tracker is None:
            return None
        bucket = _tracker_bucket(period)
        query = (sa.select(bucket.label("b"), sa.func.count(sa.distinct(events.c.sender_id)))
                 .where(events.c.type_name == USER_EVENT, _in_tracker(period.since, period.until),
                        channel_filter(events.c.sender_id, period.channel))
                 .group_by(bucket))
        with self._tracker.connect() as conn:
            return {int(b): int(n) for b, n in conn.execute(query)}

    def _person_conversations(self, period: Period, since: datetime, until: datetime, reason: Optional[str] = None):  # noqa: ANN202
        """(conversation_id, at) of each handoff and ticket created in [since, until), as one SELECT."""
        h, t = handoffs.c, tickets.c
        parts = []
        for c in (h, t):
            where = [_in_app(c.created_at, since, until), channel_filter(c.conversation_id, period.channel)]
            if reason is not None:
                where.append(c.reason == reason)
            parts.append(sa.select(c.conversation_id.label("conversation_id"), c.created_at.label("at")).where(*where))
        return sa.union_all(*parts).subquery("person")

    def conversations(self, period: Period, per_bucket: Optional[Dict[int, int]] = None) -> Tuple[ConversationRow, ...]:
        """Conversations, handoffs, offline tickets and containment per bucket."""
        if per_bucket is None:
            per_bucket = self._conversations_per_bucket(period)
        h, t = handoffs.c, tickets.c
        person = self._person_conversations(period, period.since, period.until)
        with self._app.connect() as conn:
            handed = self._count_by_bucket(conn, period, h.created_at, sa.distinct(h.conversation_id), h.conversation_id)
            ticketed = self._count_by_bucket(conn, period, t.created_at, t.id, t.conversation_id)
            pb = _app_bucket(person.c.at, period)
            with_person = {int(b): int(n) for b, n in conn.execute(
                sa.select(pb, sa.func.count(sa.distinct(person.c.conversation_id))).group_by(pb))}
        rows = []
        for i, start in enumerate(period.starts()):
            total = None if per_bucket is None else per_bucket.get(i, 0)
            person_n = with_person.get(i, 0)
            # a handoff without a customer message in its bucket (written just after midnight) must not go below 0
            contained = None if total is None else max(total - person_n, 0)
            rows.append(ConversationRow(start, total, handed.get(i, 0), ticketed.get(i, 0), person_n, contained,
                                        _share(contained, total)))
        return tuple(rows)

    def _count_by_bucket(self, conn: sa.engine.Connection, period: Period, at: sa.Column, counted: Any,
                         conversation: sa.Column, *where: Any) -> Dict[int, int]:
        bucket = _app_bucket(at, period)
        query = (sa.select(bucket, sa.func.count(counted))
                 .where(_in_app(at, period.since, period.until), channel_filter(conversation, period.channel), *where)
                 .group_by(bucket))
        return {int(b): int(n) for b, n in conn.execute(query)}

    def handoff_reasons(self, period: Period, per_bucket: Optional[Dict[int, int]] = None) -> Tuple[HandoffReasonRow, ...]:
        """Handoffs per reason per bucket (every known reason, zeros included), and their rate per conversation."""
        if per_bucket is None:
            per_bucket = self._conversations_per_bucket(period)
        h = handoffs.c
        bucket = _app_bucket(h.created_at, period)
        query = (sa.select(bucket, h.reason, sa.func.count())
                 .where(_in_app(h.created_at, period.since, period.until), channel_filter(h.conversation_id, period.channel))
                 .group_by(bucket, h.reason))
        with self._app.connect() as conn:
            counts = {(int(b), r): int(n) for b, r, n in conn.execute(query)}
        reasons = list(REASONS) + sorted({r for _, r in counts} - set(REASONS))  # older data may have others
        rows = []
        for i, start in enumerate(period.starts()):
            total = None if per_bucket is None else per_bucket.get(i, 0)
            for reason in reasons:
                n = counts.get((i, reason), 0)
                rows.append(HandoffReasonRow(start, reason, REASON_GROUPS.get(reason, reason), n, _share(n, total)))
        return tuple(rows)

    # CSAT --------------------------------------------------------------------------------------------------

    def csat(self, period: Period) -> Tuple[CsatRow, ...]:
        """Ratings per bucket: how many of each value, and the average (the trend)."""
        c = csat_ratings.c
        bucket = _app_bucket(c.at, period)
        query = (sa.select(bucket, c.rating, sa.func.count())
                 .where(_in_app(c.at, period.since, period.until), channel_filter(c.conversation_id, period.channel))
                 .group_by(bucket, c.rating))
        with self._app.connect() as conn:
            counts = {(int(b), int(r)): int(n) for b, r, n in conn.execute(query)}
        rows = []
        for i, start in enumerate(period.starts()):
            per = [counts.get((i, r), 0) for r in range(1, 6)]
            n = sum(per)
            rows.append(CsatRow(start, n, sum(r * k for r, k in zip(range(1, 6), per)) / n if n else None, *per))
        return tuple(rows)

    def csat_distribution(self, period: Period) -> Tuple[CsatShare, ...]:
        c = csat_ratings.c
        query = (sa.select(c.rating, sa.func.count())
                 .where(_in_app(c.at, period.since, period.until), channel_filter(c.conversation_id, period.channel))
                 .group_by(c.rating))
        with self._app.connect() as conn:
            counts = {int(r): int(n) for r, n in conn.execute(query)}
        total = sum(counts.values())
        return tuple(CsatShare(r, counts.get(r, 0), _share(counts.get(r, 0), total)) for r in range(1, 6))

    # NPS and comments ------------------------------------------------------------------------------------

    def nps(self, period: Period) -> Tuple[NpsRow, ...]:
        """NPS answers per bucket: promoters, passives, detractors and the score (the trend)."""
        n = nps_scores.c
        bucket = _app_bucket(n.at, period)

        def count(condition):  # noqa: ANN001, ANN202
            return sa.func.sum(sa.case((condition, 1), else_=0))

        query = (sa.select(bucket, sa.func.count(), count(n.score >= 9), count(n.score.between(7, 8)), count(n.score <= 6))
                 .where(_in_app(n.at, period.since, period.until), channel_filter(n.conversation_id, period.channel))
                 .group_by(bucket))
        with self._app.connect() as conn:
            found = {int(row[0]): tuple(int(v or 0) for v in row[1:]) for row in conn.execute(query)}
        rows = []
        for i, start in enumerate(period.starts()):
            answers, promoters, passives, detractors = found.get(i, (0, 0, 0, 0))
            score = (promoters - detractors) * 100 / answers if answers else None
            rows.append(NpsRow(start, answers, promoters, passives, detractors, score))
        return tuple(rows)

    def nps_distribution(self, period: Period) -> Tuple[NpsShare, ...]:
        n = nps_scores.c
        query = (sa.select(n.score, sa.func.count())
                 .where(_in_app(n.at, period.since, period.until), channel_filter(n.conversation_id, period.channel))
                 .group_by(n.score))
        with self._app.connect() as conn:
            counts = {int(score): int(k) for score, k in conn.execute(query)}
        total = sum(counts.values())
        return tuple(NpsShare(score, nps_band(score), counts.get(score, 0), _share(counts.get(score, 0), total))
                     for score in range(NPS_MIN, NPS_MAX + 1))

    def comments(self, period: Period, limit: int = COMMENTS_SHOWN) -> Tuple[CommentRow, ...]:
        """The newest comments of the period (CSAT and NPS), personal details masked."""
        c = feedback_comments.c
        query = (sa.select(c.at, c.conversation_id, c.survey, c.score, c.text)
                 .where(_in_app(c.at, period.since, period.until), channel_filter(c.conversation_id, period.channel))
                 .order_by(c.at.desc(), c.id.desc()).limit(limit))
        with self._app.connect() as conn:
            return tuple(CommentRow(at, cid, channel_of(cid), survey, int(score), mask_for_leads(text))
                         for at, cid, survey, score, text in conn.execute(query))

    # agents -----------------------------------------------------------------------------------------------

    def agent_times(self, period: Period) -> Tuple[AgentTimesRow, ...]:
        """Per bucket of handoff creation: time to first agent reply and to resolution (p50/p90), abandoned."""
        h, m = handoffs.c, handoff_messages.c
        scope = [_in_app(h.created_at, period.since, period.until), channel_filter(h.conversation_id, period.channel)]
        bucket = _app_bucket(h.created_at, period)
        first = (sa.select(m.handoff_id, sa.func.min(m.at).label("at")).where(m.author == AGENT_AUTHOR)
                 .group_by(m.handoff_id).subquery("first_reply"))
        replies = (sa.select(bucket.label("b"), seconds_between(h.created_at, first.c.at).label("v"))
                   .select_from(handoffs.join(first, first.c.handoff_id == h.id)).where(*scope))
        resolutions = (sa.select(bucket.label("b"), seconds_between(h.created_at, h.resolved_at).label("v"))
                       .where(*scope, h.state == RESOLVED, h.resolved_at.is_not(None)))
        counts = (sa.select(bucket, sa.func.count(),
                            sa.func.sum(sa.case((h.state == ABANDONED, 1), else_=0)),
                            sa.func.sum(sa.case((sa.and_(h.state == ABANDONED, h.assigned_at.is_(None)), 1), else_=0)))
                  .where(*scope).group_by(bucket))
        with self._app.connect() as conn:
            reply = _percentiles(conn, replies)
            resolution = _percentiles(conn, resolutions)
            totals = {int(b): (int(n), int(a or 0), int(u or 0)) for b, n, a, u in conn.execute(counts)}
        rows = []
        for i, start in enumerate(period.starts()):
            n, abandoned, unclaimed = totals.get(i, (0, 0, 0))
            rn, r50, r90 = reply.get(i, (0, None, None))
            sn, s50, s90 = resolution.get(i, (0, None, None))
            rows.append(AgentTimesRow(start, n, rn, r50, r90, sn, s50, s90, abandoned, unclaimed))
        return tuple(rows)

    def queue_by_hour(self, period: Period) -> Tuple[QueueHourRow, ...]:
        """Handoffs waiting at each full hour of the period, averaged (and the maximum) per hour of the day.

        The queue changes by +1 when a handoff is created and -1 when it leaves the queue (claimed, or finished
        unclaimed): per hour of the period the net change is one GROUP BY, the length at each full hour a running
        SUM over a generated series of the period's hours, so no handoff row leaves the database.
        """
        h = handoffs.c
        origin = period.since.replace(minute=0, second=0, microsecond=0)
        hours = int((period.until - origin).total_seconds() // HOUR)  # full hours h:00 in (origin, until]
        if hours < 1:
            return tuple(QueueHourRow(hour, 0, None, None) for hour in range(24))
        left = sa.func.coalesce(h.assigned_at, h.resolved_at, h.abandoned_at)
        channel = channel_filter(h.conversation_id, period.channel)
        start = sa.literal(origin, sa.DateTime)
        end = origin + timedelta(hours=hours)

        def slot(column):  # noqa: ANN001, ANN202 - the hour of the period a time falls in (0: origin's hour)
            return floor_int((seconds_between(start, column) + EPSILON) / HOUR)

        deltas = sa.union_all(
            sa.select(slot(h.created_at).label("s"), sa.literal(1).label("d"))
            .where(_in_app(h.created_at, origin, end), channel),
            sa.select(slot(left).label("s"), sa.literal(-1).label("d"))
            .where(left.is_not(None), _in_app(left, origin, end), h.created_at <= left, channel),
        ).subquery("deltas")
        per_slot = sa.select(deltas.c.s, sa.func.sum(deltas.c.d).label("d")).group_by(deltas.c.s).subquery("per_slot")
        # waiting already when the period starts: created before, still there at its first hour
        base = (sa.select(sa.func.count()).select_from(handoffs)
                .where(h.created_at < origin, sa.or_(left.is_(None), left >= origin), channel).scalar_subquery())
        grid = sa.select(sa.literal(0).label("s")).cte("grid", recursive=True)
        grid = grid.union_all(sa.select(grid.c.s + 1).where(grid.c.s < hours - 1))
        # the length at the end of slot s, i.e. at the full hour origin + (s + 1) h
        running = (sa.select(grid.c.s, (base + sa.func.sum(sa.func.coalesce(per_slot.c.d, 0)).over(order_by=grid.c.s))
                             .label("waiting"))
                   .select_from(grid.outerjoin(per_slot, per_slot.c.s == grid.c.s)).subquery("running"))
        hour_of_day = (running.c.s + 1 + origin.hour) % 24
        query = (sa.select(hour_of_day.label("hour"), sa.func.count(), sa.func.avg(running.c.waiting),
                           sa.func.max(running.c.waiting))
                 .group_by(hour_of_day))
        with self._app.connect() as conn:
            found = {int(hour): (int(n), float(mean), int(peak)) for hour, n, mean, peak in conn.execute(query)}
        return tuple(QueueHourRow(hour, *found[hour]) if hour in found else QueueHourRow(hour, 0, None, None)
                     for hour in range(24))

    # help centre and intents ------------------------------------------------------------------------------

    def knowledge(self, period: Period) -> Tuple[KnowledgeRow, ...]:
        """Help-centre decisions and "Did this help?" ratings per bucket."""
        e = knowledge_events.c
        bucket = _app_bucket(e.at, period)

        def count(*condition):  # noqa: ANN002, ANN202
            return sa.func.sum(sa.case((sa.and_(*condition), 1), else_=0))

        query = (sa.select(bucket, count(e.kind == ANSWERED), count(e.kind == CLARIFIED), count(e.kind == UNANSWERED),
                           count(e.kind == RATED), count(e.kind == RATED, e.helpful.is_(True)))
                 .where(_in_app(e.at, period.since, period.until), channel_filter(e.conversation_id, period.channel))
                 .group_by(bucket))
        with self._app.connect() as conn:
            found = {int(row[0]): tuple(int(v or 0) for v in row[1:]) for row in conn.execute(query)}
        rows = []
        for i, start in enumerate(period.starts()):
            answered, clarified, unanswered, rated, helpful = found.get(i, (0, 0, 0, 0, 0))
            rows.append(KnowledgeRow(start, answered, clarified, unanswered,
                                     _share(answered, answered + clarified + unanswered), rated, helpful,
                                     _share(helpful, rated)))
        return tuple(rows)

    def intents(self, period: Period, limit: Optional[int] = None) -> Optional[Tuple[IntentRow, ...]]:
        """The most frequent intents of the period with their NLU fallback rate (None: no tracker store)."""
        if self._tracker is None:
            return None
        # Two GROUP BYs instead of one over `_meant_intent()`: messages per stated intent come from the index alone
        # (ix_events_type_timestamp), and only the nlu_fallback ones open their JSON for the guess. A message without
        # an intent (none is written so) has nothing to show and is left out.
        where = (events.c.type_name == USER_EVENT, _in_tracker(period.since, period.until),
                 channel_filter(events.c.sender_id, period.channel), events.c.intent_name.is_not(None))
        guess = sa.func.coalesce(runner_up_intent(events.c.data), NLU_FALLBACK)
        stated = sa.select(events.c.intent_name, sa.func.count()).where(*where).group_by(events.c.intent_name)
        guessed = (sa.select(guess, sa.func.count()).where(*where, events.c.intent_name == NLU_FALLBACK).group_by(guess))
        with self._tracker.connect() as conn:
            messages = {str(name): int(n) for name, n in conn.execute(stated)}
            fallbacks = {str(name): int(n) for name, n in conn.execute(guessed)} if NLU_FALLBACK in messages else {}
        messages.pop(NLU_FALLBACK, None)  # each counts for the NLU's guess, below
        for name, n in fallbacks.items():
            messages[name] = messages.get(name, 0) + n
        top = sorted(messages.items(), key=lambda item: (-item[1], item[0]))[:limit or self.top_intents]
        return tuple(IntentRow(name, n, fallbacks.get(name, 0), _share(fallbacks.get(name, 0), n)) for name, n in top)

    # frustration ------------------------------------------------------------------------------------------

    def frustration(self, period: Period, per_bucket: Optional[Dict[int, int]] = None) -> Tuple[FrustrationRow, ...]:
        """Conversations that reached the frustration threshold per bucket, and what happened after."""
        if per_bucket is None:
            per_bucket = self._conversations_per_bucket(period)
        reached: Optional[Dict[int, int]] = None
        if self._tracker is not None:
            bucket = _tracker_bucket(period)
            query = (sa.select(bucket, sa.func.count(sa.distinct(events.c.sender_id)))
                     .where(_frustration_trigger(), _in_tracker(period.since, period.until),
                            channel_filter(events.c.sender_id, period.channel))
                     .group_by(bucket))
            with self._tracker.connect() as conn:
                reached = {int(b): int(n) for b, n in conn.execute(query)}
        h, t = handoffs.c, tickets.c
        person = self._person_conversations(period, period.since, period.until, reason=FRUSTRATED)
        hb = _app_bucket(h.created_at, period)
        handed_query = (sa.select(hb, sa.func.count(sa.distinct(h.conversation_id)),
                                  sa.func.sum(sa.case((h.state == RESOLVED, 1), else_=0)),
                                  sa.func.sum(sa.case((h.state == ABANDONED, 1), else_=0)))
                        .where(h.reason == FRUSTRATED, _in_app(h.created_at, period.since, period.until),
                               channel_filter(h.conversation_id, period.channel))
                        .group_by(hb))
        pb = _app_bucket(person.c.at, period)
        with self._app.connect() as conn:
            handed = {int(b): (int(n), int(r or 0), int(a or 0)) for b, n, r, a in conn.execute(handed_query)}
            ticketed = self._count_by_bucket(conn, period, t.created_at, t.id, t.conversation_id, t.reason == FRUSTRATED)
            with_person = {int(b): int(n) for b, n in conn.execute(
                sa.select(pb, sa.func.count(sa.distinct(person.c.conversation_id))).group_by(pb))}
        rows = []
        for i, start in enumerate(period.starts()):
            total = None if per_bucket is None else per_bucket.get(i, 0)
            n_reached = None if reached is None else reached.get(i, 0)
            n_handed, resolved, abandoned = handed.get(i, (0, 0, 0))
            stayed = None if n_reached is None else max(n_reached - with_person.get(i, 0), 0)
            rows.append(FrustrationRow(start, total, n_reached, _share(n_reached, total), n_handed, resolved, abandoned,
                                       ticketed.get(i, 0), stayed))
        return tuple(rows)

    # the conversations behind a figure --------------------------------------------------------------------

    def conversation_ids(self, period: Period, figure: str, bucket_start: Optional[datetime] = None,
                         key: Optional[str] = None, limit: int = 50) -> Optional[List[str]]:
        """Up to `limit` conversation ids behind a figure in one bucket (None: the whole period), sorted.

        `key` narrows: a handoff reason for "handoffs", a rating for "csat", an intent for "intent" and "fallback",
        an hour of the day (0-23) for "queue". None when the figure needs the tracker store and there is none.
        """
        if figure not in FIGURES:
            raise ValueError(f"unknown figure {figure!r} (known: {', '.join(FIGURES)})")
        since, until = period.bucket_range(bucket_start)
        if figure in ("contained", "frustrated_stayed_with_bot"):
            if self._tracker is None:
                return None
            tracker_figure = "conversations" if figure == "contained" else "frustrated"
            reason = None if figure == "contained" else FRUSTRATED
            return self._tracker_ids_without_person(period, tracker_figure, since, until, reason, limit)
        if figure in ("conversations", "intent", "fallback", "frustrated"):
            if self._tracker is None:
                return None
            return self._tracker_ids(period, figure, since, until, key, limit, after=None)
        query = self._app_ids_query(period, figure, since, until, key)
        with self._app.connect() as conn:
            return [row[0] for row in conn.execute(query.order_by(query.selected_columns[0]).limit(limit))]

    def _tracker_ids(self, period: Period, figure: str, since: datetime, until: datetime, key: Optional[str],
                     limit: int, after: Optional[str]) -> List[str]:
        where = [_in_tracker(since, until), channel_filter(events.c.sender_id, period.channel)]
        if figure == "frustrated":
            where.append(_frustration_trigger())
        else:
            where.append(events.c.type_name == USER_EVENT)
        if figure in ("intent", "fallback") and key is not None:
            where.append(_meant_intent() == key)
        if figure == "fallback":
            where.append(events.c.intent_name == NLU_FALLBACK)
        if after is not None:
            where.append(events.c.sender_id > after)
        query = (sa.select(events.c.sender_id).where(*where).distinct().order_by(events.c.sender_id).limit(limit))
        with self._tracker.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def _tracker_ids_without_person(self, period: Period, figure: str, since: datetime, until: datetime,
                                    reason: Optional[str], limit: int) -> List[str]:
        """Tracker ids with no handoff or ticket in the app database (another database: checked a page at a time)."""
        found: List[str] = []
        after: Optional[str] = None
        person = self._person_conversations(period, since, until, reason=reason)
        while len(found) < limit:
            page = self._tracker_ids(period, figure, since, until, None, 500, after)
            if not page:
                break
            with self._app.connect() as conn:
                taken: Set[str] = {row[0] for row in conn.execute(
                    sa.select(person.c.conversation_id).where(person.c.conversation_id.in_(page)).distinct())}
            found += [cid for cid in page if cid not in taken]
            after = page[-1]
        return found[:limit]

    def _app_ids_query(self, period: Period, figure: str, since: datetime, until: datetime, key: Optional[str]):  # noqa: ANN202
        h, t, c, e = handoffs.c, tickets.c, csat_ratings.c, knowledge_events.c
        if figure == "with_person":
            person = self._person_conversations(period, since, until)
            return sa.select(person.c.conversation_id).distinct()
        if figure == "offline_tickets" or figure == "frustrated_ticket":
            where = [_in_app(t.created_at, since, until), channel_filter(t.conversation_id, period.channel)]
            if figure == "frustrated_ticket":
                where.append(t.reason == FRUSTRATED)
            return sa.select(t.conversation_id).where(*where).distinct()
        if figure == "csat":
            where = [_in_app(c.at, since, until), channel_filter(c.conversation_id, period.channel)]
            if key is not None:
                where.append(c.rating == int(key))
            return sa.select(c.conversation_id).where(*where).distinct()
        if figure == "nps":  # key: a score (0-10) or a band
            n = nps_scores.c
            where = [_in_app(n.at, since, until), channel_filter(n.conversation_id, period.channel)]
            if key in NPS_BANDS:
                where.append({PROMOTER: n.score >= 9, PASSIVE: n.score.between(7, 8), DETRACTOR: n.score <= 6}[key])
            elif key is not None:
                where.append(n.score == int(key))
            return sa.select(n.conversation_id).where(*where).distinct()
        if figure == "comments":  # key: the survey (csat or nps)
            m = feedback_comments.c
            where = [_in_app(m.at, since, until), channel_filter(m.conversation_id, period.channel)]
            if key is not None:
                if key not in (CSAT, NPS):
                    raise ValueError(f"the key of comments is {CSAT} or {NPS}")
                where.append(m.survey == key)
            return sa.select(m.conversation_id).where(*where).distinct()
        if figure in ("answered", "clarified", "unanswered", "helpful", "not_helpful"):
            kind = {"helpful": RATED, "not_helpful": RATED}.get(figure, figure)
            where = [e.kind == kind, _in_app(e.at, since, until), channel_filter(e.conversation_id, period.channel)]
            if figure != kind:
                where.append(e.helpful.is_(figure == "helpful"))
            return sa.select(e.conversation_id).where(*where).distinct()
        if figure == "queue":  # per hour of the day over the whole period, like the figure: no bucket
            return self._queue_ids_query(period, key)
        # handoff figures, by the bucket of the handoff's creation
        where = [_in_app(h.created_at, since, until), channel_filter(h.conversation_id, period.channel)]
        if figure == "handoffs" and key is not None:
            where.append(h.reason == key)
        elif figure == "replied":
            m = handoff_messages.c
            where.append(sa.exists().where(m.handoff_id == h.id, m.author == AGENT_AUTHOR))
        elif figure == "resolved":
            where += [h.state == RESOLVED, h.resolved_at.is_not(None)]
        elif figure == "abandoned":
            where.append(h.state == ABANDONED)
        elif figure == "frustrated_handed_off":
            where.append(h.reason == FRUSTRATED)
        return sa.select(h.conversation_id).where(*where).distinct()

    def _queue_ids_query(self, period: Period, key: Optional[str]):  # noqa: ANN202
        """Handoffs waiting at one of the period's full hours (of the hour of the day `key`, when given).

        The same rule as `queue_by_hour`: waiting at the full hour T when created before T and leaving the queue
        at or after T. Per handoff, the first full hour after its creation (at the hour of the day `key`) is
        found by arithmetic on hour numbers counted from the period's first hour, then compared with its exit.
        """
        h = handoffs.c
        origin = period.since.replace(minute=0, second=0, microsecond=0)
        hours = int((period.until - origin).total_seconds() // HOUR)
        start = sa.literal(origin, sa.DateTime)
        left = sa.func.coalesce(h.assigned_at, h.resolved_at, h.abandoned_at)
        created_hour = floor_int((seconds_between(start, h.created_at) + EPSILON) / HOUR)
        first_full = sa.case((h.created_at < origin, 1), else_=created_hour + 1)  # T = origin + first_full hours
        target = first_full
        if key is not None:
            # hours on to the next T at that hour of the day; SQL's % keeps the dividend's sign, so made positive
            target = first_full + ((int(key) - origin.hour - first_full) % 24 + 24) % 24
        waits_until_target = seconds_between(start, left) >= target * HOUR - EPSILON
        return sa.select(h.conversation_id).where(
            h.created_at < origin + timedelta(hours=hours), target <= hours,
            sa.or_(left.is_(None), waits_until_target), channel_filter(h.conversation_id, period.channel)).distinct()


def ensure_tracker_indexes(engine: sa.engine.Engine) -> None:
    """Add TRACKER_INDEXES to Rasa's events table where it exists and they do not (idempotent)."""
    inspector = sa.inspect(engine)
    if not inspector.has_table(events.name):
        return
    present = {index["name"] for index in inspector.get_indexes(events.name)}
    for index in TRACKER_INDEXES:
        if index.name not in present:
            index.create(engine, checkfirst=True)


def _meant_intent():  # noqa: ANN202
    """The intent a user event was meant as: its own, or the NLU's best guess behind nlu_fallback."""
    return sa.case((events.c.intent_name == NLU_FALLBACK, sa.func.coalesce(runner_up_intent(events.c.data), NLU_FALLBACK)),
                   else_=events.c.intent_name)


def _frustration_trigger():  # noqa: ANN202
    """HandoffPolicy's record that the conversation crossed the frustration threshold."""
    return sa.and_(events.c.type_name == SLOT_EVENT, events.c.action_name == REASON_SLOT,
                   slot_value(events.c.data) == FRUSTRATED)


def _percentiles(conn: sa.engine.Connection, values: sa.sql.Select) -> Dict[int, Tuple[int, Optional[float], Optional[float]]]:
    """Per bucket `b` of a SELECT of (b, v): (count, p50, p90) of v, nearest rank, with window functions.

    The p-th percentile is the smallest value whose rank r (1-based, ascending) has r * 100 >= p * n: the
    MIN over those rows, so no division (integer division differs between the engines).
    """
    inner = values.subquery("vals")
    ranked = sa.select(
        inner.c.b, inner.c.v,
        sa.func.row_number().over(partition_by=inner.c.b, order_by=inner.c.v).label("rn"),
        sa.func.count().over(partition_by=inner.c.b).label("n"),
    ).where(inner.c.v.is_not(None)).subquery("ranked")
    query = (sa.select(ranked.c.b, sa.func.max(ranked.c.n),
                       sa.func.min(sa.case((ranked.c.rn * 100 >= ranked.c.n * 50, ranked.c.v))),
                       sa.func.min(sa.case((ranked.c.rn * 100 >= ranked.c.n * 90, ranked.c.v))))
             .group_by(ranked.c.b))
    return {int(b): (int(n), float(p50), float(p90)) for b, n, p50, p90 in conn.execute(query)}


# CSV ------------------------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def csv_rows(rows: Sequence[Any], row_type: Optional[type] = None) -> List[List[str]]:
    """A table of result rows (one dataclass type) as CSV rows: the field names, then one row each.

    `row_type` gives the header of a table without rows (an export of an empty period still says its columns).
    """
    if not rows and row_type is None:
        return []
    names = [f.name for f in fields(row_type or rows[0])]
    return [names] + [[_cell(getattr(row, name)) for name in names] for row in rows]


def to_csv(rows: Iterable[Any], row_type: Optional[type] = None) -> str:
    """The table as CSV text (the csv module's quoting, \\r\\n line ends as RFC 4180 says)."""
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(list(rows), row_type))
    return out.getvalue()
