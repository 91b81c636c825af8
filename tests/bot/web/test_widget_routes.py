"""The widget's routes in the web app: its scripts, the conversation history read from Rasa, the demo page.

Rasa's tracker API is a small local HTTP server here, built from Rasa's own event classes, so the
history route goes through the real HTTP client and can be made to fail (error status, nobody listening).
"""
from __future__ import annotations

import html
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

from bot.bench import widget_size
from bot.identity import verify_identity
from bot.settings import Settings
from bot.web import widget
from bot.web.app import create_app
from bot.web.widget import mount_widget
from tests.bot.web.conftest import Desk

TOKEN = "rasa-token-for-tests"
SESSION = "0f3c2a9b8e7d6c5b4a39281706f5e4d3"


class FakeRasa:
    """GET /conversations/{id}/tracker answering the events it holds, or the status it is told to."""

    def __init__(self) -> None:
        self.events: Dict[str, List[Dict[str, Any]]] = {}
        self.status = 200
        self.requests: List[Dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                fake.requests.append({"path": url.path, "query": parse_qs(url.query)})
                found = re.fullmatch(r"/conversations/([^/]+)/tracker", url.path)
                if parse_qs(url.query).get("token") != [TOKEN]:
                    return self._answer(401, {"message": "token"})
                if fake.status != 200 or not found:
                    return self._answer(fake.status if fake.status != 200 else 404, {"message": "nope"})
                self._answer(200, {"sender_id": found.group(1), "slots": {"email": "jane.doe@example.com"},
                                   "events": fake.events.get(found.group(1), [])})

            def _answer(self, status: int, body: Dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.close()


def settings_for(tmp_path: Path, rasa_port: int) -> Settings:
    return Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "RASA_TOKEN": TOKEN, "IDENTITY_SECRET": "widget-secret",
                              "RASA_PORT": str(rasa_port), "WEB_PORT": "18080"})


@pytest.fixture
def settings(tmp_path: Path, rasa: FakeRasa) -> Settings:
    return settings_for(tmp_path, rasa.port)


