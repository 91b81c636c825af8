"""The leads' knowledge workspace in a real browser (Debian's Chromium through Playwright) against the app served by uvicorn.

A lead edits an article in CodeMirror, saves, sees it live, reads the diff and reverts; meets a conflict and a
lint refusal; previews and creates an article; turns a content gap into questions and sees it answered; sorts
the quality table and tries a question. An agent gets the same pages read-only. The XSS corpus
(tests/data/xss-payloads.txt) in titles, bodies, questions and customers' questions runs nowhere.
The assistant's process is not running here: "live" is reported by a probe reading the index the page's
server built (the real probe against a real action server is tested in tests/e2e/test_knowledge_workspace.py).
Screenshots go to tests/artifacts/.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import List

import pytest

from bot.insights.log import ANSWERED, RATED, UNANSWERED, KnowledgeEvent
from bot.knowledge.editing import ArticleFields
from bot.settings import PROJECT_ROOT
from tests.bot.web.conftest import OPEN
from tests.bot.web.test_desk import ARGS, ARTIFACTS, CHROMIUM, Watched

pytestmark = pytest.mark.integration

XSS_FILE = PROJECT_ROOT / "tests" / "data" / "xss-payloads.txt"
# alert, confirm and prompt (what the corpus calls) and any handler that sets the marker all leave a trace
TRAPS = """
window.__xss = undefined;
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  window[name] = (...args) => { window.__xss = `${name}(${args.join(',')})`; };
}
"""


def xss_payloads() -> List[str]:
    return [line for line in XSS_FILE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("# ")]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the workspace's browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class IndexProbe:
    """Stands in for the action server's answer to "which index do you serve?": the newest build."""

    def __init__(self, builder) -> None:
        self.builder = builder

    def serving_version(self):
        return self.builder.live_version()


class Workspace(Watched):
    def __init__(self, browser, base_url: str) -> None:
        super().__init__(browser, base_url)
        self.dialogs: List[str] = []
        self.page.add_init_script(TRAPS)
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def open(self, email: str, hash_: str = "#/articles") -> None:
        self.sign_in(email)
        self.page.goto(f"/desk/knowledge/{hash_}")
        self.page.locator("#top").wait_for()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"knowledge-{name}.png"), full_page=True)

    def body(self) -> str:
        return self.page.locator("#body-editor .cm-content").inner_text()

    def type_at_end(self, text: str) -> None:
        self.page.locator("#body-editor .cm-content").click()
        self.page.keyboard.press("Control+End")
        self.page.keyboard.type(text)

    def nothing_ran(self) -> None:
        assert self.page.evaluate("() => window.__xss") is None
        assert self.dialogs == []
        assert self.problems == []


@pytest.fixture
def workspace(browser, live_desk):
    desk, server = live_desk
    desk.knowledge.workspace.probe = IndexProbe(desk.knowledge.workspace.builder)
    pages: List[Workspace] = []

    def open_() -> Workspace:
        page = Workspace(browser, server.url)
        pages.append(page)
        return page

    yield desk, open_
    for page in pages:
        page.close()


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_a_lead_edits_in_codemirror_publishes_live_reads_the_diff_and_reverts(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    ws = open_()
    page = ws.page
    ws.open("lee@brightwave.example")
    rows = page.locator("#articles-rows tr")
    expect(rows).to_have_count(5)
    expect(page.locator("#kb-live")).to_have_text("Assistant up to date")
    page.locator("#f-status").select_option("draft")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Holiday returns")
    page.locator("#f-status").select_option("")
    page.locator("#f-q").fill("E31")
    expect(rows).to_have_count(1)
    page.locator("#f-q").fill("")
    expect(rows).to_have_count(5)
    ws.shot("1-articles")

    path = desk.articles_dir / "returns-policy.md"
    original = read(path)
    page.get_by_role("link", name="Our returns policy").click()
    expect(page.locator("#a-title")).to_have_value("Our returns policy")
    expect(page.locator("#a-id")).to_be_disabled()  # the id is the file name: fixed once created
    assert page.locator("#body-editor .cm-editor").count() == 1  # the real editor component, not a textarea
    assert "30 days" in ws.body()
    ws.type_at_end("\n\nGift receipts are accepted too.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#publish-state")).to_contain_text("Live: the assistant answers from this version")
    assert "Gift receipts are accepted too." in read(path)

    revisions = page.locator("#revisions button")
    expect(revisions).to_have_count(2)  # the file as found, then Lee's save
    expect(revisions.first).to_contain_text("Lee")
    revisions.first.click()
    expect(page.locator("#revision-diff .add").filter(has_text="Gift")).to_have_text("+Gift receipts are accepted too.\n")
    ws.shot("2-editor-history")

    revisions.last.click()
    page.get_by_role("button", name="Revert to this revision").click()
    expect(page.locator("#revisions button")).to_have_count(3)
    assert read(path) == original
    assert "Gift receipts" not in ws.body()
    ws.nothing_ran()


