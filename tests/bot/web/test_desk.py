"""The desk in a real browser (Debian's Chromium through Playwright) against the app served by uvicorn.

An agent signs in, sees a new handoff appear without reloading, claims it, replies, receives a
customer message full of markup that must stay text, and resolves; sign-in works with the
keyboard alone; the leads' console is there for leads only. Screenshots go to tests/artifacts/.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.bot.web.conftest import PASSWORD

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

HOSTILE = ('<img src=x onerror="window.__xss=1"> </script><script>window.__xss=2</script> '
           '<a href="javascript:alert(1)">click me</a> javascript:alert(1)')
HOSTILE_NAME = '<img src=x onerror="window.__xss=3">Eve'


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the desk's browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose script errors and refused resources (CSP) are collected for the assertions."""

    def __init__(self, browser, base_url: str) -> None:
        self.expected_statuses = {401}  # the desk asks /api/me on load: a refusal is how it learns to show sign-in
        self.context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.problems: list = []
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        # Chrome logs every refused request in red; the ones a test provokes on purpose are expected.
        # Anything else (a CSP refusal, a script error, a missing file) is a problem.
        if message.type == "error" and not any(f"status of {status}" in message.text for status in self.expected_statuses):
            self.problems.append(f"console: {message.text}")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"desk-{name}.png"), full_page=True)

    def sign_in(self, email: str) -> None:
        self.page.goto("/desk/")
        self.page.get_by_label("Email", exact=True).fill(email)
        self.page.get_by_label("Password", exact=True).fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("#live-state[data-state='on']").wait_for()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser, live_desk):
    desk, server = live_desk
    pages = []

    def open_() -> Watched:
        page = Watched(browser, server.url)
        pages.append(page)
        return page

    yield desk, open_
    for page in pages:
        page.close()


def test_an_agent_takes_a_conversation_from_queue_to_resolved(open_page):
    from playwright.sync_api import expect

    desk, open_ = open_page
    watched = open_()
    page = watched.page
    watched.sign_in("maya@brightwave.example")
    expect(page.locator("#whoami")).to_have_text("Maya (agent)")
    expect(page.locator("#nav-console")).to_be_hidden()  # not a lead
    expect(page.locator("#queue-empty")).to_be_visible()
    page.evaluate("window.__still_the_same_page = true")

    handoff = desk.open_handoff(
        "conv-browser", name=HOSTILE_NAME,
        slots={"order_number": "104512", "note": "<b>bold</b>"},
        articles_shown=[{"article_id": "returns", "title": "<script>window.__xss=4</script>Returns",
                         "url": "javascript:window.__xss=5", "rating": False}],
        suggested_articles=[{"article_id": "refunds", "title": "Refund timing", "url": "https://help.brightwave.example/refunds"}],
        frustration={"score": 0.72, "trajectory": [0.1, 0.4, 0.72], "reasons": ["all caps", "repeated question"]},
        wants="a refund for order 104512", reason_detail="asked for a person")
    item = page.locator("#queue-list .queue-item").filter(has_text="Eve")
    expect(item).to_be_visible()  # arrived through the live feed
    assert page.evaluate("window.__still_the_same_page") is True  # no reload
    expect(item).to_contain_text(HOSTILE_NAME)
    expect(item).to_contain_text("verified")
    expect(item).to_contain_text("asked for a person")
    expect(item).to_contain_text("channel: socketio")
    expect(item).to_contain_text("frustration 0.40")
    expect(item).to_contain_text("waiting")
    expect(item).to_contain_text("Wants a refund for order 104512")
    watched.screenshot("1-queue")

    item.get_by_role("link").click()
    expect(page.locator("#conv-title")).to_have_text(HOSTILE_NAME)
    packet = page.locator("#packet")
    expect(packet).to_contain_text("a person please")
    expect(packet).to_contain_text("intent human_handoff (97%)")
    expect(packet).to_contain_text("0.10 → 0.40 → 0.72")
    expect(packet).to_contain_text("repeated question")
    expect(packet).to_contain_text("<b>bold</b>")
    expect(packet).to_contain_text("<script>window.__xss=4</script>Returns")
    expect(packet).to_contain_text("did not help")
    assert packet.locator("a").evaluate_all("links => links.map(a => a.href)") == ["https://help.brightwave.example/refunds"]

    page.get_by_role("button", name="Claim").click()
    expect(page.locator("#conv-state")).to_have_text("You have this conversation.")
    page.get_by_label("Reply to the customer").fill("Hi, I'm Maya. Let me look at order 104512.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#messages")).to_contain_text("Hi, I'm Maya. Let me look at order 104512.")
    assert desk.gateway.sent == [("conv-browser", "Hi, I'm Maya. Let me look at order 104512.", "Maya")]

    desk.gateway.fail = True  # the conversation server is down for a moment
    watched.expected_statuses.add(502)
    page.get_by_label("Reply to the customer").fill("Are you still there?")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#alert")).to_contain_text("could not reach the customer")
    expect(page.locator("#messages .message.undelivered")).to_contain_text("Not delivered yet")
    desk.gateway.fail = False
    page.get_by_role("button", name="Send again").click()
    expect(page.locator("#messages .message.undelivered")).to_have_count(0)
    assert desk.gateway.sent[-1] == ("conv-browser", "Are you still there?", "Maya")

    desk.service.record_customer_message("conv-browser", HOSTILE)
    customer_line = page.locator("#messages .message.customer .text")
    expect(customer_line).to_have_text(HOSTILE)  # shown, literally, as it was typed
    page.get_by_text("javascript:alert(1)", exact=False).first.click()  # even clicking the text runs nothing
    assert page.locator("#messages img, #messages script, #messages a, #queue-list img, #packet img, #packet script").count() == 0
    assert page.evaluate("window.__xss") is None

    page.get_by_label("Internal note (the customer never sees it)").fill("refund already issued on the 3rd")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#messages .message.note")).to_contain_text("refund already issued on the 3rd")
    watched.screenshot("2-conversation")

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#conv-state")).to_contain_text("Resolved")
    expect(page.locator("#queue-empty")).to_be_visible()
    assert desk.gateway.handed_back == ["conv-browser"]
    assert desk.service.handoff(handoff.id).state == "resolved"
    watched.screenshot("3-resolved")
    assert page.evaluate("window.__xss") is None
    assert watched.problems == []


