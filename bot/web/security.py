"""Who is calling, and the protections every response gets.

Sessions are the handoff service's (a random token; the database keeps only its SHA-256). The
desk carries it in an HttpOnly, SameSite=Strict cookie that scripts cannot read; API clients send
it as `Authorization: Bearer`. A cookie travels with any request the browser makes, so a
state-changing request authenticated by the cookie must also prove it comes from the desk's own
pages: it carries the session's CSRF token in the `X-CSRF-Token` header (a synchroniser token,
derived from the session secret, which the desk's script is given at sign-in and by /api/me and
another site can neither read nor guess), and its body is JSON (a cross-site form cannot send that
content type, and a cross-site script cannot without a CORS preflight this app never grants).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Tuple

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.handoff.models import Agent
from bot.handoff.service import HandoffService

COOKIE = "desk_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Scripts and styles only from this origin and never inline, so injected markup cannot run;
# nothing may frame the desk (clickjacking on Claim / Resolve).
# img-src data: for the article editor's lint markers (CodeMirror draws them as data: SVG images; an image runs no script)
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                           "font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="The session token from POST /api/auth/login: `Authorization: Bearer <token>`.")
cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False, scheme_name="session",
                             description="The desk's HttpOnly session cookie, set by POST /api/auth/login. Requests that change "
                                         "something must also send `Content-Type: application/json`.")


@dataclass(frozen=True)
class Caller:
    agent: Agent
    token: str
    by_cookie: bool


def csrf_token(session_token: str) -> str:
    """The session's CSRF token: an HMAC of a fixed label under the session token, so it needs no storage,
    changes with every session, and reveals nothing of the session token."""
    return hmac.new(session_token.encode("utf-8"), b"support desk csrf v1", hashlib.sha256).hexdigest()


def refuse(status: int, message: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail=message, headers=headers)


def caller_dependency(handoff: HandoffService):
    """The FastAPI dependency that resolves the caller from the bearer token or the session cookie, or refuses (401)."""

    def authenticated(request: Request,
                      credentials: Optional[HTTPAuthorizationCredentials] = Security(bearer_scheme),
                      cookie: Optional[str] = Security(cookie_scheme)) -> Caller:
        token = credentials.credentials if credentials is not None else (cookie or "")
        by_cookie = credentials is None and bool(cookie)
        agent = handoff.agent_for_token(token) if token else None
        if agent is None:
            raise refuse(401, "sign in first" if not token else "your session has expired or is not valid; sign in again")
        if by_cookie and request.method not in SAFE_METHODS:
            if not _is_json(request.headers.get("content-type", "")):
                raise refuse(403, "requests that change something must send Content-Type: application/json")
            if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf_token(token)):
                raise refuse(403, f"requests that change something must send the session's {CSRF_HEADER} header "
                                  "(reload the desk if this persists)")
        return Caller(agent=agent, token=token, by_cookie=by_cookie)

    return authenticated


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class LoginThrottle:
    """Slows password guessing: too many wrong passwords for one email from one address in a window, or too
    many for any emails from one address (one password tried on many accounts), and that address must wait."""

    def __init__(self, limit: int = 10, window_seconds: float = 900.0, address_limit: int = 30) -> None:
        self.limit = limit
        self.address_limit = address_limit
        self.window = window_seconds
        self._failures: Dict[Tuple[str, str], Deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, client: str, email: str) -> Optional[int]:
        """Seconds until this client may try this email again, or None when it may now."""
        with self._lock:
            waits = [self._wait(self._recent((client, email.strip().lower())), self.limit),
                     self._wait(self._recent((client, "")), self.address_limit)]
            waits = [w for w in waits if w is not None]
            return max(waits) if waits else None

    def failed(self, client: str, email: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent((client, email.strip().lower())).append(now)
            self._recent((client, "")).append(now)  # "": every email from this address

    def succeeded(self, client: str, email: str) -> None:
        with self._lock:
            self._failures.pop((client, email.strip().lower()), None)

    def _wait(self, failures: Deque[float], limit: int) -> Optional[int]:
        if len(failures) < limit:
            return None
        return max(1, int(failures[0] + self.window - time.monotonic()))

    def _recent(self, key: Tuple[str, str]) -> Deque[float]:
        failures = self._failures[key]
        while failures and failures[0] < time.monotonic() - self.window:
            failures.popleft()
        return failures


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def secure_cookie(scheme: str, host: Optional[str], public_url: str) -> bool:
    """Whether the session cookie gets the Secure flag: always over HTTPS, and on loopback, where browsers treat
    plain http as a secure context (so `make run` on 127.0.0.1 works with it). Only a desk served over plain
    http to other machines goes without, and then the cookie could be read on the wire anyway."""
    return scheme == "https" or public_url.startswith("https://") or (host or "").lower() in LOOPBACK_HOSTS


class BodyTooLarge(Exception):
    """The request body is over the app's limit (the app maps it to 413)."""


class SecurityHeaders:
    """Adds the security headers to every response, and refuses request bodies over `max_body` bytes."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"cross-origin-opener-policy", b"same-origin")]
                if is_api:  # answers carry customers' data: no cache may keep them
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _too_large(send_with_headers, self.max_body)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:  # a chunked body that does not declare its length
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited_receive, send_with_headers)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"the request body is larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
