"""A local stand-in for Slack: its Web API (recording every call) and signed requests to the app.

The Web API side is a real HTTP server on loopback that slack_sdk is pointed at (SLACK_API_URL),
answering the methods the product uses the way Slack documents them. `rate_limit` makes the
next calls of a method answer 429 with Retry-After, as Slack does when throttling.
The request side builds event and interaction bodies signed exactly as Slack signs them.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlencode

import requests

BOT_USER = "UBOTAPP01"
BOT_ID = "BBOTAPP01"
TEAM = "T0TEST001"


@dataclass
class Call:
    method: str
    args: Dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    ts: Optional[str] = None  # the ts a successful chat.postMessage was given


class FakeSlack:
    """Slack's Web API on 127.0.0.1:<port>/api/; `calls` is everything the app asked, in order."""

    def __init__(self) -> None:
        self.calls: List[Call] = []
        self.users: Dict[str, Dict[str, Any]] = {}
        self._limited: Dict[str, Tuple[int, int]] = {}  # method -> (calls left to refuse, Retry-After seconds)
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "attachments"):
                        if isinstance(args.get(key), str):
                            args[key] = json.loads(args[key])
                path, _, query = self.path.partition("?")
                args.update({k: v[0] for k, v in parse_qs(query).items()})
                method = path.rsplit("/", 1)[-1]
                status, body, headers = fake._answer(method, args, self.headers.get("Authorization", ""))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def start(self) -> "FakeSlack":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, user_id: str, email: Optional[str], name: str = "Someone", is_bot: bool = False) -> None:
        profile = {"real_name": name, "display_name": name}
        if email:
            profile["email"] = email
        self.users[user_id] = {"id": user_id, "team_id": TEAM, "name": name.lower(), "real_name": name,
                               "is_bot": is_bot, "profile": profile}

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        with self._changed:
            self._limited[method] = (times, retry_after)

    def _answer(self, method: str, args: Dict[str, Any], auth: str) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
        call = Call(method, args)
        with self._changed:
            left, retry_after = self._limited.get(method, (0, 0))
            if left > 0:
                self._limited[method] = (left - 1, retry_after)
                self.calls.append(call)
                self._changed.notify_all()
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
        status, body, headers = self._reply(method, args, auth)
        call.ts = body.get("ts") if method == "chat.postMessage" else None
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return status, body, headers

    def ts_of(self, posted: Dict[str, Any]) -> str:
        """The ts Slack gave a message the app posted (`posted` as found by `posts`)."""
        return next(c.ts for c in self.calls if c.args is posted and c.ts)

    def _reply(self, method: str, args: Dict[str, Any], auth: str) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
        if not auth.startswith("Bearer xoxb-"):
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "auth.test":
            return 200, {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "support",
                         "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}, {}
        if method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"{1700000000 + next(self._ts)}.000100"
            return 200, {"ok": True, "channel": args.get("channel"), "ts": ts,
                         "message": {"text": args.get("text"), "ts": ts}}, {}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}, {}
        if method == "users.info":
            user = self.users.get(str(args.get("user")))
            return (200, {"ok": True, "user": user}, {}) if user else (200, {"ok": False, "error": "user_not_found"}, {})
        return 200, {"ok": False, "error": "unknown_method"}, {}

    # reading what the app did -------------------------------------------------------

    def posts(self, channel: Optional[str] = None, thread_ts: Any = ..., method: str = "chat.postMessage") -> List[Dict[str, Any]]:
        with self._changed:
            found = [c.args for c in self.calls if c.method == method]
        if channel is not None:
            found = [a for a in found if a.get("channel") == channel]
        if thread_ts is not ...:
            found = [a for a in found if a.get("thread_ts") == thread_ts]
        return found

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "a Slack call") -> Any:
        """Block until `predicate()` is truthy (re-checked on every call to the API); its value."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._changed.release()
                try:
                    value = predicate()
                finally:
                    self._changed.acquire()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.args.get("channel"), c.args.get("thread_ts"), str(c.args.get("text"))[:120])
                            for c in self.calls[-25:]]
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; the latest calls: "
                                         + json.dumps(seen, default=str))
                self._changed.wait(min(remaining, 0.5))


# requests from Slack to the app ------------------------------------------------------------

def sign(secret: str, body: str, timestamp: Optional[int] = None) -> Dict[str, str]:
    """The headers Slack sends: v0=HMAC-SHA256(signing secret, "v0:<timestamp>:<body>")."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def message_event(user: str, channel: str, text: str, *, ts: Optional[str] = None, thread_ts: Optional[str] = None,
                  channel_type: str = "im", event_type: str = "message", event_id: Optional[str] = None,
                  **extra: Any) -> Dict[str, Any]:
    ts = ts or f"{time.time():.6f}"
    event = {"type": event_type, "user": user, "channel": channel, "text": text, "ts": ts, "event_ts": ts,
             "channel_type": channel_type, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {"token": "unused", "team_id": TEAM, "api_app_id": "A0TEST", "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}], "event": event}


def button_click(user: str, channel: str, message: Dict[str, Any], action: Dict[str, Any],
                 thread_ts: Optional[str] = None) -> Dict[str, Any]:
    """A block_actions interaction: `user` clicked `action` (one of the message's buttons)."""
    container = {"type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False}
    if thread_ts:
        container["thread_ts"] = thread_ts
    return {"type": "block_actions", "team": {"id": TEAM, "domain": "test"}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0TEST", "token": "unused", "container": container, "trigger_id": "1.2.3",
            "channel": {"id": channel, "name": "x"}, "message": {**message, "type": "message", "user": BOT_USER},
            "response_url": "https://hooks.slack.invalid/response",
            "actions": [{**action, "block_id": action.get("block_id", "b"), "type": "button",
                         "action_ts": f"{time.time():.6f}"}]}


class SlackSender:
    """Sends signed requests to the app's Request URL, as Slack does."""

    def __init__(self, url: str, secret: str) -> None:
        self.url, self.secret = url, secret

    def event(self, body: Dict[str, Any], retry_num: Optional[int] = None, secret: Optional[str] = None,
              timestamp: Optional[int] = None) -> requests.Response:
        raw = json.dumps(body)
        headers = {"Content-Type": "application/json", **sign(secret or self.secret, raw, timestamp)}
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return requests.post(self.url, data=raw.encode(), headers=headers, timeout=10)

    def interaction(self, payload: Dict[str, Any]) -> requests.Response:
        raw = urlencode({"payload": json.dumps(payload)})
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(self.secret, raw)}
        return requests.post(self.url, data=raw.encode(), headers=headers, timeout=10)
