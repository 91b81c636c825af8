"""The leads' insights API over a synthetic history (bot.insights.synthetic, small scale) in SQLite: figures as the
data layer computes them and as plain SQL written here counts them, who may ask, every parameter checked (400/422,
never a 500), the conversations behind a figure and their masked transcripts, and each table's CSV."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Dict, List

import pytest
import sqlalchemy as sa

from bot.handoff.models import FRUSTRATED
from bot.insights.dashboard import DAY, InsightsDashboard, Period, csv_rows, epoch, events
from bot.insights.feedback import feedback_comments, nps_scores
from bot.insights.synthetic import seed_engines
from bot.store.directory import create_engine
from bot.web import schemas as s
from bot.web.insights_routes import TABLES
from tests.bot.web.conftest import OPEN

# the seeded fortnight, ending on the desk's clock (OPEN, 2026-10-06 14:00): whole days 2026-09-23 .. 2026-10-06
SINCE_DAY, UNTIL_DAY = "2026-09-23", "2026-10-06"
PERIOD = Period(datetime(2026, 9, 23), datetime(2026, 10, 7), None, DAY)
QUERY = {"since": SINCE_DAY, "until": UNTIL_DAY}
HOSTILE = "<img src=x onerror=window.__xss=1>"
# what the masked transcript must never show, and the placeholders it shows instead
PERSONAL = "I'm jane.doe@example.com, card 4111 1111 1111 1111, order 104512, call +1 (555) 010-2030"
COMMENT = "2, mail jane.doe@example.com <img src=x onerror=window.__xss=2> card 4111 1111 1111 1111"


def seed_insights(desk, conversations: int = 300) -> None:
    """A fortnight of synthetic history in the desk's databases, then a conversation full of personal details and,
    from a hostile intent name, reason and conversation id, enough rows to reach the top of every table."""
    app, tracker = create_engine(desk.app_db_url), create_engine(desk.tracker_url)
    try:
        seed_engines(app, tracker, conversations=conversations, days=14, until=OPEN, seed=3)
        at = OPEN - timedelta(hours=3)
        rows = [dict(sender_id="web-personal", type_name="user", timestamp=epoch(at), intent_name="inform", action_name=None,
                     data=json.dumps({"event": "user", "timestamp": epoch(at), "text": PERSONAL,
                                      "parse_data": {"intent": {"name": "inform"}}})),
                dict(sender_id="web-personal", type_name="bot", timestamp=epoch(at) + 1, intent_name=None, action_name=None,
                     data=json.dumps({"event": "bot", "timestamp": epoch(at) + 1, "text": "Thanks jane.doe@example.com"}))]
        for n in range(200):  # the most frequent intent of the period, so it is in the top intents
            moment = epoch(at) + 2 + n
            rows.append(dict(sender_id=HOSTILE if n == 0 else f"web-hostile-{n:03d}", type_name="user", timestamp=moment,
                             intent_name=HOSTILE, action_name=None,
                             data=json.dumps({"event": "user", "timestamp": moment, "text": "hi", "parse_data": {"intent": {"name": HOSTILE}}})))
        with tracker.begin() as conn:
            conn.execute(sa.insert(events), rows)
        with app.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO handoffs (conversation_id, channel, state, reason, reason_detail, summary, packet, customer_verified, "
                "frustration, created_at, updated_at) VALUES (:cid, 'socketio', 'waiting', :reason, 'x', 'x', '{}', 0, 0.1, :at, :at)"),
                {"cid": HOSTILE, "reason": HOSTILE, "at": at})
            # an NPS answer with a comment full of personal details (and markup), from the masked conversation
            conn.execute(sa.insert(nps_scores).values(conversation_id="web-personal", score=2, at=at + timedelta(minutes=5)))
            conn.execute(sa.insert(feedback_comments).values(conversation_id="web-personal", survey="nps", score=2,
                                                             text=COMMENT, at=at + timedelta(minutes=5)))
    finally:
        app.dispose()
        tracker.dispose()


@pytest.fixture
def seeded(desk):
    seed_insights(desk)
    return desk


def sql(url: str, text: str, **params) -> List[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(text), params)]
    finally:
        engine.dispose()


def days() -> List[str]:
    return [(PERIOD.since + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(14)]


def conversations_per_day(desk) -> Dict[str, int]:
    """Distinct conversations with a customer message per UTC day, straight from Rasa's events table."""
    found = sql(desk.tracker_url, "SELECT date(timestamp, 'unixepoch') AS d, COUNT(DISTINCT sender_id) FROM events "
                                  "WHERE type_name = 'user' AND timestamp >= :a AND timestamp < :b GROUP BY d",
                a=epoch(PERIOD.since), b=epoch(PERIOD.until))
    return {d: n for d, n in found}


