"""The dashboard's figures, on SQLite and PostgreSQL, against the same figures computed here in plain Python
over the seeded rows (a synthetic history plus a few hand-written conversations)."""
from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Set

import pytest
import sqlalchemy as sa

from bot.handoff.models import ABANDONED, CUSTOMER_REQUEST, FRUSTRATED, KB_NO_ANSWER, REASONS, RESOLVED
from bot.handoff.store import csat_ratings, handoff_messages, handoffs, tickets
from bot.insights.dashboard import (
    DAY,
    FIGURES,
    PERIOD,
    TRACKER_INDEXES,
    WEEK,
    InsightsDashboard,
    Period,
    csv_rows,
    ensure_tracker_indexes,
    epoch,
    events,
    to_csv,
)
from bot.insights.feedback import feedback_comments, nps_scores
from bot.insights.log import ANSWERED, CLARIFIED, RATED, UNANSWERED, knowledge_events
from bot.insights.sql import SLACK, WEBSITE, channel_of
from bot.insights.synthetic import seed_engines
from bot.store.directory import create_engine
from tests.databases import fresh_postgres, sqlite_url

NOW = datetime(2026, 12, 5, 12, 0)
SINCE = datetime(2026, 11, 21)  # midnight, two weeks before NOW: 15 day buckets, 3 week buckets
HAND = datetime(2026, 12, 3)  # the hand-written conversations' day
HAND_COMMENT = "2, email me at jane.doe@example.com, card 4111 1111 1111 1111 was charged twice"


class Dbs:
    def __init__(self, app_url: str, tracker_url: str) -> None:
        self.app, self.tracker = create_engine(app_url), create_engine(tracker_url)

    def rows(self, engine: sa.engine.Engine, table: sa.Table) -> List[Dict[str, Any]]:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table))]

    def dispose(self) -> None:
        self.app.dispose()
        self.tracker.dispose()


