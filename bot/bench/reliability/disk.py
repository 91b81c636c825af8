"""Disk full and a read-only database: the product's data folder (its SQLite files: conversations, the app
database, the demo store) on a size-limited file system of its own (tmpfs), the logs on another, as an operator
keeps them so that the cause of a full disk can still be logged.

A second instance of the product runs on that folder. For each condition:
1. before: a REST conversation, a website (socket.io) conversation and a handoff with an agent's reply;
2. the condition: the folder filled to the last byte (ENOSPC), or remounted read-only;
3. during: a REST message, a socket.io message, a new conversation and an agent's reply must each get a clear
   error (the webhook: 503 with the reason; the widget: an `error` event, which it shows as "Not sent: …"; the
   desk: 503 "the support database cannot be written right now …") or be served; never a 500, a hang, a stack
   trace or a dead process; and the product's log must name the cause (SQLite's "database or disk is full" /
   "readonly database");
4. after (space freed, read-write again): every message recorded before is still in its conversation, once;
   the refused ones, sent again as the customer would, are answered and recorded once; the agent's reply is
   delivered once.
Mounting needs root (CAP_SYS_ADMIN); where it is refused the part says so and is not counted as run.
"""
from __future__ import annotations

import errno
import json
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import requests
import socketio

from bot.bench.reliability.load import MESSAGE_ID
from bot.bench.reliability.logs import personal_data_in_logs
from bot.bench.reliability.product import AGENT, Product, start_product
from bot.bench.reliability.verdicts import Finding, Tally, clip, dead_processes, internal_paths, leaks
from bot.channels.rest import NOT_HANDLED
from bot.web.app import STORAGE_UNAVAILABLE

DATA_MB = 160  # the data folder: the SQLite files and the help-centre index fit with room for the conversations
LOGS_MB = 64
ANSWER_TIMEOUT = 60.0
CAUSES = {"disk full": ("database or disk is full", "No space left on device"),
          "read-only database": ("readonly database", "Read-only file system")}


def mount_problem() -> Optional[str]:
    """Why a size-limited folder cannot be mounted here, or None."""
    with tempfile.TemporaryDirectory() as folder:
        problem = _mount(Path(folder), 1)
        if problem is None:
            _unmount(Path(folder))
        return problem


def _mount(folder: Path, megabytes: int) -> Optional[str]:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount refused: {(done.stderr or done.stdout).strip()}"


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # a process still inside: detach it


def _remount(folder: Path, mode: str) -> Optional[str]:
    """ro/rw; the kernel refuses ro while a file is open for writing, so an idle moment is waited for."""
    deadline = time.monotonic() + 20
    while True:
        done = subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], capture_output=True, text=True)
        if done.returncode == 0:
            return None
        if time.monotonic() > deadline:
            return f"remount {mode} refused: {(done.stderr or done.stdout).strip()}"
        time.sleep(0.2)


