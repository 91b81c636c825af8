"""The website widget in a real browser (Debian's Chromium through Playwright) against the real servers.

Rasa, the action server and the web app run as in production (tests/e2e/conftest.py); the widget is loaded
the way a store loads it, with one script tag, either on the demo store page the web app serves or on a
"host page" of another origin (with hostile CSS) that Playwright serves itself. An agent works through the
desk's API. Screenshots of the key states go to tests/artifacts/.
"""
from __future__ import annotations

import html
import json
import re
import socket
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
import sqlalchemy as sa

from bot.container import build_handoff
from bot.handoff import store as store_tables
from bot.identity import sign_identity
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
PASSWORD = "e2e widget agent password"
REPLY_MS = 120_000  # the first answers load models on a busy machine
JANE = {"customer_id": "C1001", "email": "jane.doe@example.com"}
HOSTILE = ('<img src=x onerror="window.__xss=1"> </script><script>window.__xss=2</script> '
           '[click me](javascript:window.__xss=3) javascript:alert(1)')
HOSTILE_CSS = """* { font-size: 40px !important; color: #f0f !important; font-family: serif !important; }
button { display: none !important; } support-chat { display: none !important; } div { position: static !important; }"""


# --- the browser, the site, an agent -------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the widget's browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(servers) -> str:
    """The web app: the widget's script, its history route, the demo store, the desk's API."""
    return servers.settings.web_url


@pytest.fixture(scope="module")
def maya(servers, site) -> "Agent":
    build_handoff(servers.settings).ensure_agent("maya.widget@e2e.example", "Maya", "agent", PASSWORD)
    return Agent(site, "maya.widget@e2e.example")


class Agent:
    """An agent at the desk, through its JSON API."""

    def __init__(self, site: str, email: str) -> None:
        self.site = site
        self.email = email
        self.sign_in()

    def sign_in(self) -> None:  # signing in puts the agent online for the queue
        reply = requests.post(f"{self.site}/api/auth/login", json={"email": self.email, "password": PASSWORD}, timeout=20)
        assert reply.status_code == 200, reply.text
        self.headers = {"Authorization": f"Bearer {reply.json()['token']}"}

    def get(self, path: str) -> Any:
        reply = requests.get(self.site + path, headers=self.headers, timeout=20)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def post(self, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        reply = requests.post(self.site + path, headers=self.headers, json=body or {}, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def handoff_of(self, conversation_id: str) -> Dict[str, Any]:
        def find() -> Dict[str, Any]:
            found = [h for h in self.get("/api/queue")["handoffs"] if h["conversation_id"] == conversation_id]
            assert found, f"no handoff for {conversation_id}"
            return found[0]
        return eventually(find)

    def customer_said(self, handoff_id: int) -> List[str]:
        return [m["text"] for m in self.get(f"/api/handoffs/{handoff_id}")["messages"] if m["author"] == "customer"]


def eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


# --- the widget on a page ---------------------------------------------------------------------------

MESSAGES_JS = """() => Array.from(document.querySelector('support-chat').shadowRoot.querySelectorAll('.log li.msg:not(.welcome)'))
  .map(li => ({who: ['customer', 'agent'].find(c => li.classList.contains(c)) || 'bot',
               text: (li.querySelector('.card .text') || li.querySelector('.text')).textContent,
               agent: (li.querySelector('.agent-name') || {}).textContent || null}))"""
CONTRAST_JS = """() => {
  const root = document.querySelector('support-chat').shadowRoot;
  const rgba = (c) => { const p = (c.match(/rgba?\\(([^)]+)\\)/) || [null, '0,0,0,0'])[1].split(',').map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => [c.r, c.g, c.b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => { for (let n = el; n; n = n.parentElement || (n.getRootNode().host || null)) {
    const c = rgba(getComputedStyle(n).backgroundColor); if (c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const problems = []; const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const el = walk.currentNode.parentElement;
    if (!walk.currentNode.textContent.trim() || el.closest('.sr-only') || !el.getClientRects().length) continue;
    const style = getComputedStyle(el); const [a, b] = [lum(rgba(style.color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(walk.currentNode.textContent.trim().slice(0, 40) + ': ' + ratio.toFixed(2));
  }
  return problems; }"""
FOCUS_JS = """() => { const root = document.querySelector('support-chat').shadowRoot; const el = root.activeElement;
  return el ? (el.id || el.className || el.tagName) : (document.activeElement || {}).tagName || null; }"""


class Chat:
    """A tab showing a page with the widget; script errors and dialogs are collected for the assertions."""

    def __init__(self, context, url: str) -> None:
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.problems: List[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        self.page.goto(url)
        self.root = self.page.locator("support-chat")
        self.log = self.root.locator(".log")
        self.input = self.root.get_by_label("Message")

    def open(self) -> None:
        self.root.locator(".launcher").click()
        self.input.wait_for()

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def wait_for(self, text: str, who: str = "li.msg", timeout: float = REPLY_MS) -> None:
        self.log.locator(who, has_text=text).last.wait_for(timeout=timeout)

    def messages(self) -> List[Dict[str, Any]]:
        return self.page.evaluate(MESSAGES_JS)

    def texts(self) -> List[str]:
        return [m["text"] for m in self.messages()]

    def focus(self) -> Optional[str]:
        return self.page.evaluate(FOCUS_JS)

    def session_id(self, site: str) -> str:
        return json.loads(self.page.evaluate(f"() => localStorage.getItem('support-chat:{site}')"))["id"]

    def contrast_problems(self) -> List[str]:
        """Visible text whose contrast with its background is under WCAG AA (4.5:1, 3:1 for large text)."""
        return self.page.evaluate(CONTRAST_JS)

    def announced(self) -> str:
        return self.root.locator("[data-role=announcer]").text_content() or ""

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))

    def no_script_ran(self) -> None:
        assert self.page.evaluate("() => window.__xss") is None
        assert self.problems == []


class HostSite:
    """Another store's web server (another origin: localhost, its own port) whose pages embed the widget."""

    def __init__(self) -> None:
        self.pages: Dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, site: str, config: Dict[str, Any]) -> str:
        """A page with hostile CSS and the one script tag; returns its address."""
        path = f"/shop-{len(self.pages)}"
        attribute = html.escape(json.dumps(config), quote=True)
        self.pages[path] = ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Another shop</title>"
                            f"<style>{HOSTILE_CSS}</style></head><body><h1>Another shop</h1><a href='#'>A link</a>"
                            f"<script src='{site}/widget.js' async data-config=\"{attribute}\"></script></body></html>").encode()
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def shop() -> Iterator[HostSite]:
    host = HostSite()
    yield host
    host.close()