def _write(dbs: Dbs) -> None:
    """The synthetic history, then hand-written conversations whose figures are known by construction."""
    seed_engines(dbs.app, dbs.tracker, conversations=400, days=16, until=NOW, seed=7)

    def user(cid, at, intent, data=None):  # noqa: ANN001, ANN202
        body = {"event": "user", "timestamp": epoch(at), "text": "hi", "parse_data": data or {"intent": {"name": intent}}}
        return dict(sender_id=cid, type_name="user", timestamp=epoch(at), intent_name=intent, action_name=None,
                    data=json.dumps(body))

    def slot(cid, at, value):  # noqa: ANN001, ANN202
        body = {"event": "slot", "timestamp": epoch(at), "name": "handoff_reason", "value": value}
        return dict(sender_id=cid, type_name="slot", timestamp=epoch(at), intent_name=None, action_name="handoff_reason",
                    data=json.dumps(body))

    guess = {"intent": {"name": "nlu_fallback"}, "intent_ranking": [{"name": "nlu_fallback"}, {"name": "refund_status"}]}
    tracker_rows = [
        user("hand-midnight", HAND, "greet"),  # exactly at midnight: that day, not the one before
        user("hand-fallback", HAND + timedelta(hours=1), "nlu_fallback", guess),
        user("hand-angry", HAND + timedelta(hours=2), "complain"),
        slot("hand-angry", HAND + timedelta(hours=2, seconds=1), FRUSTRATED),
        user("slack:TH:DANGRY", HAND + timedelta(hours=3), "complain"),
        slot("slack:TH:DANGRY", HAND + timedelta(hours=3, seconds=1), FRUSTRATED),
    ]
    with dbs.tracker.begin() as conn:
        conn.execute(sa.insert(events), tracker_rows)
    with dbs.app.begin() as conn:
        next_id = int(conn.execute(sa.select(sa.func.max(handoffs.c.id))).scalar() or 0) + 1
        base = dict(channel="socketio", reason_detail="", summary="", packet="{}", customer_verified=False, frustration=0.7,
                    assigned_at=None, resolved_at=None, abandoned_at=None)
        conn.execute(sa.insert(handoffs), [
            dict(base, id=next_id, conversation_id="hand-angry", state=RESOLVED, reason=FRUSTRATED,
                 created_at=HAND + timedelta(hours=2, seconds=2), assigned_at=HAND + timedelta(hours=2, minutes=1),
                 resolved_at=HAND + timedelta(hours=2, minutes=30), updated_at=HAND + timedelta(hours=2, minutes=30)),
            # waiting across two full hours (04:00 and 05:00), then abandoned unclaimed
            dict(base, id=next_id + 1, conversation_id="hand-midnight", state=ABANDONED, reason=KB_NO_ANSWER,
                 created_at=HAND + timedelta(hours=3, minutes=50), abandoned_at=HAND + timedelta(hours=5, minutes=10),
                 updated_at=HAND + timedelta(hours=5, minutes=10)),
        ])
        conn.execute(sa.insert(handoff_messages), [
            dict(handoff_id=next_id, author="agent", text="hello", at=HAND + timedelta(hours=2, minutes=2), delivered=True),
            dict(handoff_id=next_id, author="agent", text="again", at=HAND + timedelta(hours=2, minutes=5), delivered=True),
        ])
        # the Slack customer found nobody and left the offline form: stayed with the bot
        conn.execute(sa.insert(csat_ratings), [dict(conversation_id="hand-angry", handoff_id=next_id, rating=2,
                                                    at=HAND + timedelta(hours=2, minutes=31))])
        conn.execute(sa.insert(nps_scores), [dict(conversation_id="hand-angry", handoff_id=next_id, score=3,
                                                  at=HAND + timedelta(hours=2, minutes=32))])
        conn.execute(sa.insert(feedback_comments), [
            dict(conversation_id="hand-angry", survey="csat", score=2, text=HAND_COMMENT, at=HAND + timedelta(hours=2, minutes=31)),
            dict(conversation_id="hand-angry", survey="nps", score=3, text="3, too slow", at=HAND + timedelta(hours=2, minutes=32)),
        ])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dbs(request, tmp_path_factory):
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("dashboard")
        found = Dbs(sqlite_url(folder), sqlite_url(folder, "conversations.db"))
        _write(found)
        yield found
        found.dispose()
        return
    app_url, drop_app = fresh_postgres()  # skips with the reason when no server answers
    tracker_url, drop_tracker = fresh_postgres()
    found = Dbs(app_url, tracker_url)
    _write(found)
    yield found
    found.dispose()
    drop_app()
    drop_tracker()


PERIODS = [Period(SINCE, NOW, None, DAY), Period(SINCE, NOW, None, WEEK), Period(SINCE, NOW, SLACK, DAY),
           Period(SINCE, NOW, WEBSITE, PERIOD)]


def dashboard(dbs: Dbs, tracker: bool = True) -> InsightsDashboard:
    return InsightsDashboard(dbs.app, dbs.tracker if tracker else None)


# the reference: the same figures in plain Python over every row ---------------------------------------------

