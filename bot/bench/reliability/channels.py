"""The customer channels under generated input: Rasa's REST webhook and its socket.io channel.

Every message must get an answer that is not a 5xx and shows no internals: the bot's reply for a
valid message, a clear error for an invalid one. Raw socket.io frames (malformed packets, invalid
UTF-8, over-size) may make the server drop that connection, as the protocol says; the next
connection must then be served as usual. Each part ends with an ordinary conversation, which
must be answered, and a check that no process died.
"""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, Tuple

import requests
import websocket

from bot.bench.reliability.inputs import socket_frames, webhook_bodies
from bot.bench.reliability.verdicts import Finding, Tally, check_answer, clip, dead_processes, leaks

ANSWER_TIMEOUT = 60.0


# --- REST ------------------------------------------------------------------------------------

def fuzz_webhook(rasa_url: str, count: int, seed: int, identity_claim: Dict[str, str], paths: Sequence[str],
                 processes: Sequence[Any], workers: int = 6) -> Tally:
    tally = Tally("REST webhook")
    url = f"{rasa_url}/webhooks/rest/webhook"
    bodies = list(webhook_bodies(random.Random(seed), count, identity_claim))
    lock = threading.Lock()
    local = threading.local()

    def send(item: Tuple[str, bytes]) -> None:
        label, raw = item
        http = getattr(local, "http", None) or requests.Session()
        local.http = http
        try:
            answer = http.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=ANSWER_TIMEOUT)
            status, text = answer.status_code, answer.text
        except requests.RequestException as error:
            status, text = 599, f"no answer: {error}"
        request = raw.decode("utf-8", errors="replace")
        with lock:
            passed = check_answer(tally, label, status, text, request, paths)
            if passed and status == 200 and not _is_json_list(text):
                tally.fail(Finding("wrong answer", label, f"200 without a list of messages: {clip(text)}", clip(request)))
            elif passed and 400 <= status < 500 and '"error"' not in text:
                tally.fail(Finding("wrong answer", label, f"{status} without an error message: {clip(text)}", clip(request)))

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, bodies))
    tally.figures["seconds"] = round(time.perf_counter() - started, 1)
    _ordinary_conversation_answered(tally, url)
    dead_processes(tally, processes)
    return tally


def _is_json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


def _ordinary_conversation_answered(tally: Tally, url: str) -> None:
    sender = f"rel-after-{uuid.uuid4().hex[:8]}"
    try:
        answer = requests.post(url, json={"sender": sender, "message": "hi"}, timeout=ANSWER_TIMEOUT)
        ok = answer.status_code == 200 and any(m.get("text") for m in answer.json())
    except (requests.RequestException, ValueError):
        ok = False
    if not ok:
        tally.fail(Finding("no answer", "afterwards", "an ordinary 'hi' after the part was not answered"))


# --- socket.io -------------------------------------------------------------------------------

