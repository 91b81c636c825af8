"""Proactive messages end to end: the store's event (`POST /api/store/events` on the web app) reaches the customer's
open widget live (socket.io) and a Slack DM (the local fake of Slack's Web API), is in the transcript and the
widget's history, and the customer's reply continues the order flow; an unverified session never gets order details.
One product instance of its own: Slack switched on, the store's token set, the team on duty around the clock."""
from __future__ import annotations

import queue
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
import socketio

from bot import runner
from bot.__main__ import MODEL_DIR, build_knowledge_base
from bot.identity import sign_identity
from bot.proactive.models import Contact
from bot.proactive.service import DETAIL_FREE
from bot.proactive.store import SqlProactiveStore
from bot.settings import PROJECT_ROOT, Settings
from bot.store.directory import SqlCustomerDirectory
from bot.store.seed import seed
from bot.store.service import utcnow
from tests.e2e.conftest import PORT_BASE, TOKEN, always_open_handoff_config
from tests.slack_fake import TEAM, FakeSlack, SlackSender, message_event

pytestmark = pytest.mark.integration

SIGNING_SECRET = "e2e-proactive-signing-secret"
IDENTITY_SECRET = "e2e-proactive-identity"
STORE_TOKEN = "e2e-store-token"
JANE = "UJANE0001"
SHIPPED = {"order_number": "104512", "event": "shipped", "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
           "estimated_delivery": "2026-12-24"}


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user(JANE, "jane.doe@example.com", "Jane Doe")  # the store's C1001
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, trained_model: Path, slack: FakeSlack) -> Iterator[Settings]:
    data_dir: Path = tmp_path_factory.mktemp("proactive-data")
    shutil.copytree(PROJECT_ROOT / "knowledge_base" / "articles", data_dir / "articles")
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(data_dir), "RASA_PORT": str(PORT_BASE + 605), "ACTION_PORT": str(PORT_BASE + 655),
        "WEB_PORT": str(PORT_BASE + 680), "RASA_TOKEN": TOKEN, "IDENTITY_SECRET": IDENTITY_SECRET,
        "KB_ARTICLES_DIR": str(data_dir / "articles"), "HANDOFF_CONFIG": str(always_open_handoff_config(data_dir)),
        "SLACK_BOT_TOKEN": "xoxb-e2e-token", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.url,
        "STORE_API_TOKEN": STORE_TOKEN, "PROACTIVE_MAX_PER_DAY": "100",
    })
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    build_knowledge_base(settings)
    processes = runner.start_all(settings, MODEL_DIR)
    yield settings
    runner.stop_all(processes)


class Widget:
    """A browser's widget: a socket.io connection in the conversation's room, collecting what the assistant says."""

    def __init__(self, settings: Settings, identity: Dict[str, Any] | None) -> None:
        self.session_id = uuid.uuid4().hex
        self.metadata = {"customer": identity} if identity else {}
        self.received: "queue.Queue[dict]" = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("bot_uttered", self.received.put)
        confirmed: "queue.Queue[str]" = queue.Queue()
        self.client.on("session_confirm", confirmed.put)
        self.client.connect(settings.rasa_url, transports=["websocket"], wait_timeout=20)
        self.client.emit("session_request", {"session_id": self.session_id})
        assert confirmed.get(timeout=20) == self.session_id

    def say(self, text: str, quiet: float = 3.0) -> List[dict]:
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id, "metadata": self.metadata})
        return self.collect(first_within=60, quiet=quiet)

    def collect(self, first_within: float, quiet: float = 2.0) -> List[dict]:
        """What arrives: the first message within `first_within` seconds (none: []), then until `quiet` seconds pass."""
        got: List[dict] = []
        try:
            got.append(self.received.get(timeout=first_within))
            while True:
                got.append(self.received.get(timeout=quiet))
        except queue.Empty:
            return got

    def close(self) -> None:
        self.client.disconnect()


def texts(messages: List[dict]) -> str:
    return " ".join(str(m.get("text") or "") for m in messages)


def announce(settings: Settings, **changes: Any) -> Dict[str, Any]:
    body = {**SHIPPED, "event_id": uuid.uuid4().hex, **changes}
    answer = requests.post(f"{settings.web_url}/api/store/events", json=body,
                           headers={"Authorization": f"Bearer {STORE_TOKEN}"}, timeout=60)
    assert answer.status_code == 202, answer.text
    return answer.json()


def bot_texts(settings: Settings, conversation_id: str) -> List[str]:
    tracker = requests.get(f"{settings.rasa_url}/conversations/{conversation_id}/tracker", params={"token": TOKEN}, timeout=30).json()
    return [str(e.get("text") or "") for e in tracker["events"] if e["event"] == "bot"]


def jane() -> Dict[str, Any]:
    return {"customer_id": "C1001", "email": "jane.doe@example.com",
            "signature": sign_identity(IDENTITY_SECRET, "C1001", "jane.doe@example.com")}


