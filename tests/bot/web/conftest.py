"""The desk app over a real SQLite app database, a recording conversation gateway and a clock in the team's hours."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.container import build_leads_insights, build_leads_knowledge
from bot.handoff import passwords
from bot.handoff.models import AGENT, CUSTOMER_REQUEST, LEAD, Agent, Handoff, QueuePlace
from bot.handoff.rules import load_rules
from bot.handoff.service import HandoffService
from bot.handoff.store import SqlHandoffStore
from bot.insights.dashboard import tracker_metadata
from bot.insights.log import SqlInsightLog
from bot.knowledge.leads import LeadsKnowledge
from bot.settings import Settings
from bot.store.directory import create_engine
from bot.web.app import create_app
from tests.bot.knowledge.conftest import SAMPLE, FakeEmbedder, write_article
from tests.databases import sqlite_url
from tests.fakes import Clock, RecordingGateway

# Tuesday 2026-10-06 14:00 UTC = 10:00 in New York: the team is working
OPEN = datetime(2026, 10, 6, 14, 0)
PASSWORD = "correct horse battery"


class RunningClock:
    """Starts at a fixed moment in business hours and then runs like a real clock (for servers and browsers)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


@dataclass
class Desk:
    """Everything a desk test needs: the service, the gateway, the app, three accounts, the leads' knowledge pages
    (over a folder of sample articles, indexed with the knowledge tests' fake embedder) and the insights dashboard (over
    the app database and a tracker store of its own, as Rasa's SQL tracker store would be)."""

    service: HandoffService
    gateway: RecordingGateway
    insights: SqlInsightLog
    app: FastAPI
    maya: Agent
    sam: Agent
    lee: Agent
    knowledge: LeadsKnowledge
    articles_dir: Path
    app_db_url: str
    tracker_url: str

    def token(self, agent: Agent) -> str:
        token, _ = self.service.sign_in(agent.email, PASSWORD)
        return token

    def bearer(self, agent: Agent) -> dict:
        return {"Authorization": f"Bearer {self.token(agent)}"}

    def open_handoff(self, conversation: str = "conv-1", name: str | None = "Jane Doe", **packet_extra) -> Handoff:
        packet = {"customer": {"name": name, "email": "jane.doe@example.com", "id": "C1001", "verified": True},
                  "channel": "socketio", "reason": CUSTOMER_REQUEST, "summary": "Wants a refund for order 104512",
                  "transcript": [{"at": "2026-10-06T13:58:00+00:00", "who": "customer", "text": "a person please",
                                  "intent": "human_handoff", "confidence": 0.97, "entities": []}],
                  **packet_extra}
        self.service.heartbeat(self.maya)  # Maya's desk is open: a person can take it
        place = self.service.open_handoff(conversation_id=conversation, channel="socketio", reason=CUSTOMER_REQUEST,
                                          reason_detail="asked for a person", summary="Wants a refund for order 104512",
                                          packet=packet, customer_name=name, customer_email="jane.doe@example.com",
                                          customer_verified=True, frustration=0.4)
        assert isinstance(place, QueuePlace), f"no handoff opened: {place}"
        return place.handoff


def make_desk(tmp_path: Path, clock, poll_seconds: float = 1.0) -> Desk:
    url = sqlite_url(tmp_path)
    service = HandoffService(SqlHandoffStore.from_url(url), load_rules(), RecordingGateway(), clock)
    insights = SqlInsightLog.from_url(url)
    tracker_url = sqlite_url(tmp_path, "conversations.db")
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "RASA_TOKEN": "test-token", "IDENTITY_SECRET": "test-secret",
                                  "APP_DB_URL": url, "TRACKER_STORE_URL": tracker_url})
    tracker = create_engine(tracker_url)
    tracker_metadata.create_all(tracker)  # Rasa creates its events table on start; no Rasa runs here
    tracker.dispose()
    maya = service.create_agent("maya@brightwave.example", "Maya", AGENT, PASSWORD)
    sam = service.create_agent("sam@brightwave.example", "Sam", AGENT, PASSWORD)
    lee = service.create_agent("lee@brightwave.example", "Lee", LEAD, PASSWORD)
    service.heartbeat(maya)  # someone is online, so customers can be handed over
    articles_dir = tmp_path / "articles"
    articles_dir.mkdir()
    for article_id, fields in SAMPLE.items():
        write_article(articles_dir, article_id, **fields)
    # the knowledge pages work on a folder of their own (the leads' old report reads the project's articles)
    knowledge = build_leads_knowledge(replace(settings, kb_articles_dir=articles_dir, kb_index_dir=tmp_path / "kb_index"),
                                      embedder=FakeEmbedder(), clock=clock, probe=None)
    knowledge.workspace.builder.rebuild()
    app = create_app(service, insights, settings, poll_seconds=poll_seconds, knowledge=knowledge,
                     leads_insights=build_leads_insights(settings))
    return Desk(service=service, gateway=service.gateway, insights=insights, app=app, maya=maya, sam=sam, lee=lee,  # type: ignore[arg-type]
                knowledge=knowledge, articles_dir=articles_dir, app_db_url=url, tracker_url=tracker_url)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """The desk tests sign in hundreds of times; scrypt's real cost is the handoff tests' business."""
    monkeypatch.setattr(passwords, "N", 2 ** 8)


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return make_desk(tmp_path, Clock(OPEN))


@pytest.fixture
def client(desk: Desk) -> Iterator[TestClient]:
    with TestClient(desk.app, raise_server_exceptions=False) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """The app served by uvicorn in a background thread on a free port, as in production."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1, ws="none",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="desk-server", daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the desk server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.state.stopping.set()  # as `python -m bot.web` does on Ctrl-C: open live feeds end
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_desk(tmp_path: Path) -> Iterator[tuple[Desk, LiveServer]]:
    desk = make_desk(tmp_path, RunningClock(OPEN), poll_seconds=0.2)
    with LiveServer(desk.app) as server:
        yield desk, server