class RawSocketIO:
    """A socket.io client over one WebSocket (engine.io 4), sending frames as they are given, malformed ones too."""

    def __init__(self, rasa_url: str) -> None:
        self.url = rasa_url.replace("http://", "ws://").replace("https://", "wss://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws: Optional[websocket.WebSocket] = None

    def connect(self) -> None:
        self.close()
        self.ws = websocket.create_connection(self.url, timeout=15)
        opened = self.ws.recv()
        if not str(opened).startswith("0"):
            raise ConnectionError(f"engine.io open packet expected, got {opened!r}")
        self.ws.send("40")
        self._until(lambda name, _data: name == "__connected__", 15)

    def start_session(self, session_id: str) -> None:
        self.emit("session_request", {"session_id": session_id})
        self._until(lambda name, data: name == "session_confirm" and data == session_id, 15)

    def emit(self, event: str, data: Any) -> None:
        assert self.ws is not None
        self.ws.send("42" + json.dumps([event, data]))

    def send_raw(self, frame: Any) -> None:
        assert self.ws is not None
        if isinstance(frame, bytes):
            self.ws.send(frame, opcode=websocket.ABNF.OPCODE_TEXT if frame.startswith(b"42") else websocket.ABNF.OPCODE_BINARY)
        else:
            self.ws.send(frame)

    def answers(self, timeout: float) -> List[Tuple[str, Any]]:
        """The events received until one of bot_uttered/error arrives, then what follows within a moment."""
        first = self._until(lambda name, _data: name in ("bot_uttered", "error"), timeout)
        events = [first]
        while True:
            more = self._until(lambda name, _data: name in ("bot_uttered", "error"), 0.3, quiet=True)
            if more is None:
                return events
            events.append(more)

    def _until(self, wanted, timeout: float, quiet: bool = False):
        assert self.ws is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if quiet:
                    return None
                raise TimeoutError("no answer")
            self.ws.settimeout(left)
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                if quiet:
                    return None
                raise TimeoutError("no answer") from None
            if frame == "2":  # engine.io ping
                self.ws.send("3")
                continue
            if isinstance(frame, str) and frame.startswith("40"):
                event: Tuple[str, Any] = ("__connected__", None)
            elif isinstance(frame, str) and frame.startswith("42"):
                name, *data = json.loads(frame[2:])
                event = (name, data[0] if data else None)
            elif isinstance(frame, str) and frame.startswith("44"):
                event = ("__connect_error__", frame[2:])
            else:
                continue
            if wanted(*event):
                return event

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # already gone
                pass
            self.ws = None


def fuzz_socketio(rasa_url: str, count: int, seed: int, identity_claim: Dict[str, str], paths: Sequence[str],
                  processes: Sequence[Any], workers: int = 6) -> Tally:
    tally = Tally("socket.io channel")
    lock = threading.Lock()
    reconnects = [0]

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = RawSocketIO(rasa_url)
        for label, frame in socket_frames(rng, count // workers + (index < count % workers), identity_claim, "SESSION"):
            session_id = f"rel-{uuid.uuid4().hex[:12]}"
            request = clip(repr(frame) if isinstance(frame, (str, bytes)) else json.dumps(frame))
            try:
                if client.ws is None:
                    client.connect()
                    with lock:
                        reconnects[0] += 1
                client.start_session(session_id)
            except (OSError, TimeoutError, websocket.WebSocketException) as error:
                with lock:
                    tally.tried += 1
                    tally.fail(Finding("no answer", "connect", f"a new connection or session was refused: {error}", request))
                client.close()
                continue
            if not isinstance(frame, (str, bytes)):  # a user_uttered payload (of any JSON type)
                if isinstance(frame, dict) and frame.get("session_id") == "SESSION":
                    frame = {**frame, "session_id": session_id}
                outcome, text = _event_answer(client, lambda: client.emit("user_uttered", frame))
                with lock:
                    tally.tried += 1
                    tally.outcomes[outcome] += 1
                    if outcome == "no answer":
                        tally.fail(Finding("no answer", label, "neither bot_uttered nor error within "
                                                               f"{ANSWER_TIMEOUT:.0f} s", request))
                    problem = leaks(text, json.dumps(frame), paths)
                    if problem:
                        tally.fail(Finding("internals shown", label, problem, request))
            else:
                raw = frame.replace("SESSION", session_id) if isinstance(frame, str) else frame
                try:
                    client.send_raw(raw)
                    time.sleep(0.05)
                except (OSError, websocket.WebSocketException):
                    pass
                # whatever the server made of that frame (it may drop the connection, as the protocol says),
                # the next connection is served as usual
                client.close()
                try:
                    client.connect()
                    probe_session = f"rel-{uuid.uuid4().hex[:12]}"
                    client.start_session(probe_session)
                    outcome, text = _event_answer(client, lambda: client.emit("user_uttered", {"message": "hi", "session_id": probe_session}))
                except (OSError, TimeoutError, websocket.WebSocketException) as error:
                    outcome, text = "no answer", str(error)
                    client.close()
                with lock:
                    tally.tried += 1
                    tally.outcomes["raw frame, then served" if outcome == "bot_uttered" else "raw frame, then " + outcome] += 1
                    if outcome != "bot_uttered":
                        tally.fail(Finding("no answer", label, f"after this frame an ordinary message was not answered ({text})", request))
        client.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    tally.figures["seconds"] = round(time.perf_counter() - started, 1)
    tally.figures["reconnections"] = reconnects[0]
    dead_processes(tally, processes)
    return tally


def _event_answer(client: RawSocketIO, send) -> Tuple[str, str]:
    """('bot_uttered' | 'error' | 'no answer', the answers' text) for one event sent."""
    try:
        send()
        events = client.answers(ANSWER_TIMEOUT)
    except (TimeoutError, OSError, websocket.WebSocketException) as error:
        client.close()
        return "no answer", str(error)
    return events[0][0], json.dumps([data for _name, data in events])