def bucket(period: Period, at: datetime) -> Optional[int]:
    if not period.since <= at < period.until:
        return None
    return int((at - period.since).total_seconds() // period.bucket_seconds)


def kept(period: Period, conversation_id: str) -> bool:
    return period.channel is None or channel_of(conversation_id) == period.channel


def tracker_rows(dbs: Dbs, period: Period) -> List[Dict[str, Any]]:
    found = []
    for row in dbs.rows(dbs.tracker, events):
        at = datetime.utcfromtimestamp(row["timestamp"])
        if kept(period, row["sender_id"]) and bucket(period, at) is not None:
            found.append(dict(row, at=at, b=bucket(period, at)))
    return found


def app_rows(dbs: Dbs, table: sa.Table, period: Period, at: str = "created_at") -> List[Dict[str, Any]]:
    return [dict(r, b=bucket(period, r[at])) for r in dbs.rows(dbs.app, table)
            if kept(period, r["conversation_id"]) and bucket(period, r[at]) is not None]


def conversations_per_bucket(dbs: Dbs, period: Period) -> Dict[int, Set[str]]:
    found: Dict[int, Set[str]] = defaultdict(set)
    for row in tracker_rows(dbs, period):
        if row["type_name"] == "user":
            found[row["b"]].add(row["sender_id"])
    return found


def person_per_bucket(dbs: Dbs, period: Period, reason: Optional[str] = None) -> Dict[int, Set[str]]:
    found: Dict[int, Set[str]] = defaultdict(set)
    for table in (handoffs, tickets):
        for row in app_rows(dbs, table, period):
            if reason is None or row["reason"] == reason:
                found[row["b"]].add(row["conversation_id"])
    return found


def nearest_rank(values: List[float], p: int) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


# the figures ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.channel}-{p.bucket}")
def test_conversations_containment_and_reasons(dbs, period):
    board = dashboard(dbs).dashboard(period)
    talked, person = conversations_per_bucket(dbs, period), person_per_bucket(dbs, period)
    handed = defaultdict(set)
    reasons = Counter()
    for row in app_rows(dbs, handoffs, period):
        handed[row["b"]].add(row["conversation_id"])
        reasons[(row["b"], row["reason"])] += 1
    ticket_count = Counter(row["b"] for row in app_rows(dbs, tickets, period))
    assert [r.start for r in board.conversations] == period.starts()
    assert sum(len(s) for s in talked.values()) > 0
    for i, row in enumerate(board.conversations):
        n = len(talked[i])
        assert (row.conversations, row.handed_off, row.offline_tickets, row.with_person) == (
            n, len(handed[i]), ticket_count[i], len(person[i]))
        assert row.contained == max(n - len(person[i]), 0)
        assert row.containment_rate == (pytest.approx(row.contained / n) if n else None)
    for row in board.handoff_reasons:
        i = period.starts().index(row.start)
        assert row.handoffs == reasons[(i, row.reason)]
        n = len(talked[i])
        assert row.rate == (pytest.approx(row.handoffs / n) if n else None)
    assert {r.reason for r in board.handoff_reasons} >= set(REASONS)
    assert sum(r.handoffs for r in board.handoff_reasons) == sum(reasons.values()) > 0


@pytest.mark.parametrize("period", PERIODS[:3], ids=lambda p: f"{p.channel}-{p.bucket}")
def test_csat_distribution_and_trend(dbs, period):
    d = dashboard(dbs)
    ratings = app_rows(dbs, csat_ratings, period, at="at")
    per = Counter((r["b"], r["rating"]) for r in ratings)
    for i, row in enumerate(d.csat(period)):
        counts = [per[(i, k)] for k in range(1, 6)]
        assert [row.rating_1, row.rating_2, row.rating_3, row.rating_4, row.rating_5] == counts
        assert row.ratings == sum(counts)
        assert row.average == (pytest.approx(sum(k * c for k, c in zip(range(1, 6), counts)) / sum(counts))
                               if sum(counts) else None)
    total = Counter(r["rating"] for r in ratings)
    assert [(s.rating, s.count) for s in d.csat_distribution(period)] == [(k, total[k]) for k in range(1, 6)]


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.channel}-{p.bucket}")
def test_nps_trend_and_distribution(dbs, period):
    d = dashboard(dbs)
    scores = app_rows(dbs, nps_scores, period, at="at")
    assert len(scores) > 0 or period.channel == SLACK  # the fortnight's few Slack ratings may have none
    per = defaultdict(list)
    for r in scores:
        per[r["b"]].append(r["score"])
    for i, row in enumerate(d.nps(period)):
        given = per[i]
        promoters, detractors = sum(s >= 9 for s in given), sum(s <= 6 for s in given)
        assert (row.answers, row.promoters, row.passives, row.detractors) == (
            len(given), promoters, sum(7 <= s <= 8 for s in given), detractors)
        assert row.nps == (pytest.approx(100 * (promoters - detractors) / len(given)) if given else None)
    total = Counter(r["score"] for r in scores)
    shares = d.nps_distribution(period)
    assert [(s.score, s.count) for s in shares] == [(n, total[n]) for n in range(11)]
    assert [s.band for s in shares] == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    assert sum(s.share for s in shares) == pytest.approx(1) if scores else all(s.share is None for s in shares)


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.channel}-{p.bucket}")
def test_comments_newest_first_masked_with_their_conversation(dbs, period):
    rows = app_rows(dbs, feedback_comments, period, at="at")
    assert len(rows) > 0 or period.channel == SLACK
    newest = sorted(rows, key=lambda r: (r["at"], r["id"]), reverse=True)
    shown = dashboard(dbs).comments(period, limit=10_000)
    assert [(c.at, c.conversation_id, c.survey, c.score) for c in shown] == [
        (r["at"], r["conversation_id"], r["survey"], r["score"]) for r in newest]
    assert all(c.channel == channel_of(c.conversation_id) for c in shown)
    assert [c.conversation_id for c in dashboard(dbs).comments(period, limit=3)] == [r["conversation_id"] for r in newest[:3]]


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.channel}-{p.bucket}")
def test_agent_times_are_nearest_rank_percentiles(dbs, period):
    first_reply: Dict[int, datetime] = {}
    for m in dbs.rows(dbs.app, handoff_messages):
        if m["author"] == "agent":
            first_reply[m["handoff_id"]] = min(first_reply.get(m["handoff_id"], m["at"]), m["at"])
    replies, resolutions, counts = defaultdict(list), defaultdict(list), Counter()
    abandoned, unclaimed = Counter(), Counter()
    for h in app_rows(dbs, handoffs, period):
        counts[h["b"]] += 1
        if h["id"] in first_reply:
            replies[h["b"]].append((first_reply[h["id"]] - h["created_at"]).total_seconds())
        if h["state"] == RESOLVED:
            resolutions[h["b"]].append((h["resolved_at"] - h["created_at"]).total_seconds())
        if h["state"] == ABANDONED:
            abandoned[h["b"]] += 1
            unclaimed[h["b"]] += h["assigned_at"] is None
    rows = dashboard(dbs).agent_times(period)
    assert sum(r.replied for r in rows) > 0
    for i, row in enumerate(rows):
        assert (row.handoffs, row.replied, row.resolved, row.abandoned, row.abandoned_unclaimed) == (
            counts[i], len(replies[i]), len(resolutions[i]), abandoned[i], unclaimed[i])
        for got, want in ((row.first_reply_p50, nearest_rank(replies[i], 50)),
                          (row.first_reply_p90, nearest_rank(replies[i], 90)),
                          (row.resolution_p50, nearest_rank(resolutions[i], 50)),
                          (row.resolution_p90, nearest_rank(resolutions[i], 90))):
            assert (got is None and want is None) or got == pytest.approx(want, abs=0.01)