@pytest.fixture
def web(desk: Desk, settings: Settings) -> Iterator[TestClient]:
    app = create_app(desk.service, desk.insights, settings)
    mount_widget(app, settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def conversation() -> List[Dict[str, Any]]:
    """A widget conversation as Rasa stores it: greeting, a help-centre card rated by button, a handoff, an agent."""
    kb = {"kb": {"article_id": "pair-buds", "title": "Pairing Wavelet Buds", "url": "https://help.example/pair-buds",
                 "passage": "Hold both buttons for **5 seconds**."}}
    return [e.as_dict() for e in [
        ActionExecuted("action_session_start", timestamp=100.0),
        SessionStarted(timestamp=100.0),
        SlotSet("customer_verified", True, timestamp=100.0),
        ActionExecuted("action_listen", timestamp=100.0),
        UserUttered("hi", {"name": "greet", "confidence": 0.99}, timestamp=101.0,
                    metadata={"customer": {"customer_id": "C1001", "email": "jane.doe@example.com", "signature": "abc"}}),
        BotUttered("Hi Jane, welcome back!", data={"elements": None, "quick_replies": None, "buttons": None, "attachment": None,
                                                   "image": None, "custom": None},
                   metadata={"utter_action": "utter_greet"}, timestamp=101.5),
        UserUttered("how do I pair my buds", {"name": "ask_question", "confidence": 0.9}, timestamp=110.0),
        BotUttered("Hold both buttons...\n\nDid this help?",
                   data={"buttons": [{"title": "Yes, thanks", "payload": "/answer_helped"},
                                     {"title": "No", "payload": "/answer_not_helpful"}],
                         "custom": {**kb, "debug": {"score": 0.93}}}, timestamp=110.7),
        UserUttered("/answer_helped", {"name": "answer_helped", "confidence": 1.0}, timestamp=120.0),
        BotUttered("Great, glad that helped!", timestamp=120.4),
        UserUttered("/request_human", {"name": "request_human", "confidence": 1.0}, timestamp=130.0),
        BotUttered("I'm bringing in a person from our team.", data={"custom": {"handoff": {"state": "waiting", "position": 1,
                                                                                          "wait_minutes": 2}}},
                   timestamp=130.6),
        BotUttered("Hi, I'm Maya.", metadata={"agent": "Maya", "kind": "agent"}, timestamp=150.0),
        BotUttered("", metadata={"utter_action": "utter_nothing"}, timestamp=151.0),
    ]]


def test_history_is_what_the_customer_saw_and_nothing_else(web, rasa):
    rasa.events[SESSION] = conversation()
    reply = web.get(f"/api/widget/history/{SESSION}")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["session_id"] == SESSION
    assert [(m["who"], m["text"]) for m in body["messages"]] == [
        ("customer", "hi"),
        ("bot", "Hi Jane, welcome back!"),
        ("customer", "how do I pair my buds"),
        ("bot", "Hold both buttons...\n\nDid this help?"),
        ("customer", "Yes, thanks"),  # the button's payload reads as the button the customer clicked
        ("bot", "Great, glad that helped!"),
        ("customer", "Talk to a person"),  # the widget's own button
        ("bot", "I'm bringing in a person from our team."),
        ("agent", "Hi, I'm Maya."),
    ]
    card, queue, agent = body["messages"][3], body["messages"][7], body["messages"][8]
    assert card["buttons"] == [{"title": "Yes, thanks", "payload": "/answer_helped"}, {"title": "No", "payload": "/answer_not_helpful"}]
    assert card["custom"] == {"kb": {"article_id": "pair-buds", "title": "Pairing Wavelet Buds", "url": "https://help.example/pair-buds",
                                     "passage": "Hold both buttons for **5 seconds**."}}  # internal payloads are dropped
    assert queue["custom"] == {"handoff": {"state": "waiting", "position": 1, "wait_minutes": 2}}
    assert agent["agent"] == "Maya" and agent["timestamp"] == 150.0
    assert [m["timestamp"] for m in body["messages"]] == [101.0, 101.5, 110.0, 110.7, 120.0, 120.4, 130.0, 130.6, 150.0]
    # nothing internal: no slots, intents, metadata, identity claims
    raw = reply.text
    for secret in ("customer_verified", "greet", "confidence", "signature", "utter_greet", "jane.doe@example.com", "score"):
        assert secret not in raw, secret
    assert set().union(*(m.keys() for m in body["messages"])) <= {"who", "text", "timestamp", "buttons", "custom", "agent"}


def test_history_reads_rasa_with_the_token_and_allows_any_origin(web, rasa):
    reply = web.get(f"/api/widget/history/{SESSION}", headers={"Origin": "https://shop.example"})
    assert reply.status_code == 200 and reply.json()["messages"] == []
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["cache-control"] == "no-store"
    assert [r["path"] for r in rasa.requests] == [f"/conversations/{SESSION}/tracker"]
    assert rasa.requests[0]["query"]["token"] == [TOKEN]


@pytest.mark.parametrize("session_id", ["short", "x" * 129, "has.dot.in.it.1234567", "space%20in%20it%20123456",
                                        "..%2F..%2Fstatus%3Ftoken%3D1", "%3Cimg%20src%3Dx%3E12345678"])
def test_history_refuses_what_is_not_a_widget_session_id(web, rasa, session_id):
    reply = web.get(f"/api/widget/history/{session_id}")
    assert reply.status_code in (400, 404), reply.text
    assert "error" in reply.json()
    assert rasa.requests == []  # Rasa is never asked


def test_history_accepts_the_ids_the_widget_and_rasa_make(web, rasa):
    for session_id in ("a" * 16, "A-b_9" * 25 + "xyz", "0123456789abcdef0123456789abcdef"):
        assert web.get(f"/api/widget/history/{session_id}").status_code == 200


def test_history_when_rasa_fails_is_a_plain_502_and_the_token_stays_out_of_the_log(web, rasa, caplog):
    rasa.status = 500
    with caplog.at_level(logging.ERROR, logger="bot.web.widget"):
        reply = web.get(f"/api/widget/history/{SESSION}")
    assert reply.status_code == 502
    assert reply.json() == {"error": "the conversation history is not available right now"}
    assert "500" in caplog.text and TOKEN not in caplog.text


def test_history_when_nobody_listens_is_a_502(desk, tmp_path, caplog):
    with socket.socket() as probe:  # a port with nothing behind it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_for(tmp_path, port)
    app = create_app(desk.service, desk.insights, settings)
    mount_widget(app, settings)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR, logger="bot.web.widget"):
        reply = client.get(f"/api/widget/history/{SESSION}")
    assert reply.status_code == 502 and "not available" in reply.json()["error"]
    assert "unreachable" in caplog.text and TOKEN not in caplog.text


