"""Cross-site scripting: a public corpus of payloads through every place people's text is shown.

The corpus is tests/data/xss-payloads.txt (payloadbox/xss-payload-list, MIT; its header gives the commit).
Against the running product, in Debian's Chromium:
- the widget: a visitor types every payload; the team's replies (every payload again, from an agent whose
  name is a payload) arrive in the same widget;
- the desk: that agent opens the handoff, with the payloads in the transcript, the replies and internal notes;
- the leads' pages: articles whose titles, bodies and questions are the payloads, in the list, the editor
  and the preview;
- Slack: a customer's DM of payloads handed off to the agents' channel. Slack's client cannot run here, so
  the check is Slack's own rule for message text: `&`, `<` and `>` must arrive escaped (an unescaped `<...>`
  is a link or a mention to Slack), checked on every text of the Block Kit posts the fake Web API recorded.
A payload "runs" when it sets `window.__xss`, calls alert/confirm/prompt/print (hooked before any page
script) or opens a dialog; the part fails on any.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Sequence

import requests

from bot.bench.reliability.product import LEAD, Product
from bot.bench.reliability.verdicts import Finding, Tally, clip, dead_processes
from bot.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "tests" / "data" / "xss-payloads.txt"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
HOOKS = """
window.__xss = undefined;
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__xss = `${name}(${args.join(",")})`; };
}
"""


def corpus() -> List[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("# ")]


class Watched:
    """A Chromium page with the hooks in place; what ran is collected."""

    def __init__(self, browser: Any, base_url: str, cookies: Sequence[Dict[str, str]] = ()) -> None:
        self.context = browser.new_context(base_url=base_url, viewport={"width": 1300, "height": 900})
        if cookies:
            self.context.add_cookies(list(cookies))
        self.context.add_init_script(HOOKS)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.ran: List[str] = []
        self.page.on("dialog", lambda dialog: (self.ran.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def check(self, tally: Tally, where: str) -> None:
        marker = self.page.evaluate("() => window.__xss")
        if marker is not None:
            self.ran.append(f"window.__xss = {marker!r}")
        for what in self.ran:
            tally.fail(Finding("payload ran", where, what))
        self.ran.clear()

    def close(self) -> None:
        self.context.close()


def xss_battery(product: Product, limit: int, paths: Sequence[str]) -> Tally:
    from playwright.sync_api import sync_playwright

    tally = Tally("cross-site scripting")
    payloads = corpus()[:limit]
    if not CHROMIUM.exists():
        tally.fail(Finding("not run", "Chromium", "no /usr/bin/chromium (make browser)"))
        return tally
    from bot.container import build_handoff

    web = product.web_url
    handoff = build_handoff(product.settings)
    lead_token, _lead = handoff.sign_in(LEAD[0], LEAD[2])  # not over HTTP: the desk part leaves this address throttled
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            _control(browser, web, tally)
            handoff_id, widget = _widget_conversation(browser, web, payloads, tally, lead_token)
            agent_token = _agent_answers(product, handoff, handoff_id, payloads, tally)
            _widget_shows_the_replies(widget, payloads, tally)
            widget.close()
            _desk(browser, web, agent_token, handoff_id, payloads, tally)
            _leads_pages(browser, product, lead_token, payloads, tally)
        finally:
            browser.close()
    _slack(product, payloads, tally)
    tally.figures["payloads"] = len(payloads)
    dead_processes(tally, product.processes)
    return tally


def _control(browser: Any, web: str, tally: Tally) -> None:
    """The hooks catch a script that does run: a page calling alert must be reported."""
    page = Watched(browser, web)
    page.page.goto("/")
    page.page.evaluate("() => alert('control')")
    seen = page.page.evaluate("() => window.__xss")
    tally.figures["control: a script that runs is caught"] = seen == "alert(control)"
    if seen != "alert(control)":
        tally.fail(Finding("control failed", "hooks", f"alert() in the page left window.__xss = {seen!r}"))
    page.close()


def _widget_conversation(browser: Any, web: str, payloads: Sequence[str], tally: Tally, lead_token: str):
    """A visitor types every payload in the widget of the demo page, then asks for a person."""
    chat = Watched(browser, web)
    page = chat.page
    page.goto("/")
    root = page.locator("support-chat")
    root.locator(".launcher").click()
    box = root.get_by_label("Message")
    box.wait_for()
    for payload in payloads:
        box.fill(payload)
        box.press("Enter")
        tally.tried += 1
    box.fill("I want to talk to a person")
    box.press("Enter")
    session = next(json.loads(page.evaluate(f"() => localStorage.getItem({json.dumps(k)})"))["id"]
                   for k in page.evaluate("() => Object.keys(localStorage)") if k.startswith("support-chat:"))
    handoff_id = _wait_for_handoff(web, session, lead_token)
    chat.check(tally, "widget (customer's messages)")
    tally.outcomes["typed in the widget"] = len(payloads)
    return handoff_id, chat


def _wait_for_handoff(web: str, session: str, token: str, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = requests.get(f"{web}/api/handoffs/recent", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        for handoff in queue.get("handoffs", []):
            if handoff.get("conversation_id") == session:
                return int(handoff["id"])
        time.sleep(1)
    raise TimeoutError(f"no handoff for the widget's conversation {session} after {timeout:.0f} s")


def _agent_answers(product: Product, handoff: Any, handoff_id: int, payloads: Sequence[str], tally: Tally) -> str:
    """An agent whose name is a payload claims the handoff, replies with every payload and notes every payload."""
    name = next(p for p in payloads if len(p) <= 120 and "<" in p)
    email = f"xss-{uuid.uuid4().hex[:6]}@reliability.example"
    handoff.create_agent(email, name, "agent", "xss agent password")
    token, _agent = handoff.sign_in(email, "xss agent password")
    auth = {"Authorization": f"Bearer {token}"}
    web = product.web_url
    claimed = requests.post(f"{web}/api/handoffs/{handoff_id}/claim", headers=auth, timeout=30)
    if claimed.status_code != 200:
        tally.fail(Finding("not run", "claim", f"the agent could not claim the handoff: {clip(claimed.text)}"))
    for payload in payloads:
        for kind in ("reply", "notes"):
            answer = requests.post(f"{web}/api/handoffs/{handoff_id}/{kind}", json={"text": payload}, headers=auth, timeout=30)
            tally.tried += 1
            tally.outcomes[f"agent {kind} {answer.status_code}"] += 1
    return token


def _widget_shows_the_replies(chat: Watched, payloads: Sequence[str], tally: Tally) -> None:
    last = payloads[-1]
    agent_lines = chat.page.locator("support-chat").locator("li.msg")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and agent_lines.filter(has_text=last).count() < 2:  # typed once, replied once
        time.sleep(0.5)
    tally.outcomes["messages shown in the widget"] = agent_lines.count()
    chat.page.reload()  # and once more from the conversation's history
    chat.page.locator("support-chat").locator(".launcher").click()
    time.sleep(3)
    chat.check(tally, "widget (the team's replies, the agent's name, the history)")


def _desk(browser: Any, web: str, token: str, handoff_id: int, payloads: Sequence[str], tally: Tally) -> None:
    desk = Watched(browser, web, cookies=[{"name": "desk_session", "value": token, "url": web}])
    desk.page.goto(f"/desk/#/handoff/{handoff_id}")
    desk.page.locator("#live-state[data-state='on']").wait_for()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and desk.page.get_by_text(payloads[-1], exact=False).count() == 0:
        time.sleep(0.5)
    tally.outcomes["payload lines in the desk"] = desk.page.get_by_text(re.compile(".")).count()
    desk.check(tally, "desk (transcript, replies, notes, agent name)")
    desk.page.goto("/desk/#/queue")
    time.sleep(1)
    desk.check(tally, "desk (queue)")
    desk.close()


def _leads_pages(browser: Any, product: Product, lead_token: str, payloads: Sequence[str], tally: Tally) -> None:
    web = product.web_url
    lead = {"Authorization": f"Bearer {lead_token}"}
    created: List[str] = []
    for n, payload in enumerate(payloads):  # one article per payload as its title; bodies and questions in groups
        group = payloads[(n // 20) * 20:(n // 20) * 20 + 20] if n % 20 == 0 else []
        article = {"id": f"xss-{n:03d}", "title": payload[:300], "category": "xss", "tags": ["xss"], "status": "draft",
                   "url": f"https://help.example/xss/{n}", "body": "\n\n".join(["Intro."] + list(group)) if group else "Plain.",
                   "questions": [q[:280] for q in group]}
        answer = requests.post(f"{web}/api/kb/articles", json={"article": article}, headers=lead, timeout=60)
        tally.tried += 1
        tally.outcomes[f"article created {answer.status_code}"] += 1
        if answer.status_code == 201 and group:
            created.append(article["id"])
    page = Watched(browser, web, cookies=[{"name": "desk_session", "value": lead_token, "url": web}])
    page.page.goto("/desk/knowledge/#/articles")
    time.sleep(3)
    page.check(tally, "leads' article list (titles)")
    for article_id in created:
        page.page.goto(f"/desk/knowledge/#/articles/{article_id}")
        time.sleep(2)
        preview = page.page.get_by_role("button", name="Preview")
        if preview.count():
            preview.first.click()
            time.sleep(2)
        page.check(tally, f"leads' editor and preview ({article_id})")
    tally.outcomes["articles opened in the editor"] = len(created)
    page.close()


def _slack(product: Product, payloads: Sequence[str], tally: Tally) -> None:
    """A Slack customer's DM of payloads, handed off: the agents' post must carry them escaped."""
    from bot.bench.reliability.slack_events import _event, _sign

    channel = "D" + uuid.uuid4().hex[:10].upper()
    url = f"{product.rasa_url}/webhooks/slack/events"
    start = len(product.slack.calls)
    for payload in list(payloads[:40]) + ["I want to talk to a person"]:
        raw = json.dumps(_event("UJANE0001", channel, payload, f"{time.time():.6f}", "Ev" + uuid.uuid4().hex[:12])).encode()
        requests.post(url, data=raw, headers={"Content-Type": "application/json", **_sign(product.slack_secret, raw, int(time.time()))},
                      timeout=30)
        tally.tried += 1
        time.sleep(0.3)
    deadline = time.monotonic() + 120
    agents_posts: List[Dict[str, Any]] = []
    while time.monotonic() < deadline and not agents_posts:
        agents_posts = [c.args for c in product.slack.calls[start:] if c.method == "chat.postMessage"
                        and c.args.get("channel") == product.settings.slack_agents_channel]
        time.sleep(1)
    if not agents_posts:
        tally.fail(Finding("not run", "Slack", "the handoff never reached the agents' channel"))
        return
    texts = _texts(agents_posts) + _texts([c.args for c in product.slack.calls[start:] if c.args.get("channel") == channel])
    unescaped = 0
    for payload in payloads[:40]:
        raw_markup = [t for t in texts if ("<" in payload or ">" in payload) and _unescaped_part(payload) in t]
        unescaped += bool(raw_markup)
        if raw_markup:
            tally.fail(Finding("unescaped in Slack", "Block Kit text", "a payload's < or > reached Slack unescaped", clip(payload)))
    tally.outcomes["Slack texts checked"] = len(texts)


def _unescaped_part(payload: str) -> str:
    """The stretch of the payload around its first '<' or '>', as it would appear if not escaped."""
    at = min(i for i in (payload.find("<"), payload.find(">")) if i >= 0)
    return payload[max(0, at - 3):at + 8]


def _texts(posts: Sequence[Dict[str, Any]]) -> List[str]:
    found: List[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for post in posts:
        walk(post)
    return found