def handoffs_per_day_and_reason(desk) -> Dict[tuple, int]:
    found = sql(desk.app_db_url, "SELECT date(created_at), reason, COUNT(*) FROM handoffs WHERE created_at >= :a AND created_at < :b "
                                 "GROUP BY date(created_at), reason", a=PERIOD.since, b=PERIOD.until)
    return {(d, r): n for d, r, n in found}


def lead_get(client, desk, path: str, **params):
    return client.get(path, params=params, headers=desk.bearer(desk.lee))


# --- the figures ----------------------------------------------------------------------------------------------

def test_a_lead_gets_every_figure_as_the_data_layer_computes_it(client, seeded):
    answer = lead_get(client, seeded, "/api/insights", **QUERY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    board = InsightsDashboard.from_urls(seeded.app_db_url, seeded.tracker_url).dashboard(PERIOD)
    assert body == json.loads(s.insights_out(board).json())
    assert body["period"]["since"] == "2026-09-23T00:00:00+00:00" and body["period"]["until"] == "2026-10-07T00:00:00+00:00"
    assert len(body["period"]["bucket_starts"]) == 14 and body["tracker_store"] is True
    for table in ("conversations", "handoff_reasons", "csat", "csat_distribution", "agent_times", "queue", "knowledge", "intents",
                  "frustration"):
        assert body[table], table  # the seeded history reaches every table


def test_the_figures_match_sql_counted_independently(client, seeded):
    body = lead_get(client, seeded, "/api/insights", **QUERY).json()
    per_day = conversations_per_day(seeded)
    assert {row["start"][:10]: row["conversations"] for row in body["conversations"]} == {d: per_day.get(d, 0) for d in days()}
    reasons = handoffs_per_day_and_reason(seeded)
    shown = {(row["start"][:10], row["reason"]): row["handoffs"] for row in body["handoff_reasons"] if row["handoffs"]}
    assert shown == reasons
    tickets = dict(sql(seeded.app_db_url, "SELECT date(created_at), COUNT(*) FROM tickets WHERE created_at >= :a AND created_at < :b "
                                          "GROUP BY date(created_at)", a=PERIOD.since, b=PERIOD.until))
    assert {row["start"][:10]: row["offline_tickets"] for row in body["conversations"] if row["offline_tickets"]} == tickets
    ratings = dict(sql(seeded.app_db_url, "SELECT rating, COUNT(*) FROM csat_ratings WHERE at >= :a AND at < :b GROUP BY rating",
                       a=PERIOD.since, b=PERIOD.until))
    assert {row["rating"]: row["count"] for row in body["csat_distribution"]} == {r: ratings.get(r, 0) for r in range(1, 6)}
    # the hostile intent is counted and returned as the data it is
    assert {"intent": HOSTILE, "messages": 200, "fallbacks": 0, "fallback_rate": 0.0} in body["intents"]
    reached = dict(sql(seeded.tracker_url, "SELECT date(timestamp, 'unixepoch'), COUNT(DISTINCT sender_id) FROM events "
                                           "WHERE type_name = 'slot' AND action_name = 'handoff_reason' "
                                           "AND json_extract(data, '$.value') = 'frustrated' GROUP BY 1"))
    assert {row["start"][:10]: row["reached"] for row in body["frustration"] if row["reached"]} == reached


def test_channel_and_week_narrow_and_regroup(client, seeded):
    slack = lead_get(client, seeded, "/api/insights", channel="slack", **QUERY).json()
    counted = sql(seeded.tracker_url, "SELECT COUNT(DISTINCT sender_id) FROM events WHERE type_name = 'user' AND sender_id LIKE 'slack:%' "
                                      "AND timestamp >= :a AND timestamp < :b", a=epoch(PERIOD.since), b=epoch(PERIOD.until))[0][0]
    assert slack["period"]["channel"] == "slack" and 0 < counted
    whole = lead_get(client, seeded, "/api/insights", channel="slack", bucket="period", **QUERY).json()
    assert [row["conversations"] for row in whole["conversations"]] == [counted]
    weeks = lead_get(client, seeded, "/api/insights", bucket="week", **QUERY).json()
    assert [row["start"][:10] for row in weeks["conversations"]] == ["2026-09-23", "2026-09-30"]


def test_the_default_period_is_the_last_30_days_to_today(client, seeded):
    body = lead_get(client, seeded, "/api/insights").json()
    assert body["period"]["since"] == "2026-09-07T00:00:00+00:00" and body["period"]["until"] == "2026-10-07T00:00:00+00:00"
    assert body["period"]["bucket"] == "day" and body["period"]["channel"] is None


# --- who may ask --------------------------------------------------------------------------------------------------

ROUTES = [("/api/insights", {}), ("/api/insights/conversations", {"figure": "handoffs"}),
          ("/api/insights/transcript", {"conversation_id": "web-personal"}), ("/api/insights/knowledge.csv", {})]


@pytest.mark.parametrize("path, params", ROUTES)
def test_only_leads_see_insights(client, seeded, path, params):
    assert client.get(path, params=params).status_code == 401
    refused = client.get(path, params=params, headers=seeded.bearer(seeded.maya))
    assert refused.status_code == 403 and refused.json() == {"error": "only leads can do that"}
    assert client.get(path, params=params, headers=seeded.bearer(seeded.lee)).status_code == 200


# --- parameters -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, params, status, says", [
    ("/api/insights", {"since": "2026-10-06", "until": "2026-10-01"}, 400, "until must not be before since"),
    ("/api/insights", {"since": "2025-01-01", "until": "2026-10-01"}, 400, "at most 366 days"),
    ("/api/insights", {"since": "1999-12-31", "until": "2000-01-02"}, 400, "since must be between"),
    ("/api/insights", {"until": "9999-12-31"}, 400, "until must be between"),
    ("/api/insights", {"since": "yesterday"}, 422, "since"),
    ("/api/insights", {"since": "2026-02-30"}, 422, "since"),
    ("/api/insights", {"channel": "email"}, 422, "channel"),
    ("/api/insights", {"bucket": "month"}, 422, "bucket"),
    ("/api/insights/conversations", {}, 422, "figure"),
    ("/api/insights/conversations", {"figure": "revenue"}, 422, "figure"),
    ("/api/insights/conversations", {"figure": "csat", "key": "6"}, 400, "a rating from 1 to 5"),
    ("/api/insights/conversations", {"figure": "csat", "key": "1; DROP TABLE handoffs"}, 400, "a rating from 1 to 5"),
    ("/api/insights/conversations", {"figure": "queue", "key": "24"}, 400, "an hour of the day"),
    ("/api/insights/conversations", {"figure": "handoffs", "key": "Frustrated!"}, 400, "a handoff reason"),
    ("/api/insights/conversations", {"figure": "resolved", "key": "x"}, 400, "takes no key"),
    ("/api/insights/conversations", {"figure": "intent", "key": "x" * 256}, 422, "key"),
    ("/api/insights/conversations", {"figure": "handoffs", "bucket_start": "2026-09-23T12:00:00", **QUERY}, 400, "not the start of a bucket"),
    ("/api/insights/conversations", {"figure": "handoffs", "bucket_start": "2026-01-01T00:00:00", **QUERY}, 400, "not the start of a bucket"),
    ("/api/insights/conversations", {"figure": "handoffs", "bucket_start": "soon"}, 422, "bucket_start"),
    ("/api/insights/conversations", {"figure": "handoffs", "limit": "0"}, 422, "limit"),
    ("/api/insights/conversations", {"figure": "handoffs", "limit": "501"}, 422, "limit"),
    ("/api/insights/transcript", {}, 422, "conversation_id"),
    ("/api/insights/transcript", {"conversation_id": "x" * 256}, 422, "conversation_id"),
    ("/api/insights/transcript", {"conversation_id": "web-\x00"}, 422, "conversation_id"),
    ("/api/insights/transcript", {"conversation_id": "nobody"}, 404, "no conversation"),
    ("/api/insights/conversations", {"figure": "intent", "key": "greet\x00"}, 400, "an intent name"),
    ("/api/insights/revenue.csv", {}, 422, "table"),
    ("/api/insights/queue.csv", {"bucket": "hour"}, 422, "bucket"),
])
def test_bad_parameters_are_refused_with_the_reason(client, seeded, path, params, status, says):
    answer = lead_get(client, seeded, path, **params)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