def test_the_scripts_are_served_for_any_site(web, settings):
    for path, marker in (("/widget.js", "Support chat widget"), ("/widget/socket.io.min.js", "Socket.IO")):
        reply = web.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["content-type"].startswith("text/javascript")
        assert reply.headers["access-control-allow-origin"] == "*"
        assert reply.headers["cross-origin-resource-policy"] == "cross-origin"
        assert marker in reply.text[:2000]
    config = web.get("/api/widget/config")
    body = config.json()
    assert {k: body[k] for k in ("socket_url", "socket_path")} == {"socket_url": settings.rasa_url, "socket_path": "/socket.io"}
    # the company's brand (company.yml), for host pages that do not configure the widget themselves
    assert body["brand"]["title"] == "Brightwave support" and body["brand"]["colors"] == {"primary": "#1d4ed8"}
    assert config.headers["access-control-allow-origin"] == "*"


def test_a_missing_socket_io_client_says_how_to_install_it(web, monkeypatch, tmp_path):
    monkeypatch.setattr(widget, "SOCKET_IO_JS", tmp_path / "missing.js")
    reply = web.get("/widget/socket.io.min.js")
    assert reply.status_code == 503 and "make widget" in reply.json()["error"]


def _widget_config(page: str) -> Dict[str, Any]:
    found = re.findall(r"<script\b([^>]*)>", page)
    assert len(found) == 1, "one script tag: the widget"
    assert 'src="http://127.0.0.1:18080/widget.js"' in found[0]
    config = re.search(r'data-config="([^"]*)"', found[0])
    assert config is not None
    return json.loads(html.unescape(config.group(1)))


def test_the_demo_store_embeds_the_widget_as_a_guest(web, settings):
    page = web.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Brightwave" in page.text and "Browsing as a guest" in page.text
    config = _widget_config(page.text)
    assert config["server"] == settings.web_url and config["socketUrl"] == settings.rasa_url
    assert config["title"] and config["greeting"] and config["colors"]["primary"].startswith("#")
    assert "customer" not in config
    assert web.get("/demo/store.css").status_code == 200


def test_the_demo_store_signs_the_demo_customer_like_a_store_backend(web, settings):
    page = web.get("/?customer=jane")
    assert "Signed in as Jane Doe" in page.text
    claim = _widget_config(page.text)["customer"]
    assert claim["customer_id"] == "C1001" and claim["email"] == "jane.doe@example.com"
    identity = verify_identity(settings.identity_secret, claim)
    assert identity is not None and identity.customer_id == "C1001"
    assert verify_identity("another-secret", claim) is None


def test_only_the_demo_page_may_connect_to_rasa(web, settings):
    policy = web.get("/").headers["content-security-policy"]
    assert f"connect-src 'self' {settings.rasa_url} ws://127.0.0.1:" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    for path in ("/widget.js", "/api/widget/config", "/desk/", "/healthz"):
        assert settings.rasa_url not in web.get(path).headers["content-security-policy"], path


def test_the_desk_is_still_where_it_was(web):
    assert web.get("/desk/").status_code == 200
    assert web.get("/", follow_redirects=False).status_code == 200  # the store front, not the desk's redirect


def test_the_widget_script_never_builds_html_from_strings():
    source = widget.WIDGET_JS.read_text()
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"href\""):
        assert risky not in source, risky


def test_the_widget_script_is_within_its_size_budget():
    sizes = widget_size.sizes()
    raw, packed = sizes["widget.js"]
    print(f"widget.js {raw} bytes, {packed} gzip; socket.io.min.js {sizes.get('socket.io.min.js')}")
    assert packed <= widget_size.BUDGET_GZIP
