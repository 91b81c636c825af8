"""The leads' insights dashboard in a real browser (Debian's Chromium through Playwright) against the app served by
uvicorn, over a synthetic fortnight (bot.insights.synthetic) in SQLite.

A lead opens the dashboard: every chart is drawn (a canvas with pixels on it), and the numbers in the tables below
the charts are the ones SQL written here counts; a number leads to the conversations behind it, and one of those to
its transcript with personal details masked; the CSV links download each table. A hostile intent name, handoff
reason and conversation id show as text and run nothing. An agent is told the page is for leads.
Screenshots go to tests/artifacts/.
"""
from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Dict, List, Optional

import pytest

from bot.insights.dashboard import epoch
from bot.web.schemas import reason_label
from tests.bot.web.test_desk import ARGS, ARTIFACTS, CHROMIUM, Watched
from tests.bot.web.test_insights_api import HOSTILE, PERIOD, QUERY, conversations_per_day, days, handoffs_per_day_and_reason, seed_insights, sql

pytestmark = pytest.mark.integration

CHARTS = ["conversations", "handoff_reasons", "offline_tickets", "csat_distribution", "csat_trend", "nps_distribution", "nps_trend",
          "first_reply", "resolution", "queue", "abandoned", "knowledge", "intents", "frustration"]