def test_a_shipping_message_reaches_the_open_widget_and_the_reply_continues_the_order_flow(product):
    widget = Widget(product, jane())
    try:
        assert "Hi Jane" in texts(widget.say("hello"))
        sent = announce(product)
        assert sent["state"] == "sent", sent
        live = widget.collect(first_within=30)
        assert texts(live).startswith("Your order 104512 (Pulse 700 Wireless Headphones) shipped with UPS, expected Thu, Dec 24.")
        assert "1Z999AA10123456784" in texts(live)
        assert [r["payload"] for r in live[0]["quick_replies"]] == ["/order_status", "/proactive_opt_out"]
        # in the transcript, and in the widget's history (a reload shows it)
        assert any(t.startswith("Your order 104512") for t in bot_texts(product, widget.session_id))
        history = requests.get(f"{product.web_url}/api/widget/history/{widget.session_id}", timeout=30).json()
        assert "Your order 104512" in str(history)
        # the store's event sent again (a retry after a timeout): told once
        again = requests.post(f"{product.web_url}/api/store/events", json={**SHIPPED, "event_id": "retry-1"},
                              headers={"Authorization": f"Bearer {STORE_TOKEN}"}, timeout=60).json()
        requests.post(f"{product.web_url}/api/store/events", json={**SHIPPED, "event_id": "retry-1"},
                      headers={"Authorization": f"Bearer {STORE_TOKEN}"}, timeout=60)
        assert again["state"] == "sent" and len(widget.collect(first_within=10)) == 1
        # the reply goes on with the order-status flow for that order, without asking which order
        reply = texts(widget.say("it says delayed"))
        assert "order #104512" in reply and "on its way with UPS" in reply and "order number" not in reply
    finally:
        widget.close()


def test_a_shipping_message_reaches_a_slack_dm_and_the_reply_continues(product, slack):
    sender = SlackSender(f"{product.rasa_url}/webhooks/slack/events", SIGNING_SECRET)
    dm = "DJANE0701"

    def posts(since: int) -> List[Dict[str, Any]]:
        return [c.args for c in slack.calls[since:] if c.method == "chat.postMessage" and c.args.get("channel") == dm]

    start = len(slack.calls)
    assert sender.event(message_event(JANE, dm, "hello")).status_code == 200
    slack.wait_for(lambda: posts(start), timeout=60, what="the greeting")
    time.sleep(2)  # the session started in the DM: Jane's newest verified conversation
    start = len(slack.calls)
    sent = announce(product, event="delayed", estimated_delivery="2026-12-28")
    assert sent["state"] == "sent", sent
    slack.wait_for(lambda: posts(start), timeout=30, what="the proactive message in the DM")
    said = " ".join(str(p.get("text")) + str(p.get("blocks")) for p in posts(start))
    assert "Your order 104512" in said and "running late" in said and "Mon, Dec 28" in said
    assert any("running late" in t for t in bot_texts(product, f"slack:{TEAM}:{dm}"))
    start = len(slack.calls)
    assert sender.event(message_event(JANE, dm, "it says delayed")).status_code == 200
    slack.wait_for(lambda: posts(start), timeout=60, what="the order status")
    time.sleep(2)
    reply = " ".join(str(p.get("text")) for p in posts(start))
    assert "order #104512" in reply and "on its way with UPS" in reply


def test_an_unverified_session_never_receives_order_details(product):
    anonymous = Widget(product, None)
    try:
        anonymous.say("hello")
        # even one that proved an order by its email in this conversation is not a verified customer
        anonymous.say("where is my order 104512")
        assert "on its way" in texts(anonymous.say("jane.doe@example.com"))
        assert announce(product)["state"] == "sent"  # to Jane's own verified conversation, not here
        assert anonymous.collect(first_within=8) == []
        # a contact that points at a conversation whose session is not verified (stale, or tampered with): the
        # assistant checks the live session and says only that there is news
        SqlProactiveStore.from_url(product.app_db_url).note_contact(Contact("C1001", anonymous.session_id, "website", utcnow()))
        assert announce(product, event="delayed")["state"] == "sent"
        note = anonymous.collect(first_within=30)
        assert texts(note) == DETAIL_FREE
        assert "104512" not in str(note) and "1Z999" not in str(note) and "UPS" not in str(note)
    finally:
        anonymous.close()
    transcript = " ".join(bot_texts(product, anonymous.session_id))
    assert transcript.count(DETAIL_FREE) == 1 and "Your order" not in transcript


def test_the_store_route_refuses_a_wrong_token(product):
    answer = requests.post(f"{product.web_url}/api/store/events", json=SHIPPED, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert answer.status_code == 401


def test_bot_store_ship_changes_the_demo_store_and_tells_the_customer(product):
    import subprocess
    import sys

    widget = Widget(product, {"customer_id": "C1002", "email": "sam.patel@example.com",
                              "signature": sign_identity(IDENTITY_SECRET, "C1002", "sam.patel@example.com")})
    try:
        widget.say("hi")
        env = {**product.rasa_environment(), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}
        done = subprocess.run([sys.executable, "-m", "bot", "store", "ship", "105001", "--carrier", "FedEx",
                               "--tracking", "612999999900"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"told the customer in conversation {widget.session_id}" in done.stdout
        said = texts(widget.collect(first_within=30))
        assert said.startswith("Your order 105001 (Nova Tab 10 tablet) shipped with FedEx") and "612999999900" in said
    finally:
        widget.close()