def _fill(folder: Path) -> int:
    """Write a file until the folder has not one byte left; the bytes written."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as filler:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    count = filler.write(block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
                written += count or 0
                if not count:
                    break
    return written


# --- the customers and the agent -----------------------------------------------------------------

class Reply:
    """What a client got for one message: served (the bot's messages), refused (the error it was shown), or nothing."""

    def __init__(self, message_id: str, status: int, messages: Optional[List[Dict[str, Any]]] = None,
                 error: str = "", raw: str = "") -> None:
        self.message_id, self.status, self.messages, self.error, self.raw = message_id, status, messages, error, raw

    @property
    def served(self) -> bool:
        return self.messages is not None and bool(self.messages)


class Rest:
    def __init__(self, product: Product, http: requests.Session) -> None:
        self.url, self.http = f"{product.rasa_url}/webhooks/rest/webhook", http

    def say(self, sender: str, text: str) -> Reply:
        message_id = uuid.uuid4().hex
        try:
            answer = self.http.post(self.url, json={"sender": sender, "message": text,
                                                    "metadata": {MESSAGE_ID: message_id}}, timeout=ANSWER_TIMEOUT)
        except requests.RequestException as error:
            return Reply(message_id, 599, error=f"no answer: {error}")
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code == 200 and isinstance(body, list):
            return Reply(message_id, 200, messages=body, raw=answer.text)
        error = body.get("error", "") if isinstance(body, dict) else ""
        return Reply(message_id, answer.status_code, error=error, raw=answer.text)


class Website:
    """The widget's protocol: join the session, send, read `bot_uttered` or `error` events."""

    def __init__(self, product: Product, session_id: str) -> None:
        self.session_id = session_id
        self.events: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        joined = threading.Event()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", lambda _session: joined.set())
        self.sio.on("bot_uttered", lambda data: self.events.put(("bot", data)))
        self.sio.on("error", lambda data: self.events.put(("error", data)))
        self.sio.connect(product.rasa_url, transports=["websocket"], wait_timeout=20)
        self.sio.emit("session_request", {"session_id": session_id})
        if not joined.wait(20):
            raise TimeoutError("the socket.io session was not confirmed")

    def say(self, text: str) -> Reply:
        message_id = uuid.uuid4().hex
        while not self.events.empty():
            self.events.get_nowait()
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id,
                                       "metadata": {MESSAGE_ID: message_id}})
        got: List[Tuple[str, Any]] = []
        try:
            got.append(self.events.get(timeout=ANSWER_TIMEOUT))
            while True:
                got.append(self.events.get(timeout=1.0))
        except queue.Empty:
            pass
        errors = [data for kind, data in got if kind == "error"]
        if errors:
            error = errors[0].get("error", "") if isinstance(errors[0], dict) else str(errors[0])
            return Reply(message_id, 503, error=error, raw=json.dumps(errors[0]))
        if not got:
            return Reply(message_id, 599, error="no answer")
        return Reply(message_id, 200, messages=[data for _kind, data in got], raw=json.dumps([d for _k, d in got]))

    def close(self) -> None:
        self.sio.disconnect()


class Agent:
    """Signed in at the desk with the live stream open (so the queue counts the agent online)."""

    def __init__(self, product: Product, http: requests.Session) -> None:
        self.web, self.http = product.web_url, http
        answer = http.post(f"{self.web}/api/auth/login", json={"email": AGENT[0], "password": AGENT[2]}, timeout=30)
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        self.stop = threading.Event()
        threading.Thread(target=self._online, daemon=True).start()

    def _online(self) -> None:
        while not self.stop.is_set():
            try:
                with requests.get(f"{self.web}/api/events", headers=self.headers, stream=True, timeout=(5, 30)) as stream:
                    for _line in stream.iter_lines():
                        if self.stop.is_set():
                            return
            except requests.RequestException:
                time.sleep(1)

    def call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> requests.Response:
        return self.http.request(method, self.web + path, json=body, headers=self.headers, timeout=ANSWER_TIMEOUT)

    def claim(self, conversation_id: str) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            handoffs = self.call("GET", "/api/queue").json()["handoffs"]
            found = [h["id"] for h in handoffs if h["conversation_id"] == conversation_id]
            if found:
                self.call("POST", f"/api/handoffs/{found[0]}/claim").raise_for_status()
                return found[0]
            time.sleep(0.5)
        raise TimeoutError(f"no handoff for {conversation_id} in the queue")


# --- the part ------------------------------------------------------------------------------------

