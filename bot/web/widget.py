"""The website widget's side of the web app: its script, the conversation history, the demo store page.

- `GET /widget.js` is `widget/src/widget.js` as committed (no build step); the widget loads the socket.io
  client from `GET /widget/socket.io.min.js` (npm's `socket.io-client`, installed by `make widget`), so a
  host page needs one script tag.
- `GET /api/widget/history/{session_id}` lets the widget show a conversation again after a reload, in a
  second tab, or after a network drop. Rasa's HTTP API needs the token, so the browser cannot read the
  tracker itself; this route reads it with the token and returns only what the customer saw: their own
  messages, the bot's and the agents' (text, buttons, the card / queue / rating payload, the agent's name,
  the time). No slots, intents or other internal data. There is no sign-in: the random session id the
  widget keeps in the visitor's browser is the conversation's secret, as it is for Rasa's socket.io
  channel itself.
- `GET /` is the front page with the widget embedded, in the company's brand (company.yml): the demo store page
  for the shipped demo (`front_page: demo_store`; `/?customer=jane` is the same page as the demo customer Jane Doe
  would see it, with her identity signed here, as a real store's backend would), otherwise a plain preview page.
- `GET /api/widget/config` also carries the brand (title, greeting, colour, logo, privacy link), so the widget on
  a host page that does not configure it still shows the company's.

The demo page is a host page like any other, so its content security policy lets it connect to the Rasa
server (socket.io); every other response keeps the app's own policy.
"""
from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from string import Template
from typing import Any, Dict, Iterable, List, Optional, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.company import CompanyProfile, load_company
from bot.handoff.rasa_gateway import GatewayError, RasaHttpGateway
from bot.identity import sign_identity
from bot.settings import PROJECT_ROOT, Settings
from bot.web.brand import widget_brand

logger = logging.getLogger(__name__)