def test_an_edit_made_since_opening_is_shown_as_a_conflict_never_overwritten(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    ws = open_()
    page = ws.page
    ws.expected_statuses = {401, 409}  # the conflict is the server's 409
    ws.open("lee@brightwave.example", "#/articles/returns-policy")
    expect(page.locator("#a-title")).to_have_value("Our returns policy")
    path = desk.articles_dir / "returns-policy.md"
    theirs = read(path).replace("30 days", "60 days")
    path.write_text(theirs, encoding="utf-8")  # a teammate's commit lands while the lead types
    page.locator("#a-title").fill("Returns, my version")
    page.get_by_role("button", name="Save", exact=True).click()
    conflict = page.locator("#conflict")
    expect(conflict).to_contain_text("changed since you opened it")
    assert read(path) == theirs
    page.get_by_role("button", name="Show the current version").click()
    expect(conflict.locator("pre")).to_contain_text("60 days")
    ws.shot("3-conflict")
    page.get_by_role("button", name="Save mine over it").click()
    expect(page.locator("#editor-title")).to_have_text("Returns, my version")
    assert "title: Returns, my version" in read(path)
    ws.nothing_ran()


def test_lint_findings_show_inline_and_a_publish_with_errors_is_refused(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    ws = open_()
    page = ws.page
    ws.expected_statuses = {401, 400}  # the refusal is the server's 400
    ws.open("lee@brightwave.example", "#/articles/holiday-returns")
    expect(page.locator("#a-status")).to_have_value("draft")
    ws.type_at_end("\n\nSee [the form](return-form.md).")
    # linted as typed, nothing saved (the first lint of a cold page took over 5 s once in the full suite)
    expect(page.locator("#problems-list")).to_contain_text("broken link: return-form.md does not exist (text line 3)",
                                                           timeout=20_000)
    expect(page.locator("#body-editor .cm-lint-marker-error")).to_have_count(1)
    before = read(desk.articles_dir / "holiday-returns.md")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#refusal")).to_contain_text("broken link")
    assert read(desk.articles_dir / "holiday-returns.md") == before
    ws.shot("4-lint-refused")
    # as a draft it may wait for the article it links to
    page.locator("#a-status").select_option("draft")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#publish-state")).to_have_text("Saved.")
    assert "return-form.md" in read(desk.articles_dir / "holiday-returns.md")
    ws.nothing_ran()


def test_a_new_article_previews_as_the_widget_card_and_is_created(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    ws = open_()
    page = ws.page
    ws.open("lee@brightwave.example")
    page.get_by_role("link", name="New article").click()
    page.locator("#a-title").fill("Gift cards")
    page.locator("#a-id").fill("gift-cards")
    page.locator("#a-category").fill("payment-and-billing")
    page.locator("#a-tags").fill("gift card, payment")
    page.locator("#a-url").fill("https://help.example/articles/gift-cards")
    page.get_by_role("button", name="Add a question").click()
    page.locator("#questions-list input").last.fill("do gift cards expire")
    ws.type_at_end("Gift cards **never** expire.\n\n## Balance\nSee [your balance](https://help.example/balance).")
    page.get_by_role("button", name="Preview").click()
    cards = page.locator("#preview-cards .card")
    expect(cards).to_have_count(2)
    expect(cards.first.locator(".card-label")).to_have_text("From our help centre")
    expect(cards.first.locator("strong")).to_have_text("never")
    expect(cards.nth(1).locator(".text a")).to_have_attribute("href", "https://help.example/balance")
    expect(cards.nth(1).locator(".source a")).to_have_text("Gift cards")
    ws.shot("5-preview")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#editor-title")).to_have_text("Gift cards")
    expect(page).to_have_url(re.compile("#/articles/gift-cards$"))  # the hash may follow the title by a moment
    text = read(desk.articles_dir / "gift-cards.md")
    assert "status: draft" in text and '"do gift cards expire"' in text and "tags: [gift card, payment]" in text
    ws.nothing_ran()


def record_misses(desk, text: str, times: int) -> None:
    for n in range(times):
        desk.insights.record(KnowledgeEvent(f"web-{abs(hash(text)) % 10_000}-{n}", UNANSWERED, text, OPEN - timedelta(hours=n)))


def test_a_content_gap_becomes_questions_and_is_then_answered(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    record_misses(desk, "can I send back a gift", 3)
    record_misses(desk, "is there a store in Boston, call me on 617-555-0199", 1)
    ws = open_()
    page = ws.page
    ws.open("lee@brightwave.example", "#/gaps")
    cards = page.locator("#gaps-list .gap-card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("3 questions")
    assert "617-555-0199" not in page.locator("#gaps-list").inner_text()  # masked before a lead sees it
    ws.shot("6-gaps")
    cards.first.get_by_role("link").click()
    expect(page.locator("#wordings")).to_contain_text("can I send back a gift")
    expect(page.locator("#gap-questions li")).to_have_count(3)
    page.get_by_role("button", name="Re-check now").click()
    expect(page.locator("#gap-recheck")).to_contain_text("0 would now be answered")
    target = page.locator("#suggestions li").filter(has_text="Our returns policy")
    target.get_by_role("button", name="Add the chosen wordings").click()
    expect(page.locator("#gap-recheck")).to_contain_text("3 would now be answered")
    assert '"can I send back a gift"' in read(desk.articles_dir / "returns-policy.md")
    ws.shot("7-gap-fixed")
    ws.nothing_ran()


def test_quality_sorts_and_try_it_shows_the_decision_and_scores(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    for n in range(12):
        desk.insights.record(KnowledgeEvent(f"q{n}", ANSWERED, "can I return it", OPEN, article_id="returns-policy"))
        desk.insights.record(KnowledgeEvent(f"q{n}", RATED, "can I return it", OPEN, article_id="returns-policy", helpful=n < 2))
    for n in range(3):
        desk.insights.record(KnowledgeEvent(f"p{n}", ANSWERED, "pair", OPEN, article_id="pair-headphones"))
        desk.insights.record(KnowledgeEvent(f"p{n}", RATED, "pair", OPEN, article_id="pair-headphones", helpful=True))
    ws = open_()
    page = ws.page
    ws.open("lee@brightwave.example", "#/quality")
    page.locator("#q-days").select_option("365")
    rows = page.locator("#quality-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Our returns policy")  # most shown first
    expect(rows.first).to_contain_text("Flagged")
    page.get_by_role("button", name="Helpful rate").click()
    expect(page.locator("th[aria-sort='descending']")).to_have_text("Helpful rate")
    expect(rows.first).to_contain_text("Pair your headphones")
    ws.shot("8-quality")
    rows.first.get_by_role("link").click()
    expect(page.locator("#a-title")).to_have_value("Pair your headphones and earbuds")

    page.goto("/desk/knowledge/#/try")
    page.get_by_label("Customer's question").fill("how do I reset my pulse 700 headphones")
    page.get_by_role("button", name="Try", exact=True).click()
    result = page.locator("#try-result")
    expect(result.locator(".try-decision")).to_be_visible()
    expect(result.locator("tbody tr")).to_have_count(4)  # every published article, ranked
    expect(result.locator("tbody tr").first).to_contain_text("Restart or reset Pulse 700")
    ws.shot("9-try-it")
    ws.nothing_ran()


def test_agents_read_but_cannot_change(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    ws = open_()
    page = ws.page
    ws.expected_statuses = {401, 403}
    ws.open("maya@brightwave.example")
    expect(page.locator("#read-only-note")).to_be_visible()
    expect(page.locator("#new-article")).to_be_hidden()
    page.get_by_role("link", name="Our returns policy").click()
    expect(page.locator("#a-title")).to_be_disabled()
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Publish")).to_be_hidden()
    expect(page.get_by_role("button", name="Preview")).to_be_visible()
    assert page.locator("#body-editor .cm-content").get_attribute("contenteditable") == "false"
    before = read(desk.articles_dir / "returns-policy.md")
    # the server refuses too, whatever the page shows
    status = page.evaluate("""async () => {
      const me = await (await fetch('/api/me')).json();
      const view = await (await fetch('/api/kb/articles/returns-policy')).json();
      const r = await fetch('/api/kb/articles/returns-policy', {method: 'PUT', headers: {'Content-Type': 'application/json',
        'X-CSRF-Token': me.csrf_token}, body: JSON.stringify({article: {...view.article, body: 'hacked'}, etag: view.etag})});
      return r.status; }""")
    assert status == 403
    assert read(desk.articles_dir / "returns-policy.md") == before
    ws.shot("10-agent-read-only")


def test_the_xss_corpus_runs_nowhere_in_the_workspace(workspace):
    from playwright.sync_api import expect

    desk, open_ = workspace
    payloads = xss_payloads()
    assert len(payloads) >= 100
    kb = desk.knowledge.workspace
    chunks = [payloads[i:i + 20] for i in range(0, len(payloads), 20)]
    for n, chunk in enumerate(chunks):  # title, body lines, and questions of one article per 20 payloads
        kb.create(desk.lee, ArticleFields(id=f"hostile-{n}", title=chunk[0], category="ordering", tags=("xss",), status="published",
                                          url="https://help.example/articles/hostile", body="\n\n".join(chunk),
                                          questions=tuple(p[:300] for p in chunk)))
    for n, payload in enumerate(payloads):  # customers' questions, as the content gaps show them
        desk.insights.record(KnowledgeEvent(f"x{n}", UNANSWERED, payload, OPEN))
        desk.insights.record(KnowledgeEvent(f"x{n}", ANSWERED, payload, OPEN, article_id=f"hostile-{n % len(chunks)}"))
    ws = open_()
    page = ws.page
    ws.open("lee@brightwave.example")
    expect(page.locator("#articles-rows tr")).to_have_count(5 + len(chunks))
    expect(page.locator("#articles-rows")).to_contain_text(chunks[0][0])  # shown as text
    for n, chunk in enumerate(chunks):
        page.goto(f"/desk/knowledge/#/articles/hostile-{n}")
        expect(page.locator("#a-title")).to_have_value(chunk[0])
        expect(page.locator("#questions-list input")).to_have_count(len(chunk))
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview-cards .card").first).to_be_visible()
        page.locator("#revisions button").first.click()
        expect(page.locator("#revision-diff")).to_contain_text("xss")
    page.goto("/desk/knowledge/#/gaps")
    page.locator("#g-days").select_option("365")
    expect(page.locator("#gaps-list .gap-card").first).to_be_visible()
    page.locator("#gaps-list .gap-card a").first.click()
    expect(page.locator("#gap-questions li").first).to_be_visible()
    page.goto("/desk/knowledge/#/quality")
    page.locator("#q-days").select_option("365")
    expect(page.locator("#quality-rows tr")).to_have_count(len(chunks))
    page.goto("/desk/knowledge/#/try")
    page.locator("#try-question").fill(payloads[1])
    page.get_by_role("button", name="Try", exact=True).click()
    expect(page.locator("#try-result tbody tr").first).to_be_visible()
    page.wait_for_timeout(500)  # let any handler that was going to fire (onload, onfocus, autofocus) fire
    ws.shot("11-xss-inert")
    ws.nothing_ran()