@pytest.mark.parametrize("period", [PERIODS[0], PERIODS[2], Period(SINCE + timedelta(minutes=30), NOW, None, DAY)],
                         ids=["all", "slack", "half-past"])
def test_queue_by_hour_of_day(dbs, period):
    origin = period.since.replace(minute=0)
    found = {r.hour: r for r in dashboard(dbs).queue_by_hour(period)}
    snapshots: Dict[int, List[int]] = defaultdict(list)
    waits = []
    for h in dbs.rows(dbs.app, handoffs):
        if kept(period, h["conversation_id"]):
            left = h["assigned_at"] or h["resolved_at"] or h["abandoned_at"]
            waits.append((h["created_at"], left))
    moment = origin + timedelta(hours=1)
    while moment <= period.until:
        snapshots[moment.hour].append(sum(1 for created, left in waits if created < moment and (left is None or left >= moment)))
        moment += timedelta(hours=1)
    for hour in range(24):
        assert found[hour].snapshots == len(snapshots[hour])
        assert found[hour].mean_waiting == pytest.approx(sum(snapshots[hour]) / len(snapshots[hour]))
        assert found[hour].max_waiting == max(snapshots[hour])
    assert any(r.max_waiting for r in found.values())


@pytest.mark.parametrize("period", PERIODS[:3], ids=lambda p: f"{p.channel}-{p.bucket}")
def test_help_centre_rates(dbs, period):
    per = Counter()
    for e in app_rows(dbs, knowledge_events, period, at="at"):
        per[(e["b"], e["kind"])] += 1
        per[(e["b"], "helpful")] += e["kind"] == RATED and e["helpful"] is True
    for i, row in enumerate(dashboard(dbs).knowledge(period)):
        decided = per[(i, ANSWERED)] + per[(i, CLARIFIED)] + per[(i, UNANSWERED)]
        assert (row.answered, row.clarified, row.unanswered, row.rated, row.helpful) == (
            per[(i, ANSWERED)], per[(i, CLARIFIED)], per[(i, UNANSWERED)], per[(i, RATED)], per[(i, "helpful")])
        assert row.answer_rate == (pytest.approx(row.answered / decided) if decided else None)
        assert row.helpful_rate == (pytest.approx(row.helpful / row.rated) if row.rated else None)


