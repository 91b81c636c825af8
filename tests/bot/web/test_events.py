"""The desk's live feed (Server-Sent Events) against the app served by uvicorn, read with a real HTTP client."""
from __future__ import annotations

import json
import queue
import socket
import threading
import time
from typing import Callable, Optional

import httpx
import pytest

from bot.web import events
from tests.bot.web.conftest import LiveServer


class EventReader:
    """Reads an SSE stream in a thread; `next` waits (with a deadline) for the first event of a kind that matches."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.events: "queue.Queue[Optional[tuple]]" = queue.Queue()
        self.http = httpx.Client(base_url=server.url, timeout=httpx.Timeout(10, read=60))
        request = self.http.build_request("GET", "/api/events", headers={"Authorization": f"Bearer {token}"})
        self.response = self.http.send(request, stream=True)
        assert self.response.status_code == 200, self.response.read()
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kind, data = None, []
        try:
            for line in self.response.iter_lines():
                if not line:
                    if data:
                        self.events.put((kind or "message", json.loads("\n".join(data))))
                    kind, data = None, []
                elif line.startswith("event:"):
                    kind = line[len("event:"):].strip()
                elif line.startswith("data:"):
                    data.append(line[len("data:"):].strip())
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test
        finally:
            self.events.put(None)

    def next(self, kind: str, where: Callable[[dict], bool] = lambda data: True, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind!r} event within {timeout} s") from None
            if item is None:
                raise AssertionError(f"the stream ended before a {kind!r} event")
            if item[0] == kind and where(item[1]):
                return item[1]

    def ended(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.events.get(timeout=max(0.01, deadline - time.monotonic())) is None:
                    return True
            except queue.Empty:
                return False
        return False

    def close(self) -> None:
        # Closing a socket another thread is blocked reading does not end the connection on Linux;
        # shutting it down does (sends FIN), as a browser closing its EventSource would.
        stream = self.response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
        self.thread.join(timeout=5)
        self.response.close()
        self.http.close()


@pytest.fixture
def feed(live_desk):
    desk, server = live_desk
    readers = []

    def connect(agent) -> EventReader:
        reader = EventReader(server, desk.token(agent))
        readers.append(reader)
        return reader

    yield desk, connect
    for reader in readers:
        reader.close()


def test_new_handoffs_and_customer_messages_arrive_without_asking(feed):
    desk, connect = feed
    reader = connect(desk.sam)
    assert reader.next("queue") == {"handoffs": []}
    handoff = desk.open_handoff("conv-live")
    arrived = reader.next("handoff", lambda h: h["conversation_id"] == "conv-live")
    assert arrived["state"] == "waiting" and arrived["customer_name"] == "Jane Doe" and arrived["reason_label"] == "asked for a person"
    snapshot = reader.next("queue", lambda q: len(q["handoffs"]) == 1)
    assert snapshot["handoffs"][0]["position"] == 1

    desk.service.record_customer_message("conv-live", "hello? <b>anyone</b> there")
    message = reader.next("message", lambda m: m["author"] == "customer")
    assert message["handoff_id"] == handoff.id and message["text"] == "hello? <b>anyone</b> there"

    desk.service.claim(handoff.id, desk.maya)
    claimed = reader.next("handoff", lambda h: h["state"] == "assigned")
    assert claimed["agent_name"] == "Maya"
    desk.service.reply(handoff.id, desk.maya, "Hi, Maya here")
    assert reader.next("message", lambda m: m["author"] == "agent")["text"] == "Hi, Maya here"
    desk.service.resolve(handoff.id, desk.maya)
    assert reader.next("queue", lambda q: q["handoffs"] == [])["handoffs"] == []


def test_each_message_arrives_once(feed):
    desk, connect = feed
    handoff = desk.open_handoff("conv-once")
    reader = connect(desk.sam)
    for n in range(3):
        desk.service.record_customer_message("conv-once", f"message {n}")
    texts = [reader.next("message")["text"] for _ in range(3)]
    assert texts == ["message 0", "message 1", "message 2"]
    time.sleep(1.0)  # several polls later: nothing is sent twice
    desk.service.note(handoff.id, desk.maya, "last")
    assert reader.next("message")["text"] == "last"


def test_an_open_feed_keeps_the_agent_online(feed, monkeypatch):
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    desk, connect = feed
    never_seen = desk.service.store.agent(desk.sam.id).last_seen_at
    reader = connect(desk.sam)
    reader.next("queue")
    first = desk.service.store.agent(desk.sam.id).last_seen_at
    time.sleep(0.8)
    later = desk.service.store.agent(desk.sam.id).last_seen_at
    assert never_seen is None and first is not None and later > first
    assert desk.sam.id in [agent.id for agent in desk.service.agents_online()]


def test_the_stream_ends_when_the_session_does(feed, monkeypatch):
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    desk, connect = feed
    token = desk.token(desk.sam)
    reader = connect(desk.sam)
    reader.next("queue")
    desk.service.sign_out(token)  # another session of Sam's: this stream goes on
    time.sleep(0.5)
    desk.service.set_agent_active(desk.lee, desk.sam.id, False)  # ends every session of his
    assert reader.next("signed_out")["error"] == "your session has ended; sign in again"
    assert reader.ended()


def test_the_server_stops_polling_when_the_desk_goes_away(feed, monkeypatch):
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.05)
    desk, connect = feed
    beats = []
    heartbeat = desk.service.heartbeat
    monkeypatch.setattr(desk.service, "heartbeat", lambda agent: (beats.append(agent.id), heartbeat(agent)))
    reader = connect(desk.sam)
    reader.next("queue")
    time.sleep(0.6)
    assert len(beats) >= 2
    reader.close()
    time.sleep(1.0)  # the disconnect is noticed within a poll
    settled = len(beats)
    time.sleep(1.0)
    assert len(beats) == settled


def test_the_feed_needs_a_session(client):
    response = client.get("/api/events")
    assert response.status_code == 401 and response.json() == {"error": "sign in first"}