class Scene:
    """The conversations of one condition, what each client sent and how it was answered."""

    def __init__(self, product: Product, tally: Tally, paths: Sequence[str]) -> None:
        self.product, self.tally, self.paths = product, tally, paths
        self.http = requests.Session()
        self.rest = Rest(product, self.http)
        self.agent = Agent(product, self.http)
        tag = uuid.uuid4().hex[:10]
        self.rest_id, self.web_id, self.handoff_conversation = f"disk-rest-{tag}", f"disk-web-{tag}", f"disk-handoff-{tag}"
        self.website = Website(product, self.web_id)
        self.recorded: Dict[str, List[str]] = {}  # conversation -> message ids the product confirmed before the condition
        self.agent_replies: List[str] = []
        self.refused: List[Tuple[str, str, Callable[[], Reply]]] = []
        self.pending_retry: Optional[int] = None  # an agent reply saved but not delivered: retried by its id
        self.refused_agent_text: Optional[str] = None  # an agent reply the desk refused: sent again after

    def before(self) -> None:
        for sender, lines in ((self.rest_id, ["hi", "how long does shipping take"]),):
            for line in lines:
                self._served(sender, self.rest.say(sender, line), "before")
        for line in ("hi", "what payment methods do you accept"):
            self._served(self.web_id, self.website.say(line), "before")
        self._served(self.handoff_conversation, self.rest.say(self.handoff_conversation, "/request_human"), "before")
        self.handoff_id = self.agent.claim(self.handoff_conversation)
        self._agent_reply("before")

    def _served(self, conversation: str, reply: Reply, when: str) -> None:
        self.tally.tried += 1
        self._no_internals(reply.raw, f"{when}: {conversation}")
        if reply.served:
            self.recorded.setdefault(conversation, []).append(reply.message_id)
            self.tally.outcomes[f"{when}: served"] += 1
        else:
            self.tally.fail(Finding("no answer", conversation, f"{when}: HTTP {reply.status} {clip(reply.raw)}"))

    def _agent_reply(self, when: str) -> Optional[requests.Response]:
        text = f"Agent reply {len(self.agent_replies) + 1} ({when}): I'm looking into it."
        self.tally.tried += 1
        answer = self.agent.call("POST", f"/api/handoffs/{self.handoff_id}/reply", {"text": text})
        self._no_internals(answer.text, f"{when}: desk reply")
        if answer.status_code == 200:
            self.agent_replies.append(text)
            self.tally.outcomes[f"{when}: agent reply delivered"] += 1
        elif answer.status_code == 502:  # saved in the app database, not delivered yet: the desk retries by its id
            self.agent_replies.append(text)
            self.pending_retry = answer.json().get("message_id")
            self.tally.outcomes[f"{when}: agent reply saved, delivery refused"] += 1
        elif answer.status_code == 503 and answer.json().get("error") == STORAGE_UNAVAILABLE:
            self.refused_agent_text = text
            self.tally.outcomes[f"{when}: agent reply refused with a clear error"] += 1
        else:
            self.tally.fail(Finding("wrong answer", "desk reply", f"{when}: HTTP {answer.status_code} {clip(answer.text)}"))
        return answer

    def during(self) -> None:
        """Every kind of write, each of which must be served or refused clearly."""
        new_conversation = f"{self.rest_id}-new"
        attempts = [
            (self.rest_id, "where is my order 104512", lambda text: self.rest.say(self.rest_id, text)),
            (self.web_id, "how do I reset my sentry cam?", self.website.say),
            (new_conversation, "hello", lambda text: self.rest.say(new_conversation, text)),
        ]
        for conversation, text, send in attempts:
            self.tally.tried += 1
            reply = send(text)
            self._no_internals(reply.raw, f"during: {conversation}")
            if reply.served:
                self.recorded.setdefault(conversation, []).append(reply.message_id)
                self.tally.outcomes["during: served"] += 1
            elif reply.status == 503 and reply.error == NOT_HANDLED:
                self.refused.append((conversation, reply.message_id, lambda send=send, text=text: send(text)))
                self.tally.outcomes["during: refused with a clear error"] += 1
            else:
                self.tally.fail(Finding("wrong answer", conversation, f"HTTP {reply.status}: {clip(reply.raw)}"))
        self._agent_reply("during")

    def after(self) -> None:
        """The condition is over: nothing recorded is lost, what was refused goes through once when sent again."""
        for conversation, refused_id, again in self.refused:
            if refused_id in self._message_ids(conversation):
                self.tally.fail(Finding("duplicated", conversation,
                                        "a message refused to the customer was recorded anyway (sending it again doubles it)"))
            self._served(conversation, again(), "sent again after")
        if self.pending_retry:
            answer = self.agent.call("POST", f"/api/messages/{self.pending_retry}/retry")
            if answer.status_code != 200:
                self.tally.fail(Finding("lost", "agent reply", f"the retry failed: HTTP {answer.status_code} {clip(answer.text)}"))
        if self.refused_agent_text:
            answer = self.agent.call("POST", f"/api/handoffs/{self.handoff_id}/reply", {"text": self.refused_agent_text})
            if answer.status_code == 200:
                self.agent_replies.append(self.refused_agent_text)
            else:
                self.tally.fail(Finding("lost", "agent reply", f"sent again: HTTP {answer.status_code} {clip(answer.text)}"))
        for conversation, message_ids in self.recorded.items():
            seen = self._message_ids(conversation)
            for message_id in message_ids:
                if seen[message_id] != 1:
                    self.tally.fail(Finding("lost" if not seen[message_id] else "duplicated", conversation,
                                            f"message {message_id} is in the conversation {seen[message_id]} times"))
                else:
                    self.tally.outcomes["after: recorded once"] += 1
        transcript = [e.get("text") for e in self._events(self.handoff_conversation) if e.get("event") == "bot"]
        for text in self.agent_replies:
            if transcript.count(text) != 1:
                self.tally.fail(Finding("lost" if not transcript.count(text) else "duplicated", "agent reply",
                                        f"{text!r} is in the transcript {transcript.count(text)} times"))
            else:
                self.tally.outcomes["after: agent reply delivered once"] += 1
        self.agent.call("POST", f"/api/handoffs/{self.handoff_id}/resolve")

    def _events(self, conversation: str) -> List[Dict[str, Any]]:
        answer = self.http.get(f"{self.product.rasa_url}/conversations/{conversation}/tracker",
                               params={"token": self.product.settings.rasa_token}, timeout=ANSWER_TIMEOUT)
        answer.raise_for_status()
        return answer.json().get("events", [])

    def _message_ids(self, conversation: str) -> Counter:
        return Counter((e.get("metadata") or {}).get(MESSAGE_ID) for e in self._events(conversation) if e.get("event") == "user")

    def _no_internals(self, text: str, where: str) -> None:
        problem = leaks(text or "", "", self.paths)
        if problem:
            self.tally.fail(Finding("internals shown", where, problem))

    def close(self) -> None:
        self.agent.stop.set()
        self.website.close()