class FlakyLink:
    """A TCP proxy between the browser and Rasa that can cut every connection, like a network outage."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open: List[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self) -> None:
        self.up = False
        with self.lock:
            for end in self.open:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.drop()
        self.listener.close()


# --- the tests -----------------------------------------------------------------------------------------

def test_a_signed_in_customer_has_a_whole_conversation_and_it_survives_reloads_and_tabs(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    chat = Chat(context, f"{site}/?customer=jane")
    chat.open()
    assert chat.root.locator(".welcome").is_visible()  # the configured greeting

    chat.say("hi")
    chat.wait_for("Hi Jane")  # the signed identity: greeted by name

    chat.say("how do I reset my sentry cam?")
    card = chat.log.locator("li.has-card").last
    card.wait_for(timeout=REPLY_MS)
    article = card.locator(".source a")
    assert "Sentry Cam" in article.text_content()
    assert re.match(r"https?://.+reset-sentry-cam-2k", article.get_attribute("href"))
    assert article.get_attribute("rel") == "noopener noreferrer" and article.get_attribute("target") == "_blank"
    assert "paper clip" in card.locator(".card .text").text_content() and card.get_by_text("Did this help?").is_visible()
    chat.shot("kb-card")
    card.get_by_role("button", name="Yes, thanks").click()  # the rating, by button
    chat.wait_for("glad that helped")
    assert card.get_by_role("button").count() == 0  # answered buttons go away

    chat.say("where is my order 104512")
    chat.wait_for("UPS")  # no email asked: the identity was signed by the store
    said = chat.texts()
    assert not any("email" in text.lower() for text in said[-2:]), said
    assert chat.log.locator("li.msg:not(.welcome) time").count() == len(said)  # every message has its time
    chat.shot("order-status")
    before = chat.messages()
    assert [m["who"] for m in before] == ["customer", "bot", "customer", "bot", "customer", "bot", "customer", "bot"]
    assert before[4]["text"] == "Yes, thanks"

    chat.page.reload()  # the panel stays open and the conversation comes back from the tracker
    eventually(lambda: _same(chat.messages(), before))
    chat.shot("after-reload")

    second = Chat(context, f"{site}/?customer=jane")  # a second tab: the same conversation
    second.open()
    eventually(lambda: _same(second.messages(), before))
    second.say("thanks!")
    second.wait_for("You're welcome")
    # the first tab sees the bot's answer live and, from the tracker, what was said in the other tab
    eventually(lambda: _same(chat.messages(), second.messages()), timeout=20)
    assert chat.texts()[-2] == "thanks!"
    chat.no_script_ran()
    second.no_script_ran()

    janes = chat.session_id(site)
    guest = Chat(context, f"{site}/")  # the same browser signed out: a new, empty conversation
    guest.open()
    guest.page.wait_for_timeout(1500)
    assert guest.messages() == []
    assert guest.session_id(site) != janes
    guest.page.goto(f"{site}/?customer=jane")  # and Jane's is not kept for the next person either
    assert Chat.session_id(guest, site) not in (janes, None)
    context.close()


def _same(shown: List[Dict[str, Any]], expected: List[Dict[str, Any]]) -> None:
    assert shown == expected


def test_a_forged_identity_is_not_honoured(browser, servers, site, shop):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    forged = {**JANE, "signature": sign_identity("not-the-shared-secret", JANE["customer_id"], JANE["email"])}
    chat = Chat(context, shop.page(site, {"server": site, "title": "Another shop", "customer": forged}))
    chat.open()
    chat.say("hi")
    chat.wait_for("welcome to Brightwave")
    assert "Jane" not in " ".join(chat.texts())
    chat.say("where is my order 104512")
    chat.wait_for("email")  # treated as anonymous: asked to prove the order is theirs
    assert "UPS" not in " ".join(chat.texts()) and "Pulse" not in " ".join(chat.texts())
    chat.shot("forged-identity")
    log = (servers.settings.log_dir / "actions.log").read_text(errors="replace")
    assert "identity claim for customer 'C1001' ignored: bad signature" in log
    chat.no_script_ran()
    context.close()


def test_the_host_page_css_does_not_reach_the_widget(browser, site, shop):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    chat = Chat(context, shop.page(site, {"server": site, "title": "Another shop", "colors": {"primary": "#ffd400"}}))
    launcher = chat.root.locator(".launcher")
    launcher.wait_for()
    assert launcher.is_visible()  # "button { display: none !important }" and "support-chat { display: none }" do not apply
    chat.open()
    styles = chat.page.evaluate("""() => { const root = document.querySelector('support-chat').shadowRoot;
        const welcome = getComputedStyle(root.querySelector('.welcome')); const head = getComputedStyle(root.querySelector('.head'));
        return {size: welcome.fontSize, color: welcome.color, headText: head.color, headBackground: head.backgroundColor}; }""")
    assert styles["size"] == "15px" and styles["color"] == "rgb(31, 35, 40)"
    # a light brand colour gets dark text, so the header stays readable
    assert styles["headBackground"] == "rgb(255, 212, 0)" and styles["headText"] == "rgb(17, 17, 17)"
    chat.shot("hostile-host-page")
    chat.no_script_ran()
    context.close()


def test_handoff_agent_replies_live_survive_a_network_drop_and_markup_stays_text(browser, servers, site, shop, maya):
    maya.sign_in()  # online, so the customer is queued for a person
    link = FlakyLink(servers.settings.rasa_port)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    chat = Chat(context, shop.page(site, {"server": site, "socketUrl": f"http://127.0.0.1:{link.port}", "title": "Brightwave support"}))
    try:
        chat.open()
        chat.root.get_by_role("button", name="Talk to a person").click()
        chat.wait_for("bringing in a person")
        assert chat.log.locator("li.notice .chip").last.text_content().startswith("Place in queue: ")
        session = chat.session_id(site)
        handoff = maya.handoff_of(session)

        chat.say(HOSTILE)  # the customer's markup is shown as the text they typed
        eventually(lambda: _assert_in(HOSTILE, maya.customer_said(handoff["id"])))
        maya.post(f"/api/handoffs/{handoff['id']}/claim")
        maya.post(f"/api/handoffs/{handoff['id']}/reply", {"text": "Hi, I'm Maya from the team. How can I help?"})
        chat.wait_for("I'm Maya", who="li.agent", timeout=30_000)
        agent_line = chat.messages()[-1]
        assert agent_line["who"] == "agent" and agent_line["agent"].startswith("Maya")
        eventually(lambda: _assert_in("Maya from our team: Hi, I'm Maya", [chat.announced()]))  # the screen reader hears it
        assert chat.root.locator("[data-role=announcer]").get_attribute("aria-live") == "polite"
        chat.shot("agent-reply")

        maya.post(f"/api/handoffs/{handoff['id']}/reply", {"text": HOSTILE + " Details: https://brightwave.example/help"})
        chat.wait_for("Details:", who="li.agent", timeout=30_000)
        assert chat.messages()[-1]["text"] == HOSTILE + " Details: https://brightwave.example/help"
        assert chat.root.locator("img:not(.logo)").count() == 0 and chat.root.locator("script").count() == 0
        hrefs = chat.log.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert hrefs == ["https://brightwave.example/help"], hrefs
        chat.shot("markup-as-text")
        assert chat.contrast_problems() == []  # customer, agent and queue messages

        # the network drops: a reply sent meanwhile, and one the customer types, are neither lost nor doubled
        link.drop()
        chat.root.get_by_text("Reconnecting").wait_for(timeout=20_000)
        maya.post(f"/api/handoffs/{handoff['id']}/reply", {"text": "Sent while you were offline."})
        chat.say("typed while offline")
        chat.page.wait_for_timeout(1500)
        link.restore()
        chat.wait_for("Sent while you were offline.", who="li.agent", timeout=45_000)
        eventually(lambda: _assert_in("typed while offline", maya.customer_said(handoff["id"])))
        chat.page.wait_for_timeout(2000)
        texts = chat.texts()
        assert texts.count("Sent while you were offline.") == 1 and texts.count("typed while offline") == 1, texts
        assert chat.root.locator(".undelivered").count() == 0
        history = requests.get(f"{site}/api/widget/history/{session}", timeout=20).json()["messages"]
        assert [m["text"] for m in history] == texts  # the widget shows exactly what the tracker holds
        chat.shot("after-network-drop")

        maya.post(f"/api/handoffs/{handoff['id']}/resolve")  # the bot is back and asks for a rating
        rating = chat.root.get_by_role("group", name=re.compile("Rate the help"))
        rating.wait_for(timeout=REPLY_MS)
        assert [rating.get_by_role("button").nth(i).get_attribute("aria-label") for i in range(5)] == [
            "1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
        chat.shot("csat")
        assert chat.contrast_problems() == []
        rating.get_by_role("button", name="5 stars").click()
        chat.wait_for("Thank you for the rating")
        ratings = build_handoff(servers.settings).store.csat()
        assert [(r.rating, r.handoff_id) for r in ratings if r.conversation_id == session] == [(5, handoff["id"])]
        chat.no_script_ran()
    finally:
        link.close()
        context.close()


def _assert_in(item: str, items: List[str]) -> None:
    assert any(item in candidate for candidate in items), (item, items)


def test_keyboard_only(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    chat = Chat(context, f"{site}/")
    chat.root.locator(".launcher").wait_for()
    for _ in range(30):  # through the store's links and buttons to the chat button
        chat.page.keyboard.press("Tab")
        if chat.focus() == "launcher":
            break
    assert chat.focus() == "launcher"
    chat.page.keyboard.press("Enter")
    assert chat.focus() == "bw-input"  # opening the chat puts the cursor where you type
    assert chat.root.locator(".launcher").get_attribute("aria-expanded") == "true"
    chat.page.keyboard.type("how do I reset my sentry cam?")
    chat.page.keyboard.press("Enter")
    chat.log.locator("li.has-card").last.wait_for(timeout=REPLY_MS)
    eventually(lambda: _assert_in("Did this help?", [chat.announced()]))
    chat.page.keyboard.press("Shift+Tab")  # back from the message box to the answer's buttons
    assert chat.focus() == "reply"
    chat.page.keyboard.press("Shift+Tab")
    chat.page.keyboard.press("Enter")  # "Yes, thanks"
    chat.wait_for("glad that helped")
    assert chat.texts()[-2] == "Yes, thanks"
    assert chat.focus() == "bw-input"  # the buttons went away; the focus did not get lost
    eventually(lambda: _assert_in("glad that helped", [chat.announced()]))
    chat.shot("keyboard")
    assert chat.contrast_problems() == []  # header, card, buttons, times
    chat.page.keyboard.press("Escape")
    assert chat.root.locator(".panel").is_hidden() and chat.focus() == "launcher"
    chat.page.keyboard.press("Enter")
    assert chat.root.locator(".panel").is_visible() and chat.focus() == "bw-input"
    chat.no_script_ran()
    context.close()


def test_on_a_phone(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    chat = Chat(context, f"{site}/?customer=jane")
    chat.open()
    box = chat.root.locator(".panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}  # the whole screen
    assert chat.root.locator(".launcher").is_hidden()
    chat.say("hi")
    chat.wait_for("Hi Jane")
    chat.say("where is my order 104512")
    chat.wait_for("UPS")
    chat.shot("phone")
    assert chat.page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing sideways
    chat.root.get_by_role("button", name="Close chat").click()
    assert chat.root.locator(".launcher").is_visible()
    chat.no_script_ran()
    context.close()


def test_the_offline_form_when_nobody_is_on_chat(browser, servers, site, maya):
    with build_handoff(servers.settings).store._engine.begin() as conn:  # nobody has checked in for a while
        conn.execute(sa.update(store_tables.agents).values(last_seen_at=datetime(2020, 1, 1)))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    chat = Chat(context, f"{site}/")
    chat.open()
    chat.root.get_by_role("button", name="Talk to a person").click()
    form = chat.root.get_by_role("form", name="Leave a message for our team")
    form.wait_for(timeout=REPLY_MS)
    chat.shot("offline-form")
    form.get_by_label("Your email").fill("not an email")
    form.get_by_label("How can we help?").fill("My Pulse 700 headphones crackle on the left side.")
    form.get_by_role("button", name="Send to our team").click()
    assert form.is_visible() and chat.messages()[-1]["who"] == "bot"  # refused in the browser, nothing sent
    form.get_by_label("Your email").fill("jane.doe@example.com")
    form.get_by_label("Your email").press("Enter")
    chat.wait_for("Our team will email you at jane.doe@example.com")
    said = [m["text"] for m in chat.messages() if m["who"] == "customer"]
    assert said[-2:] == ["jane.doe@example.com", "My Pulse 700 headphones crackle on the left side."]
    chat.shot("offline-sent")
    session = chat.session_id(site)
    tickets = [t for t in maya.get("/api/tickets?state=open")["tickets"] if t["conversation_id"] == session]
    assert [(t["email"], t["description"]) for t in tickets] == [
        ("jane.doe@example.com", "My Pulse 700 headphones crackle on the left side.")]
    assert chat.contrast_problems() == []
    chat.no_script_ran()
    context.close()

    # a signed-in customer's email is known: the form asks only what the team needs
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    jane = Chat(context, f"{site}/?customer=jane")
    jane.open()
    jane.root.get_by_role("button", name="Talk to a person").click()
    form = jane.root.get_by_role("form", name="Leave a message for our team")
    form.wait_for(timeout=REPLY_MS)
    assert form.get_by_label("Your email").count() == 0
    form.get_by_label("How can we help?").fill("Please call me about a bulk order.")
    form.get_by_role("button", name="Send to our team").click()
    jane.wait_for("Our team will email you at jane.doe@example.com")
    session = jane.session_id(site)
    tickets = [t for t in maya.get("/api/tickets?state=open")["tickets"] if t["conversation_id"] == session]
    assert [(t["email"], t["description"]) for t in tickets] == [("jane.doe@example.com", "Please call me about a bulk order.")]
    jane.no_script_ran()
    context.close()


def test_send_again_sends_the_same_message_id_so_the_server_never_handles_a_message_twice(browser, site, shop):
    # a signature too long for the channel's metadata limit: the server refuses each copy with an `error` event
    customer = {"customer_id": "C-TOO-LONG", "email": "jane.doe@example.com", "signature": "s" * 20_000}
    context = browser.new_context()
    chat = Chat(context, shop.page(site, {"server": site, "customer": customer}))
    sent: List[Dict[str, Any]] = []

    def frame(payload: Any) -> None:  # socket.io over WebSocket ("42[...]") or long polling (same text)
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        for match in re.finditer(r'42\["user_uttered",', text):
            sent.append(json.JSONDecoder().raw_decode(text, match.end())[0])

    chat.page.on("websocket", lambda ws: ws.on("framesent", frame))
    chat.page.on("request", lambda request: request.method == "POST" and "socket.io" in request.url
                 and frame(request.post_data or ""))
    try:
        chat.open()
        chat.say("where is my order")
        chat.root.get_by_text("Not sent:").wait_for(timeout=30_000)
        chat.root.get_by_role("button", name="Send again").click()
        eventually(lambda: _assert_count(sent, 2))
        chat.say("and another thing")
        eventually(lambda: _assert_count(sent, 3))
        ids = [m["message_id"] for m in sent]
        assert ids[0] == ids[1] and ids[2] != ids[0], ids  # a resend is the same message; a new one is not
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{8,64}", i) for i in ids), ids
        chat.no_script_ran()
    finally:
        context.close()


def _assert_count(items: List[Any], count: int) -> None:
    assert len(items) == count, items