@pytest.mark.parametrize("period", PERIODS[:3], ids=lambda p: f"{p.channel}-{p.bucket}")
def test_top_intents_count_a_fallback_for_the_nlu_guess(dbs, period):
    messages, fallbacks = Counter(), Counter()
    for row in tracker_rows(dbs, period):
        if row["type_name"] != "user":
            continue
        intent = row["intent_name"]
        if intent == "nlu_fallback":
            ranking = json.loads(row["data"])["parse_data"].get("intent_ranking") or []
            intent = ranking[1]["name"] if len(ranking) > 1 else "nlu_fallback"
            fallbacks[intent] += 1
        messages[intent] += 1
    found = dashboard(dbs).intents(period, limit=5)
    assert [(r.intent, r.messages) for r in found] == sorted(messages.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    for row in found:
        assert row.fallbacks == fallbacks[row.intent] and row.fallback_rate == pytest.approx(row.fallbacks / row.messages)
    if period.channel != SLACK:  # the hand-written "did you mean" message counts for refund_status
        all_refund = dashboard(dbs).intents(period, limit=100)
        assert fallbacks["refund_status"] >= 1 and {r.intent: r.fallbacks for r in all_refund}["refund_status"] == fallbacks["refund_status"]


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.channel}-{p.bucket}")
def test_frustration_and_what_happened_after(dbs, period):
    reached: Dict[int, Set[str]] = defaultdict(set)
    for row in tracker_rows(dbs, period):
        if row["type_name"] == "slot" and json.loads(row["data"]).get("value") == FRUSTRATED:
            reached[row["b"]].add(row["sender_id"])
    handed, resolved, abandoned = defaultdict(set), Counter(), Counter()
    for h in app_rows(dbs, handoffs, period):
        if h["reason"] == FRUSTRATED:
            handed[h["b"]].add(h["conversation_id"])
            resolved[h["b"]] += h["state"] == RESOLVED
            abandoned[h["b"]] += h["state"] == ABANDONED
    ticketed = Counter(t["b"] for t in app_rows(dbs, tickets, period) if t["reason"] == FRUSTRATED)
    person = person_per_bucket(dbs, period, reason=FRUSTRATED)
    talked = conversations_per_bucket(dbs, period)
    rows = dashboard(dbs).frustration(period)
    assert sum(r.reached for r in rows) >= 1
    for i, row in enumerate(rows):
        assert (row.reached, row.handed_off, row.resolved_by_person, row.abandoned, row.offline_tickets) == (
            len(reached[i]), len(handed[i]), resolved[i], abandoned[i], ticketed[i])
        assert row.stayed_with_bot == len(reached[i] - person[i])
        assert row.share == (pytest.approx(len(reached[i]) / len(talked[i])) if talked[i] else None)