WIDGET_DIR = PROJECT_ROOT / "widget"
WIDGET_JS = WIDGET_DIR / "src" / "widget.js"
SOCKET_IO_JS = WIDGET_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
DEMO_DIR = Path(__file__).resolve().parent / "static" / "demo"
PREVIEW_DIR = Path(__file__).resolve().parent / "static" / "preview"  # its stylesheet; the page is a template
PREVIEW_PAGE = Path(__file__).resolve().parent / "static" / "preview.html"

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
# what the customer may see of a bot message's custom payload (actions/knowledge.py, actions/handoff.py)
CUSTOMER_PAYLOADS = ("kb", "handoff", "csat", "ticket")
# the widget's own buttons, shown under their title when the conversation is shown again
WIDGET_PAYLOADS = {"/request_human": "Talk to a person"}
ASSET_HEADERS = {"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}

# The demo customer (docs/demo-store.md); the page signs her identity like a store's backend would.
DEMO_CUSTOMER = {"customer_id": "C1001", "email": "jane.doe@example.com", "name": "Jane Doe"}


class TranscriptSource(Protocol):
    """Where a conversation's events come from (Rasa's tracker over its HTTP API)."""

    def transcript(self, conversation_id: str) -> List[Dict[str, Any]]: ...


def customer_messages(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The messages of a Rasa tracker as the customer saw them, oldest first."""
    titles = dict(WIDGET_PAYLOADS)  # a button's payload → its title, so a click reads as it did live
    messages: List[Dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            text = str(event.get("text") or "")
            text = titles.get(text, text)
            if text.strip():
                messages.append({"who": "customer", "text": text, "timestamp": event.get("timestamp")})
        elif kind == "bot":
            message = _bot_message(event)
            if message is not None:
                titles.update({b["payload"]: b["title"] for b in message.get("buttons", [])})
                messages.append(message)
    return messages


def _bot_message(event: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    buttons = [{"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
               for b in (data.get("buttons") or data.get("quick_replies") or []) if isinstance(b, dict) and b.get("payload")]
    custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
    custom = {key: custom[key] for key in CUSTOMER_PAYLOADS if isinstance(custom.get(key), dict)}
    text = str(event.get("text") or "")
    if not (text.strip() or buttons or custom):
        return None
    message: Dict[str, Any] = {"who": "bot", "text": text, "timestamp": event.get("timestamp")}
    if buttons:
        message["buttons"] = buttons
    if custom:
        message["custom"] = custom
    if metadata.get("agent"):
        message["who"], message["agent"] = "agent", str(metadata["agent"])
    return message


def socket_url_of(settings: Settings) -> str:
    """Where browsers reach Rasa's socket.io channel."""
    return settings.public_rasa


def front_page(settings: Settings, company: CompanyProfile, customer: Optional[str]) -> str:
    """The web app's front page: the demo store (the shipped demo) or a plain page with the company's widget."""
    if company.front_page == "demo_store":
        return demo_page(settings, customer, company)
    config: Dict[str, Any] = {"server": settings.web_url, "socketUrl": socket_url_of(settings),
                              **widget_brand(company, settings.web_url)}
    template = Template(PREVIEW_PAGE.read_text(encoding="utf-8"))
    return template.substitute(
        company=html.escape(company.name), short_name=html.escape(company.short_name),
        assistant=html.escape(company.assistant_name), email=html.escape(company.support_email),
        widget_src=html.escape(f"{settings.web_url}/widget.js"),
        widget_config=html.escape(json.dumps(config), quote=True),
    )


def demo_page(settings: Settings, customer: Optional[str], company: Optional[CompanyProfile] = None) -> str:
    """The demo store's front page, as a guest or signed in as the demo customer."""
    company = company or load_company(settings.company_profile)
    config: Dict[str, Any] = {"server": settings.web_url, "socketUrl": socket_url_of(settings),
                              **widget_brand(company, settings.web_url)}
    signed_in = customer == "jane"
    if signed_in:
        config["customer"] = {"customer_id": DEMO_CUSTOMER["customer_id"], "email": DEMO_CUSTOMER["email"],
                              "signature": sign_identity(settings.identity_secret, DEMO_CUSTOMER["customer_id"],
                                                         DEMO_CUSTOMER["email"])}
    template = Template((DEMO_DIR / "store.html").read_text(encoding="utf-8"))
    return template.substitute(
        widget_src=html.escape(f"{settings.web_url}/widget.js"),
        widget_config=html.escape(json.dumps(config), quote=True),
        account=html.escape(f"Signed in as {DEMO_CUSTOMER['name']}" if signed_in else "Browsing as a guest"),
        switch_href="/" if signed_in else "/?customer=jane",
        switch_label=html.escape("Sign out" if signed_in else f"Sign in as {DEMO_CUSTOMER['name']} (demo)"),
    )


def demo_policy(settings: Settings) -> str:
    """The app's policy, plus the Rasa server for socket.io (polling and WebSocket)."""
    parts = urlsplit(socket_url_of(settings))
    socket_origin = f"{parts.scheme}://{parts.netloc}"
    ws_origin = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {socket_origin} {ws_origin}; font-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")


class DemoPagePolicy:
    """Replaces the content security policy on the demo page (it must reach the Rasa server); nothing else."""

    def __init__(self, app: ASGIApp, paths: frozenset, policy: str) -> None:
        self.app = app
        self.paths = paths
        self.policy = policy.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                message = {**message, "headers": headers + [(b"content-security-policy", self.policy)]}
            await send(message)

        await self.app(scope, receive, send_with_policy)


def mount_widget(app: FastAPI, settings: Settings, transcripts: Optional[TranscriptSource] = None) -> None:
    """Add the widget's asset, history and demo-page routes to the web app.

    The demo store becomes the site's front page: a `/` route already there (the desk's redirect; the
    desk lives at /desk/) is replaced.
    """
    source: TranscriptSource = transcripts or RasaHttpGateway(settings.rasa_url, settings.rasa_token)
    company = load_company(settings.company_profile)

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        return FileResponse(WIDGET_JS, media_type="text/javascript; charset=utf-8", headers=ASSET_HEADERS)

    @app.get("/widget/socket.io.min.js", include_in_schema=False)
    def socket_io_js() -> FileResponse:
        if not SOCKET_IO_JS.exists():
            logger.error("%s is missing: run `make widget` (npm ci in widget/)", SOCKET_IO_JS)
            raise HTTPException(503, "the widget's socket.io client is not installed; run `make widget`")
        return FileResponse(SOCKET_IO_JS, media_type="text/javascript; charset=utf-8", headers=ASSET_HEADERS)

    @app.get("/api/widget/config", tags=["widget"], summary="Where the widget connects (for host pages that do not say)")
    def widget_config() -> JSONResponse:
        return JSONResponse({"socket_url": socket_url_of(settings), "socket_path": "/socket.io",
                             "brand": widget_brand(company, settings.web_url)},
                            headers={"Access-Control-Allow-Origin": "*"})

    @app.get("/api/widget/history/{session_id}", tags=["widget"],
             summary="A widget conversation's messages as the customer saw them (the session id is the secret)",
             responses={400: {"description": "not a widget session id"},
                        502: {"description": "the conversation server did not answer"}})
    def history(session_id: str) -> JSONResponse:
        if not SESSION_ID.fullmatch(session_id):
            raise HTTPException(400, "not a widget session id (16-128 letters, digits, '-' or '_')")
        try:
            events = source.transcript(session_id)
        except GatewayError as error:  # its text can hold the request URL, and with it the token
            logger.error("widget history unavailable: %s", str(error).replace(settings.rasa_token, "<RASA_TOKEN>"))
            raise HTTPException(502, "the conversation history is not available right now") from None
        # any origin may read it: the widget runs on the store's pages, and no cookie is involved
        return JSONResponse({"session_id": session_id, "messages": customer_messages(events)},
                            headers={"Access-Control-Allow-Origin": "*"})

    app.router.routes[:] = [r for r in app.router.routes if not (isinstance(r, APIRoute) and r.path == "/")]

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def store_front(customer: Optional[str] = Query(None, max_length=20)) -> HTMLResponse:
        return HTMLResponse(front_page(settings, company, customer))

    app.mount("/demo", StaticFiles(directory=DEMO_DIR / "assets"), name="demo")
    app.mount("/preview", StaticFiles(directory=PREVIEW_DIR), name="preview")
    app.add_middleware(DemoPagePolicy, paths=frozenset({"/"}), policy=demo_policy(settings))