TRAPS = """
window.__xss = undefined;
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  window[name] = (...args) => { window.__xss = `${name}(${args.join(',')})`; };
}
"""
# a canvas Chart.js drew on has coloured pixels; an empty one is all transparent
DRAWN = """(canvas) => {
  if (!canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the dashboard's browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Dashboard(Watched):
    def __init__(self, browser, base_url: str) -> None:
        super().__init__(browser, base_url)
        self.page.add_init_script(TRAPS)
        self.dialogs: List[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def open(self, email: str, hash_: str) -> None:
        self.sign_in(email)
        self.page.goto(f"/desk/insights/{hash_}")
        self.page.locator("#top").wait_for()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"insights-{name}.png"), full_page=True)

    def table(self, chart: str) -> List[Dict[str, str]]:
        """The table below a chart: one {column title: cell text} per row."""
        return self.page.evaluate("""(chart) => {
          const table = document.querySelector(`#chart-${chart} table`);
          const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
          return [...table.querySelectorAll('tbody tr')].map((tr) =>
            Object.fromEntries([...tr.children].map((td, i) => [heads[i], td.textContent])));
        }""", chart)

    def nothing_ran(self) -> None:
        assert self.page.evaluate("() => window.__xss") is None
        assert self.dialogs == []
        assert self.problems == []


@pytest.fixture
def dashboard(browser, live_desk):
    desk, server = live_desk
    seed_insights(desk)
    pages: List[Dashboard] = []

    def open_() -> Dashboard:
        page = Dashboard(browser, server.url)
        pages.append(page)
        return page

    yield desk, open_
    for page in pages:
        page.close()


def period_hash(**extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {**QUERY, **extra}.items())
    return f"#/dashboard?{query}"


def share(value: Optional[float]) -> Optional[float]:
    """A share as a percentage, unrounded: the page shows it to one decimal (so within 0.05 of it)."""
    return None if value is None else value * 100


def percent(text: str) -> Optional[float]:
    return None if text == "—" else float(text.rstrip("%"))


def nearest_rank(values: List[float], p: int) -> Optional[float]:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1] if ordered else None


def seconds_of(text: str) -> Optional[float]:
    return None if text == "—" else float(text.removesuffix(" s"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text[:19])


def test_a_lead_sees_every_chart_with_the_numbers_sql_counts(dashboard):
    from playwright.sync_api import expect

    desk, open_ = dashboard
    board = open_()
    page = board.page
    board.open("lee@brightwave.example", period_hash())
    expect(page.locator("#charts[aria-busy='false']")).to_be_visible()
    for chart in CHARTS:
        canvas = page.locator(f"#chart-{chart} canvas")
        expect(canvas).to_have_count(1)
        assert canvas.evaluate(DRAWN), f"the {chart} chart drew nothing"
        expect(page.locator(f"#chart-{chart} a.csv-link")).to_have_count(1)
    expect(page.locator("#p-since")).to_have_value(QUERY["since"])
    expect(page.locator("#p-until")).to_have_value(QUERY["until"])
    board.shot("1-dashboard")

    # conversations and containment, offline tickets: per day, as Rasa's events and the tickets table say
    per_day = conversations_per_day(desk)
    persons = dict(sql(desk.app_db_url, "SELECT d, COUNT(DISTINCT cid) FROM (SELECT date(created_at) AS d, conversation_id AS cid FROM handoffs "
                                        "UNION ALL SELECT date(created_at), conversation_id FROM tickets) GROUP BY d"))
    rows = board.table("conversations")
    assert [r["Period"] for r in rows] == days()
    for row in rows:
        total, person = per_day.get(row["Period"], 0), persons.get(row["Period"], 0)
        assert (int(row["Conversations"]), int(row["With a person"])) == (total, person), row
        assert percent(row["Containment"]) == pytest.approx(share((total - person) / total if total else None), abs=0.051)
    tickets = dict(sql(desk.app_db_url, "SELECT date(created_at), COUNT(*) FROM tickets GROUP BY 1"))
    assert {r["Period"]: int(r["Offline tickets"]) for r in board.table("offline_tickets")} == {d: tickets.get(d, 0) for d in days()}

    # handoffs by reason: one column per reason, the hostile one included, as text
    reasons = handoffs_per_day_and_reason(desk)
    labels = dict(sql(desk.app_db_url, "SELECT DISTINCT reason, reason FROM handoffs"))
    for row in board.table("handoff_reasons"):
        for reason in labels:
            assert int(row[reason_label(reason)]) == reasons.get((row["Period"], reason), 0), (row, reason)
    assert page.locator(f"#chart-handoff_reasons th:text-is('{reason_label(HOSTILE)}')").count() == 1

    # CSAT: the distribution and the daily average
    ratings = sql(desk.app_db_url, "SELECT date(at), rating FROM csat_ratings WHERE at >= :a AND at < :b", a=PERIOD.since, b=PERIOD.until)
    counts = defaultdict(int)
    for _, rating in ratings:
        counts[rating] += 1
    assert {int(r["Rating"]): int(r["Ratings"]) for r in board.table("csat_distribution")} == {n: counts.get(n, 0) for n in range(1, 6)}
    per_day_ratings = defaultdict(list)
    for d, rating in ratings:
        per_day_ratings[d].append(rating)
    for row in board.table("csat_trend"):
        given = per_day_ratings.get(row["Period"], [])
        assert int(row["Ratings"]) == len(given)
        assert row["Average"] == (f"{sum(given) / len(given):.2f}" if given else "—")

    # NPS: the answers per score and per day, promoters minus detractors
    scores = sql(desk.app_db_url, "SELECT date(at), score FROM nps_scores WHERE at >= :a AND at < :b", a=PERIOD.since, b=PERIOD.until)
    assert scores
    per_score = defaultdict(int)
    for _, score in scores:
        per_score[score] += 1
    assert {int(r["Score"]): int(r["Answers"]) for r in board.table("nps_distribution")} == {n: per_score.get(n, 0) for n in range(11)}
    per_day_scores = defaultdict(list)
    for d, score in scores:
        per_day_scores[d].append(score)
    for row in board.table("nps_trend"):
        given = per_day_scores.get(row["Period"], [])
        promoters, detractors = sum(s >= 9 for s in given), sum(s <= 6 for s in given)
        assert (int(row["Answers"]), int(row["Promoters"]), int(row["Detractors"])) == (len(given), promoters, detractors), row
        assert row["NPS"] == (f"{100 * (promoters - detractors) / len(given):.1f}" if given else "—")
    # comments: newest first, each with its conversation, personal details masked, markup shown as text
    written = sql(desk.app_db_url, "SELECT conversation_id, score FROM feedback_comments WHERE at >= :a AND at < :b "
                                   "ORDER BY at DESC, id DESC LIMIT 100", a=PERIOD.since, b=PERIOD.until)
    comments = board.table("comments")
    assert [(r["Conversation"], int(r["Score"])) for r in comments] == [(cid, score) for cid, score in written]
    [mine] = [r for r in comments if r["Conversation"] == "web-personal"]
    assert "[email]" in mine["Comment"] and "[card number]" in mine["Comment"] and "<img src=x" in mine["Comment"]
    assert "jane" not in mine["Comment"] and "4111" not in mine["Comment"]
    expect(page.locator("#chart-comments a.csv-link")).to_have_count(1)

    # agents: first reply and resolution p50/p90 (nearest rank), abandoned, from the rows themselves
    handoffs = sql(desk.app_db_url, "SELECT h.id, date(h.created_at), h.created_at, h.resolved_at, h.state, h.assigned_at, "
                                    "(SELECT MIN(m.at) FROM handoff_messages m WHERE m.handoff_id = h.id AND m.author = 'agent') "
                                    "FROM handoffs h")
    reply, resolution, abandoned = defaultdict(list), defaultdict(list), defaultdict(lambda: [0, 0])
    for _, d, created, resolved, state, assigned, first in handoffs:
        if first:
            reply[d].append((at(first) - at(created)).total_seconds())
        if state == "resolved" and resolved:
            resolution[d].append((at(resolved) - at(created)).total_seconds())
        if state == "abandoned":
            abandoned[d][0] += 1
            abandoned[d][1] += assigned is None
    for row in board.table("first_reply"):
        values = reply.get(row["Period"], [])
        assert int(row["Replied"]) == len(values)
        for p in (50, 90):
            expected = nearest_rank(values, p)
            assert (seconds_of(row[f"p{p}"]) is None) == (expected is None)
            if expected is not None:
                assert seconds_of(row[f"p{p}"]) == pytest.approx(expected, abs=1)
    for row in board.table("resolution"):
        values = resolution.get(row["Period"], [])
        assert int(row["Resolved"]) == len(values)
        if values:
            assert seconds_of(row["p50"]) == pytest.approx(nearest_rank(values, 50), abs=1)
            assert seconds_of(row["p90"]) == pytest.approx(nearest_rank(values, 90), abs=1)
    for row in board.table("abandoned"):
        assert [int(row["Abandoned"]), int(row["Before a claim"])] == abandoned.get(row["Period"], [0, 0])

    # the queue: handoffs waiting at each full hour of the period, per hour of the day
    exits = sql(desk.app_db_url, "SELECT created_at, COALESCE(assigned_at, resolved_at, abandoned_at) FROM handoffs")
    waiting = defaultdict(list)
    moment = PERIOD.since + timedelta(hours=1)
    while moment <= PERIOD.until:
        waiting[moment.hour].append(sum(1 for created, left in exits if at(created) < moment and (left is None or at(left) >= moment)))
        moment += timedelta(hours=1)
    for row in board.table("queue"):
        hour = int(row["Hour"][:2])
        assert float(row["Mean waiting"]) == pytest.approx(sum(waiting[hour]) / len(waiting[hour]), abs=0.006), row
        assert int(row["Most waiting"]) == max(waiting[hour]), row

    # the help centre's answer and "did this help" rates
    kinds = defaultdict(lambda: defaultdict(int))
    for d, kind, helpful in sql(desk.app_db_url, "SELECT date(at), kind, helpful FROM knowledge_events"):
        kinds[d][kind] += 1
        kinds[d]["helpful"] += kind == "rated" and helpful == 1
    for row in board.table("knowledge"):
        k = kinds.get(row["Period"], {})
        asked = k.get("answered", 0) + k.get("clarified", 0) + k.get("unanswered", 0)
        assert [int(row["Answered"]), int(row["Unsure"]), int(row["No answer"]), int(row["Helped"])] == \
            [k.get("answered", 0), k.get("clarified", 0), k.get("unanswered", 0), k.get("helpful", 0)]
        assert percent(row["Answer rate"]) == pytest.approx(share(k.get("answered", 0) / asked if asked else None), abs=0.051)

    # top intents: a message the NLU was unsure of (nlu_fallback) counts for its best guess, as a fallback
    meant = sql(desk.tracker_url, "SELECT CASE WHEN intent_name = 'nlu_fallback' THEN COALESCE(json_extract(data, "
                                  "'$.parse_data.intent_ranking[1].name'), 'nlu_fallback') ELSE intent_name END AS meant, "
                                  "COUNT(*), SUM(intent_name = 'nlu_fallback') FROM events WHERE type_name = 'user' "
                                  "AND timestamp >= :a AND timestamp < :b GROUP BY meant",
                a=epoch(PERIOD.since), b=epoch(PERIOD.until))
    intents = {name: (n, f) for name, n, f in meant}
    shown = board.table("intents")
    assert len(shown) == 15 and shown[0]["Intent"] == max(intents, key=lambda name: intents[name][0])
    for row in shown:
        assert (int(row["Messages"]), int(row["Fallbacks"])) == intents[row["Intent"]], row
    assert HOSTILE in [row["Intent"] for row in shown]  # shown as the text it is

    # frustration: who reached the threshold (HandoffPolicy's SlotSet), and how many were handed to a person
    reached = dict(sql(desk.tracker_url, "SELECT date(timestamp, 'unixepoch'), COUNT(DISTINCT sender_id) FROM events WHERE type_name = 'slot' "
                                         "AND action_name = 'handoff_reason' AND json_extract(data, '$.value') = 'frustrated' GROUP BY 1"))
    handed = dict(sql(desk.app_db_url, "SELECT date(created_at), COUNT(DISTINCT conversation_id) FROM handoffs "
                                       "WHERE reason = 'frustrated' GROUP BY 1"))
    for row in board.table("frustration"):
        assert (int(row["Reached"]), int(row["Handed off"])) == (reached.get(row["Period"], 0), handed.get(row["Period"], 0)), row
    board.nothing_ran()
    assert page.locator("img:not(.brand-logo)").count() == 0  # the hostile names made no element (the logo is the brand's)


def test_a_number_leads_to_its_conversations_and_on_to_a_masked_transcript(dashboard):
    from playwright.sync_api import expect

    desk, open_ = dashboard
    board = open_()
    page = board.page
    board.open("lee@brightwave.example", period_hash())
    expect(page.locator("#charts[aria-busy='false']")).to_be_visible()
    reasons = handoffs_per_day_and_reason(desk)
    day, reason = max((key for key in reasons if key[1] == "frustrated"), key=lambda key: reasons[key])
    row = page.locator("#chart-handoff_reasons tbody tr", has_text=day)
    column = board.table("handoff_reasons")[0]
    index = list(column).index(reason_label(reason))
    row.locator("td").nth(index).get_by_role("link").click()
    expect(page.locator("#conversations-view")).to_be_visible()
    expected = sorted(cid for (cid,) in sql(desk.app_db_url, "SELECT DISTINCT conversation_id FROM handoffs WHERE reason = 'frustrated' "
                                                             "AND date(created_at) = :d", d=day))
    links = page.locator("#conversations-list a.conversation-link")
    expect(links).to_have_count(len(expected))
    assert links.all_text_contents() == expected
    board.shot("2-conversations")
    links.first.click()
    expect(page.locator("#transcript-view")).to_be_visible()
    expect(page.locator("#transcript-title")).to_have_text(f"Conversation {expected[0]}")
    expect(page.locator("#transcript-lines li").first).to_be_visible()
    board.shot("3-transcript")
    page.go_back()
    expect(links).to_have_count(len(expected))  # the way back keeps the figure

    # a comment's conversation opens as its masked transcript
    page.goto(f"/desk/insights/{period_hash()}")
    expect(page.locator("#charts[aria-busy='false']")).to_be_visible()
    page.locator("#chart-comments tbody tr", has_text="web-personal").get_by_role("link").click()
    expect(page.locator("#transcript-title")).to_have_text("Conversation web-personal")
    expect(page.locator("#transcript-lines li")).to_have_count(2)

    # the masked conversation, and the hostile id: both opened from the page's own links
    page.goto("/desk/insights/#/conversation/web-personal")
    expect(page.locator("#transcript-lines li")).to_have_count(2)
    text = page.locator("#transcript-lines").inner_text()
    assert "[email]" in text and "[card number]" in text and "jane" not in text and "4111" not in text
    page.goto(f"/desk/insights/{period_hash()}")
    expect(page.locator("#charts[aria-busy='false']")).to_be_visible()
    page.locator("#chart-intents tbody tr", has_text=HOSTILE).locator("a").first.click()
    expect(page.locator("#conversations-list a.conversation-link").first).to_have_text(HOSTILE)
    page.locator("#conversations-list a.conversation-link").first.click()
    expect(page.locator("#transcript-title")).to_have_text(f"Conversation {HOSTILE}")
    board.nothing_ran()
    assert page.locator("img:not(.brand-logo)").count() == 0


def test_the_csv_links_download_each_table(dashboard):
    from playwright.sync_api import expect

    desk, open_ = dashboard
    board = open_()
    page = board.page
    board.open("lee@brightwave.example", period_hash(channel="website", bucket="week"))
    expect(page.locator("#charts[aria-busy='false']")).to_be_visible()
    expect(page.locator("#p-channel")).to_have_value("website")
    with page.expect_download() as info:
        page.locator("#chart-conversations a.csv-link").click()
    download = info.value
    assert download.suggested_filename == "insights-conversations-2026-09-23-2026-10-06-website-week.csv"
    parsed = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    website = sql(desk.tracker_url, "SELECT COUNT(DISTINCT sender_id) FROM events WHERE type_name = 'user' AND sender_id NOT LIKE 'slack:%' "
                                    "AND timestamp >= :a AND timestamp < :b", a=epoch(PERIOD.since), b=epoch(PERIOD.since + timedelta(days=7)))
    assert [row["start"][:10] for row in parsed] == ["2026-09-23", "2026-09-30"] and int(parsed[0]["conversations"]) == website[0][0]
    shown = board.table("conversations")
    assert [int(row["Conversations"]) for row in shown] == [int(row["conversations"]) for row in parsed]
    # changing the channel redraws with the new period in the address, so it can be shared and reloaded
    page.locator("#p-channel").select_option("slack")
    expect(page).to_have_url(re.compile(r"channel=slack"))
    expect(page.locator("#chart-conversations a.csv-link")).to_have_attribute("href", re.compile(r"channel=slack"))
    board.nothing_ran()


def test_an_agent_is_told_the_page_is_for_leads(dashboard):
    from playwright.sync_api import expect

    desk, open_ = dashboard
    board = open_()
    board.expected_statuses.add(403)
    board.open("maya@brightwave.example", period_hash())
    expect(board.page.locator("#leads-only")).to_be_visible()
    expect(board.page.locator("#dashboard-view")).to_be_hidden()
    board.page.goto("/desk/")
    expect(board.page.locator("#nav-insights")).to_be_hidden()
    board.nothing_ran()