def test_hand_written_conversations(dbs):
    day = Period(HAND, HAND + timedelta(days=1), None, PERIOD)
    d = dashboard(dbs)
    # at exactly midnight the greeting is this day's (and yesterday's day bucket does not have it)
    assert "hand-midnight" in d.conversation_ids(day, "conversations", limit=10_000)
    assert "hand-midnight" not in d.conversation_ids(Period(HAND - timedelta(days=1), HAND, None, PERIOD),
                                                     "conversations", limit=10_000)
    # first agent reply 2 minutes - 2 seconds after the handoff; the later reply does not count
    mine = Period(HAND + timedelta(hours=2), HAND + timedelta(hours=2, minutes=1), None, PERIOD)
    times = d.agent_times(mine)[0]
    assert (times.handoffs, times.replied, times.resolved) == (1, 1, 1)
    assert times.first_reply_p50 == pytest.approx(118, abs=0.01) and times.resolution_p90 == pytest.approx(1798, abs=0.01)
    assert d.conversation_ids(day, "frustrated_handed_off", limit=10_000).count("hand-angry") == 1
    assert "slack:TH:DANGRY" in d.conversation_ids(day, "frustrated_stayed_with_bot", limit=10_000)
    assert "hand-angry" not in d.conversation_ids(day, "frustrated_stayed_with_bot", limit=10_000)
    assert "hand-angry" in d.conversation_ids(day, "csat", key="2", limit=10_000)
    assert "hand-angry" in d.conversation_ids(day, "nps", key="3", limit=10_000)
    assert "hand-angry" in d.conversation_ids(day, "nps", key="detractor", limit=10_000)
    assert "hand-angry" not in d.conversation_ids(day, "nps", key="promoter", limit=10_000)
    assert "hand-angry" in d.conversation_ids(day, "comments", key="csat", limit=10_000)
    # a comment reaches the leads with its personal details masked, like the transcripts
    [masked] = [c for c in d.comments(day) if c.conversation_id == "hand-angry" and c.survey == "csat"]
    assert "[email]" in masked.text and "[card number]" in masked.text
    assert "jane" not in masked.text and "4111" not in masked.text and "charged twice" in masked.text
    assert "hand-fallback" in d.conversation_ids(day, "fallback", key="refund_status", limit=10_000)
    # the abandoned handoff waited at 04:00 and 05:00 of that day
    assert "hand-midnight" in d.conversation_ids(day, "queue", key="4")
    assert "hand-midnight" in d.conversation_ids(day, "queue", key="5")
    assert "hand-midnight" not in d.conversation_ids(day, "queue", key="6", limit=10_000)
    assert "hand-midnight" in d.conversation_ids(day, "abandoned", limit=10_000)


@pytest.mark.parametrize("figure", FIGURES)
def test_conversation_ids_are_the_ones_behind_the_figure(dbs, figure):
    period = PERIODS[0]
    d = dashboard(dbs)
    start = period.starts()[-3]
    limit = 10_000
    key = {"handoffs": CUSTOMER_REQUEST, "csat": "5", "intent": "order_status", "fallback": "ask_question",
           "queue": "10", "nps": "promoter", "comments": "nps"}.get(figure)
    got = d.conversation_ids(period, figure, bucket_start=start, limit=limit, key=key)
    assert got == sorted(set(got))
    i = period.starts().index(start)
    if figure == "conversations":
        assert set(got) == conversations_per_bucket(dbs, period)[i]
    elif figure == "contained":
        assert set(got) == conversations_per_bucket(dbs, period)[i] - person_per_bucket(dbs, period)[i]
    elif figure == "with_person":
        assert set(got) == person_per_bucket(dbs, period)[i]
    elif figure == "handoffs":
        assert set(got) == {h["conversation_id"] for h in app_rows(dbs, handoffs, period)
                            if h["b"] == i and h["reason"] == CUSTOMER_REQUEST}
    elif figure == "csat":
        assert set(got) == {r["conversation_id"] for r in app_rows(dbs, csat_ratings, period, at="at")
                            if r["b"] == i and r["rating"] == 5}
    elif figure == "nps":
        assert set(got) == {r["conversation_id"] for r in app_rows(dbs, nps_scores, period, at="at")
                            if r["b"] == i and r["score"] >= 9}
    elif figure == "comments":
        assert set(got) == {r["conversation_id"] for r in app_rows(dbs, feedback_comments, period, at="at")
                            if r["b"] == i and r["survey"] == "nps"}
    elif figure == "not_helpful":
        assert set(got) == {e["conversation_id"] for e in app_rows(dbs, knowledge_events, period, at="at")
                            if e["b"] == i and e["kind"] == RATED and e["helpful"] is False}
    # every figure's count for the bucket matches its list's length where the figure counts conversations
    board = d.dashboard(period)
    counted = {"conversations": board.conversations[i].conversations, "contained": board.conversations[i].contained,
               "with_person": board.conversations[i].with_person, "frustrated": board.frustration[i].reached,
               "frustrated_handed_off": board.frustration[i].handed_off,
               "frustrated_stayed_with_bot": board.frustration[i].stayed_with_bot}
    if figure in counted:
        assert len(got) == counted[figure]
    assert d.conversation_ids(period, figure, bucket_start=start, limit=2, key=key) == got[:2]