def test_sign_in_and_claim_with_the_keyboard_alone(open_page):
    from playwright.sync_api import expect

    desk, open_ = open_page
    desk.open_handoff("conv-keys", name="Kim")
    watched = open_()
    page = watched.page
    page.goto("/desk/")
    expect(page.locator("#signin-email")).to_be_focused()
    page.keyboard.type("maya@brightwave.example")
    page.keyboard.press("Tab")
    expect(page.locator("#signin-password")).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"  # focus is visible
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    expect(page.locator("#signin-error")).to_have_text("wrong email or password")
    expect(page.locator("#signin-password")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#whoami")).to_have_text("Maya (agent)")

    item = page.locator("#queue-list .queue-item a").filter(has_text="Kim")
    item.wait_for()
    for _ in range(30):  # tab until the queue item has the focus
        page.keyboard.press("Tab")
        if item.evaluate("link => link === document.activeElement"):
            break
    else:
        pytest.fail("the queue item cannot be reached with Tab")
    desk.open_handoff("conv-keys-2", name="Lin")  # the queue changes while the agent is on it
    expect(page.locator("#queue-list .queue-item").filter(has_text="Lin")).to_be_visible()
    expect(item).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#conv-title")).to_be_focused()
    expect(page.locator("#conv-title")).to_have_text("Kim")
    page.keyboard.press("Tab")
    expect(page.locator("#claim-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#reply-text")).to_be_focused()
    page.keyboard.type("Hello Kim")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#messages")).to_contain_text("Hello Kim")
    watched.screenshot("4-keyboard")
    assert watched.problems == []


def test_a_colleague_sees_the_claim_live_and_leads_get_the_console(open_page):
    from playwright.sync_api import expect

    desk, open_ = open_page
    handoff = desk.open_handoff("conv-both", name="Lou")
    desk.service.record_csat("conv-old", 5)
    lead = open_()
    lead.sign_in("lee@brightwave.example")
    lead.page.locator("#queue-list .queue-item a").filter(has_text="Lou").click()
    expect(lead.page.locator("#conv-state")).to_contain_text("Waiting for an agent")

    desk.service.claim(handoff.id, desk.maya)  # Maya, elsewhere, wins the conversation
    expect(lead.page.locator("#conv-state")).to_have_text("Maya has this conversation.")
    expect(lead.page.locator("#claim-button")).to_be_hidden()
    lead.page.get_by_label("Transfer to").select_option(label="Back to the queue")
    lead.page.get_by_label("Note for whoever takes it next").fill("Maya is at lunch")
    lead.page.get_by_role("button", name="Transfer").click()
    expect(lead.page.locator("#conv-state")).to_contain_text("Waiting for an agent")
    expect(lead.page.locator("#messages .message.note")).to_contain_text("Maya is at lunch")
    assert desk.service.handoff(handoff.id).state == "waiting"

    lead.page.get_by_role("link", name="Leads' console").click()
    expect(lead.page.locator("#report-handoffs")).to_contain_text("asked for a person")
    expect(lead.page.locator("#report-handoffs")).to_contain_text("5 / 5")
    expect(lead.page.locator("#agents-rows")).to_contain_text("maya@brightwave.example")
    lead.screenshot("5-console")

    agent = open_()
    agent.sign_in("sam@brightwave.example")
    agent.page.goto("/desk/#/console")
    expect(agent.page.locator("#queue-view")).to_be_visible()
    expect(agent.page.locator("#console-view")).to_be_hidden()

    desk.service.create_ticket(conversation_id="conv-night", channel="socketio", email="ola@example.com", customer_name="Ola",
                               description="My speaker will not charge <script>window.__xss=9</script>",
                               reason="customer_request", packet={"summary": "speaker will not charge"})
    agent.page.get_by_role("link", name="Offline tickets").click()
    card = agent.page.locator("#tickets-list .card").filter(has_text="Ola")
    expect(card).to_contain_text("My speaker will not charge <script>window.__xss=9</script>")
    expect(card).to_contain_text("Summary: speaker will not charge")
    agent.screenshot("6-tickets")
    card.get_by_role("button", name="Mark as answered (close)").click()
    expect(agent.page.locator("#tickets-empty")).to_be_visible()
    assert desk.service.tickets("open") == []
    assert agent.page.evaluate("window.__xss") is None
    assert lead.problems == [] and agent.problems == []