def test_a_bucket_start_with_an_offset_is_read_as_utc(client, seeded):
    # the figures give their bucket starts with +00:00; the same moment at another offset is the same bucket
    utc = lead_get(client, seeded, "/api/insights/conversations", figure="handoffs", bucket_start="2026-09-30T00:00:00+00:00", **QUERY)
    paris = lead_get(client, seeded, "/api/insights/conversations", figure="handoffs", bucket_start="2026-09-30T02:00:00+02:00", **QUERY)
    assert utc.status_code == paris.status_code == 200 and utc.json()["conversations"] == paris.json()["conversations"]


# --- the conversations behind a figure --------------------------------------------------------------------------------

def test_the_conversations_behind_a_figure_are_those_sql_finds_and_each_opens(client, seeded):
    reasons = handoffs_per_day_and_reason(seeded)
    day, _ = max((key for key in reasons if key[1] == FRUSTRATED), key=lambda key: reasons[key])
    start = f"{day}T00:00:00+00:00"
    answer = lead_get(client, seeded, "/api/insights/conversations", figure="handoffs", key=FRUSTRATED, bucket_start=start, **QUERY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = sorted(cid for (cid,) in sql(seeded.app_db_url, "SELECT DISTINCT conversation_id FROM handoffs WHERE reason = :r "
                                                                "AND date(created_at) = :d", r=FRUSTRATED, d=day))
    assert [row["conversation_id"] for row in body["conversations"]] == expected
    assert body["figure"] == "handoffs" and body["key"] == FRUSTRATED and body["bucket_start"] == start and body["available"]
    first = body["conversations"][0]
    assert first["page"].startswith("/desk/insights/#/conversation/")
    transcript = client.get(first["transcript"], headers=seeded.bearer(seeded.lee))
    assert transcript.status_code == 200 and transcript.json()["conversation_id"] == first["conversation_id"]
    assert [line["who"] for line in transcript.json()["lines"]][:1] == ["customer"]


def test_limit_caps_the_list(client, seeded):
    answer = lead_get(client, seeded, "/api/insights/conversations", figure="conversations", limit=7, **QUERY).json()
    assert len(answer["conversations"]) == 7 and answer["limit"] == 7


def test_a_hostile_conversation_id_is_returned_as_data_with_an_encoded_link(client, seeded):
    found = lead_get(client, seeded, "/api/insights/conversations", figure="intent", key=HOSTILE, limit=500, **QUERY).json()
    hostile = next(row for row in found["conversations"] if row["conversation_id"] == HOSTILE)
    assert "<" not in hostile["page"] and "<" not in hostile["transcript"]
    assert client.get(hostile["transcript"], headers=seeded.bearer(seeded.lee)).json()["conversation_id"] == HOSTILE


def test_the_transcript_masks_personal_details(client, seeded):
    body = lead_get(client, seeded, "/api/insights/transcript", conversation_id="web-personal").json()
    texts = [line["text"] for line in body["lines"]]
    assert texts == ["I'm [email], card [card number], order [order number], call [phone]", "Thanks [email]"]
    assert [line["who"] for line in body["lines"]] == ["customer", "bot"] and body["channel"] == "website"
    assert "jane" not in json.dumps(body) and "4111" not in json.dumps(body)


# --- CSV --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("table", sorted(TABLES))
def test_each_table_exports_as_csv_matching_its_json(client, seeded, table):
    answer = lead_get(client, seeded, f"/api/insights/{table}.csv", bucket="day", **QUERY)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="insights-{table}-{SINCE_DAY}-{UNTIL_DAY}-all-day.csv"'
    parsed = list(csv.reader(io.StringIO(answer.text)))
    row_type, compute = TABLES[table]
    assert parsed[0] == [f.name for f in fields(row_type)]
    board = InsightsDashboard.from_urls(seeded.app_db_url, seeded.tracker_url)
    assert parsed == csv_rows(compute(board, PERIOD), row_type)
    shown = lead_get(client, seeded, "/api/insights", **QUERY).json()[table]
    assert len(parsed) - 1 == len(shown)


def test_the_conversations_csv_counts_what_sql_counts(client, seeded):
    parsed = list(csv.DictReader(io.StringIO(lead_get(client, seeded, "/api/insights/conversations.csv", **QUERY).text)))
    per_day = conversations_per_day(seeded)
    assert {row["start"][:10]: int(row["conversations"]) for row in parsed} == {d: per_day.get(d, 0) for d in days()}


def test_an_empty_period_exports_its_header(client, seeded):
    answer = lead_get(client, seeded, "/api/insights/intents.csv", since="2020-01-01", until="2020-01-31")
    assert answer.status_code == 200 and answer.text == "intent,messages,fallbacks,fallback_rate\r\n"
    ratings = lead_get(client, seeded, "/api/insights", since="2020-01-01", until="2020-01-31").json()["csat_distribution"]
    assert Counter(row["count"] for row in ratings) == {0: 5}


# --- the page's files ------------------------------------------------------------------------------------------------

def test_the_insights_page_has_no_inline_scripts_and_its_charts_are_served_from_here(client):
    import re

    page = client.get("/desk/insights/").text
    assert "<title>Insights</title>" in page
    assert page.count("<script") == page.count('<script src="') == 1
    assert re.search(r"<[^>]*\son[a-z]+\s*=", page) is None and "style=" not in page
    script = client.get("/desk/insights/insights.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script.text, sink
    charts = client.get("/desk/vendor/charts.js")  # Chart.js, built by `make insights`, served from here (no CDN)
    assert charts.status_code == 200 and "javascript" in charts.headers["content-type"] and "Chart" in charts.text
    assert client.get("/desk/insights/insights.css").status_code == 200