def test_without_a_sql_tracker_store_its_figures_are_none(dbs):
    board = dashboard(dbs, tracker=False).dashboard(PERIODS[0])
    assert not board.tracker_store and board.intents is None
    assert all(r.conversations is None and r.containment_rate is None for r in board.conversations)
    assert all(r.rate is None for r in board.handoff_reasons)
    assert all(r.reached is None and r.stayed_with_bot is None for r in board.frustration)
    assert sum(r.handed_off for r in board.conversations) > 0  # the app database's figures are still there
    assert dashboard(dbs, tracker=False).conversation_ids(PERIODS[0], "contained") is None


def test_tables_export_as_csv(dbs):
    board = dashboard(dbs).dashboard(PERIODS[1])
    for table in (board.conversations, board.handoff_reasons, board.csat, board.csat_distribution, board.nps,
                  board.nps_distribution, board.comments, board.agent_times,
                  board.queue, board.knowledge, board.intents, board.frustration):
        parsed = list(csv.reader(io.StringIO(to_csv(table))))
        assert parsed == csv_rows(table) and len(parsed) == len(table) + 1
    header, *rows = list(csv.reader(io.StringIO(to_csv(board.conversations))))
    assert header[:3] == ["start", "conversations", "handed_off"]
    assert [datetime.fromisoformat(r[0]) for r in rows] == PERIODS[1].starts()
    assert [int(r[1]) for r in rows] == [r.conversations for r in board.conversations]


def test_the_figures_read_their_periods_by_index(dbs):
    """EXPLAIN QUERY PLAN of every statement the page runs: no full scan of Rasa's events or of a period's table."""
    if dbs.app.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL's planner picks by its statistics")
    ran: List[tuple] = []
    listeners = []
    for engine in (dbs.app, dbs.tracker):
        def record(conn, cursor, statement, parameters, context, executemany, engine=engine):  # noqa: ANN001, ANN202
            if not statement.startswith("EXPLAIN"):
                ran.append((engine, statement, parameters))
        sa.event.listen(engine, "before_cursor_execute", record)
        listeners.append((engine, record))
    try:
        dashboard(dbs).dashboard(PERIODS[0])
    finally:
        for engine, record in listeners:
            sa.event.remove(engine, "before_cursor_execute", record)
    plans = []
    for engine, statement, parameters in ran:
        with engine.connect() as conn:
            plans += [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert len(ran) >= 20 and plans
    period_tables = ("events", "tickets", "csat_ratings", "nps_scores", "feedback_comments", "knowledge_events")
    full_scans = [line for line in plans if any(line == f"SCAN {t}" for t in period_tables)]
    assert full_scans == [], full_scans
    assert any("COVERING INDEX ix_events_type_timestamp" in line for line in plans)
    assert any("INDEX ix_events_type_action_timestamp" in line for line in plans)
    assert any("INDEX ix_handoffs_created_at" in line for line in plans)


def test_the_tracker_indexes_are_added_once(tmp_path):
    engine = create_engine(sqlite_url(tmp_path, "conversations.db"))
    ensure_tracker_indexes(engine)  # no events table yet (Rasa has not started): nothing to do
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore.Base.metadata.create_all(engine)
    for _ in range(2):
        ensure_tracker_indexes(engine)
    names = {index["name"] for index in sa.inspect(engine).get_indexes("events")}
    assert {index.name for index in TRACKER_INDEXES} <= names
    engine.dispose()


def test_the_events_table_is_rasas():
    from rasa.core.tracker_store import SQLTrackerStore

    theirs = SQLTrackerStore.SQLEvent.__table__
    assert [(c.name, type(c.type), c.nullable) for c in theirs.columns] == [
        (c.name, type(c.type), c.nullable) for c in events.columns]


def test_a_period_is_checked():
    with pytest.raises(ValueError):
        Period(NOW, NOW)
    with pytest.raises(ValueError):
        Period(SINCE, NOW, bucket="month")
    with pytest.raises(ValueError):
        Period(SINCE, NOW, channel="email")
    assert len(Period(SINCE, NOW, bucket=WEEK).starts()) == 3 and len(Period(SINCE, NOW).starts()) == 15
