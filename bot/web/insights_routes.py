"""The leads' insights API: every figure of the dashboard, the conversations behind one, CSV exports, masked transcripts.

The routes only translate, like the desk's: query parameters in, one `InsightsDashboard` (or `LeadsTranscripts`) call,
JSON or CSV out. All of it is for leads. Every parameter is checked here, before any SQL runs: the period is whole UTC
days, `since` to `until` both included, at most 366 days, between 2000 and 2100 (so no date arithmetic can overflow);
a figure's `key` must be of the kind that figure takes. What the data layer still refuses (a `bucket_start` that is not
the start of one of the period's buckets) is a 400 with its reason, never a 500.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Dict, Literal, Optional
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Response

from bot.container import LeadsInsights
from bot.insights import dashboard as d
from bot.insights.sql import channel_of
from bot.web import schemas as s
from bot.web.security import Caller, refuse

ERRORS: dict = {status: {"model": s.ErrorOut} for status in (400, 401, 403, 404, 422)}
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
MAX_DAYS = 366
DEFAULT_DAYS = 30
PAGE = "/desk/insights/"

Figure = Literal[d.FIGURES]  # type: ignore[valid-type]  # Literal of a tuple: each of its names
Table = Literal[tuple(s.INSIGHT_ROWS)]  # type: ignore[misc]
# what each figure's `key` names, as a pattern and in words (figures not listed take no key)
KEYS: Dict[str, tuple] = {
    "handoffs": (re.compile(r"[a-z][a-z_]{0,63}"), "a handoff reason such as customer_request or frustrated"),
    "csat": (re.compile(r"[1-5]"), "a rating from 1 to 5"),
    "nps": (re.compile(r"[0-9]|10|promoter|passive|detractor"), "a score from 0 to 10, or promoter, passive or detractor"),
    "comments": (re.compile(r"csat|nps"), "the survey: csat or nps"),
    "queue": (re.compile(r"[0-9]|1[0-9]|2[0-3]"), "an hour of the day from 0 to 23"),
    "intent": (re.compile(r"[^\x00-\x1f]{1,255}"), "an intent name"),
    "fallback": (re.compile(r"[^\x00-\x1f]{1,255}"), "an intent name"),
}
# each table of the page, computed alone for its CSV (a lead exporting one table does not wait for the rest)
TABLES: Dict[str, tuple] = {
    "conversations": (d.ConversationRow, lambda board, p: board.conversations(p)),
    "handoff_reasons": (d.HandoffReasonRow, lambda board, p: board.handoff_reasons(p)),
    "csat": (d.CsatRow, lambda board, p: board.csat(p)),
    "csat_distribution": (d.CsatShare, lambda board, p: board.csat_distribution(p)),
    "nps": (d.NpsRow, lambda board, p: board.nps(p)),
    "nps_distribution": (d.NpsShare, lambda board, p: board.nps_distribution(p)),
    "comments": (d.CommentRow, lambda board, p: board.comments(p, limit=d.COMMENTS_EXPORTED)),
    "agent_times": (d.AgentTimesRow, lambda board, p: board.agent_times(p)),
    "queue": (d.QueueHourRow, lambda board, p: board.queue_by_hour(p)),
    "knowledge": (d.KnowledgeRow, lambda board, p: board.knowledge(p)),
    "intents": (d.IntentRow, lambda board, p: board.intents(p)),
    "frustration": (d.FrustrationRow, lambda board, p: board.frustration(p)),
}
assert set(TABLES) == set(s.INSIGHT_ROWS)


def add_insights_routes(app: FastAPI, insights: Optional[LeadsInsights], lead: Callable, today: Callable[[], date]) -> None:
    """`insights` is None only when the app is built to print its OpenAPI document (no route runs then).
    `today`: the current UTC date, the default period's last day."""
    common = {"tags": ["insights", "leads"], "responses": ERRORS}

    def period(since: Optional[date] = Query(None, description=f"the first day (UTC); default: {DEFAULT_DAYS} days before until"),
               until: Optional[date] = Query(None, description="the last day (UTC), included; default: today"),
               channel: Optional[Literal["website", "slack"]] = Query(None, description="omit for both"),
               bucket: Literal["day", "week", "period"] = Query("day", description="period: one bucket, the whole period"),
               who: Caller = Depends(lead)) -> d.Period:
        last = until or today()
        first = since or last - timedelta(days=DEFAULT_DAYS - 1)
        for name, day in (("until", last), ("since", first)):  # until first: a default since follows it
            if not FIRST_DAY <= day <= LAST_DAY:
                raise refuse(400, f"{name} must be between {FIRST_DAY} and {LAST_DAY}")
        if last < first:
            raise refuse(400, "until must not be before since")
        if (last - first).days + 1 > MAX_DAYS:
            raise refuse(400, f"the period can be at most {MAX_DAYS} days")
        return d.Period(datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time()), channel, bucket)

    @app.get("/api/insights", response_model=s.InsightsOut,
             summary="Every figure of the insights dashboard over a period, per day or week (leads only)", **common)
    def figures(chosen: d.Period = Depends(period)) -> s.InsightsOut:
        return s.insights_out(insights.dashboard.dashboard(chosen))

    @app.get("/api/insights/conversations", response_model=s.InsightConversationsOut,
             summary="The conversations behind a figure of the dashboard, with where to read each (leads only)", **common)
    def conversations(figure: Figure = Query(..., description="the figure, as the dashboard names it"),
                      bucket_start: Optional[datetime] = Query(None, description="a bucket's start as the figures give it; "
                                                                                 "omit for the whole period"),
                      key: Optional[str] = Query(None, max_length=255, description="narrows the figure: a reason (handoffs), "
                                                 "a rating (csat), a score or band (nps), a survey (comments), "
                                                 "an intent (intent, fallback), an hour of the day (queue)"),
                      limit: int = Query(50, ge=1, le=500),
                      chosen: d.Period = Depends(period)) -> s.InsightConversationsOut:
        _check_key(figure, key)
        start = _naive_utc(bucket_start)
        try:
            ids = insights.dashboard.conversation_ids(chosen, figure, start, key, limit)
        except ValueError as refused:  # a bucket_start that is not one of the period's buckets
            raise refuse(400, str(refused)) from None
        return s.InsightConversationsOut(figure=figure, key=key, bucket_start=s.utc(start), available=ids is not None,
                                         limit=limit, conversations=[_conversation(cid) for cid in ids or []])

    @app.get("/api/insights/transcript", response_model=s.TranscriptOut,
             summary="A conversation's messages with personal details masked, for the leads' dashboard (leads only)", **common)
    # no control characters: PostgreSQL refuses a NUL in a string (a 500 from the driver), and no channel makes them
    def transcript(conversation_id: str = Query(..., min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$"),
                   who: Caller = Depends(lead)) -> s.TranscriptOut:
        found = insights.transcripts.transcript(conversation_id)
        if found is None:
            raise refuse(404, "no conversation with that id")
        return s.transcript_out(found)

    @app.get("/api/insights/{table}.csv", response_class=Response,
             summary="One table of the dashboard as CSV, the same columns as its JSON (leads only)",
             tags=["insights", "leads"],
             responses={**ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                        "description": "RFC 4180 CSV with a header row"}})
    def table_csv(table: Table, chosen: d.Period = Depends(period)) -> Response:
        row_type, compute = TABLES[table]
        rows = compute(insights.dashboard, chosen)
        if rows is None:
            raise refuse(404, f"the {table} table needs Rasa's SQL tracker store, and there is none")
        last_day = (chosen.until - timedelta(days=1)).date()
        name = f"insights-{table}-{chosen.since.date()}-{last_day}-{chosen.channel or 'all'}-{chosen.bucket}.csv"
        return Response(d.to_csv(rows, row_type), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _check_key(figure: str, key: Optional[str]) -> None:
    if key is None:
        return
    if figure not in KEYS:
        raise refuse(400, f"the figure {figure} takes no key")
    pattern, meaning = KEYS[figure]
    if not pattern.fullmatch(key):
        raise refuse(400, f"the key of {figure} must be {meaning}")


def _naive_utc(moment: Optional[datetime]) -> Optional[datetime]:
    """The data layer's times are naive UTC; a time with an offset (as the figures give them) is converted."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _conversation(conversation_id: str) -> s.InsightConversationOut:
    encoded = quote(conversation_id, safe="")
    return s.InsightConversationOut(conversation_id=conversation_id, channel=channel_of(conversation_id),
                                    transcript=f"/api/insights/transcript?conversation_id={encoded}",
                                    page=f"{PAGE}#/conversation/{encoded}")