def _causes_logged(product: Product, causes: Sequence[str], since: Dict[Path, int]) -> int:
    """Lines naming the cause written to the product's logs since `since` (file sizes before the condition)."""
    count = 0
    for path in product.log_files():
        with open(path, "rb") as log:
            log.seek(since.get(path, 0))
            text = log.read().decode("utf-8", errors="replace")
        count += sum(text.count(cause) for cause in causes)
    return count


def _condition(product: Product, data: Path, name: str, paths: Sequence[str],
               begin: Callable[[], Any], end: Callable[[], Any]) -> Tally:
    tally = Tally(name)
    scene = Scene(product, tally, paths)
    try:
        scene.before()
        sizes = {p: p.stat().st_size for p in product.log_files()}
        started = begin()
        if isinstance(started, str):  # the condition could not be made
            tally.figures["not run"] = started
            return tally
        if isinstance(started, int):
            tally.figures["bytes written to fill the folder"] = f"{started:,}"
        try:
            scene.during()
            time.sleep(1)  # the log handlers flush
            tally.figures["log lines naming the cause"] = _causes_logged(product, CAUSES[name], sizes)
            if not tally.figures["log lines naming the cause"]:
                tally.fail(Finding("not in the log", "logs", f"none of {CAUSES[name]} was logged"))
        finally:
            end()
        scene.after()
        tally.figures["refused during, then served when sent again"] = len(scene.refused)
    finally:
        scene.close()
    if not scene.refused and not scene.refused_agent_text and not scene.pending_retry:
        # every write went through: the condition was not what the product met, so the part proved nothing
        tally.fail(Finding("not exercised", name, "every write succeeded while the condition held"))
    dead_processes(tally, product.processes)
    return tally


def disk_battery(port_base: int, keep_logs: Optional[Path] = None) -> List[Tally]:
    """Both conditions on one product instance (its own data folder on tmpfs), then its logs searched for
    personal details as the main instance's are; the logs are copied to `keep_logs` when given."""
    problem = mount_problem()
    if problem:
        tally = Tally("disk full and read-only database")
        tally.figures["not run"] = problem
        return [tally]
    with tempfile.TemporaryDirectory(prefix="reliability-disk-") as folder:
        data, logs = Path(folder) / "data", Path(folder) / "data" / "logs"
        data.mkdir()
        _mount(data, DATA_MB)
        try:
            logs.mkdir()
            _mount(logs, LOGS_MB)
            try:
                product = start_product(data, port_base, train=False)
                try:
                    paths = internal_paths([data])
                    filler = data / "filler"
                    tallies = [
                        _condition(product, data, "disk full", paths, lambda: _fill(data), lambda: filler.unlink()),
                        _condition(product, data, "read-only database", paths,
                                   lambda: _remount(data, "ro"), lambda: _remount(data, "rw")),
                    ]
                    logged = personal_data_in_logs(product)
                    logged.part = "personal data in the disk instance's logs"
                    return tallies + [logged]
                finally:
                    product.stop()
                    if keep_logs:
                        shutil.copytree(logs, keep_logs, dirs_exist_ok=True)
            finally:
                _unmount(logs)
        finally:
            _unmount(data)
