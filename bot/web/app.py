"""The web app: the desk's JSON API over `HandoffService` and the desk's static files.

The routes only translate: HTTP in, a service call, JSON out. The rules (who may reply, who wins
a claim, what a lead may do) live in the service; the one check made here as well is the leads'
role on the leads' routes, so that an agent is refused before anything runs. The service's errors
become HTTP answers in one place (`_error_response`); anything unexpected is logged with its cause
and answered with a generic message, never a stack trace.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Dict, Literal, Optional, Tuple

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.company import load_company
from bot.container import KnowledgeUnavailable, LeadsInsights
from bot.errors import NotAllowed, NotFound, SupportError
from bot.handoff.service import SESSION_HOURS, AlreadyClaimed, DeliveryFailed, HandoffService, InvalidInput
from bot.insights.log import InsightLog
from bot.insights.log import summary as knowledge_summary
from bot.knowledge.errors import ArticleRefused, EditConflict
from bot.knowledge.leads import LeadsKnowledge
from bot.proactive.service import ProactiveService
from bot.settings import Settings
from bot.web import schemas as s
from bot.web.brand import add_brand_routes
from bot.web.events import LiveFeed
from bot.web.insights_routes import add_insights_routes
from bot.web.knowledge_routes import add_knowledge_routes
from bot.web.proactive_routes import add_proactive_routes
from bot.web.security import COOKIE, BodyTooLarge, Caller, LoginThrottle, SecurityHeaders, caller_dependency, csrf_token, refuse, secure_cookie

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024  # the longest text field is 5,000 characters; anything far bigger is not a desk request
GENERIC_ERROR = "something went wrong on our side; the cause is in the server log"
STORAGE_UNAVAILABLE = "the support database cannot be written right now, so nothing was changed; try again in a moment"

ERRORS: dict = {status: {"model": s.ErrorOut} for status in (400, 401, 403, 404, 409, 422)}


class ArticleTitles:
    """Article id → (title, link) for the leads' report, read from the help centre's files.

    Re-read at most once a minute: the report is opened now and then, and an article renamed a
    minute ago showing its old title is harmless. A file that does not parse is left out (the
    report then shows its id); `bot kb lint` is where such problems are reported.
    """

    def __init__(self, folder: Path, max_age: float = 60.0) -> None:
        self.folder, self.max_age = folder, max_age
        self._read_at: Optional[float] = None
        self._titles: Dict[str, Tuple[str, str]] = {}
        self._lock = threading.Lock()

    def __call__(self) -> Dict[str, Tuple[str, str]]:
        from bot.knowledge.articles import load_articles

        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at > self.max_age:
                try:
                    articles, _problems = load_articles(self.folder)
                    self._titles = {a.id: (a.title, a.url) for a in articles}
                except OSError as error:  # no help centre folder: ids only
                    logger.warning("article titles for the knowledge report unavailable: %s", error)
                    self._titles = {}
                self._read_at = now
            return self._titles


def create_app(handoff: HandoffService, insights: InsightLog, settings: Settings, *, poll_seconds: float = 1.0,
               knowledge: Optional[LeadsKnowledge] = None, leads_insights: Optional[LeadsInsights] = None,
               proactive: Optional[ProactiveService] = None) -> FastAPI:
    """The desk and its API; `poll_seconds` is how often the live feed looks for changes; `knowledge`: the leads'
    knowledge pages (bot/web/knowledge_routes.py); `leads_insights`: the insights dashboard (bot/web/insights_routes.py).
    Both are None only when the app is built to print its OpenAPI document."""
    app = FastAPI(
        title="Agent desk API",
        version="1",
        description="The JSON API of the agent desk and the leads' console. Sign in with POST /api/auth/login, then send "
                    "the token as `Authorization: Bearer <token>` (or let a browser carry the session cookie). Errors are "
                    "`{\"error\": \"...\"}` with the HTTP status saying what kind: 400 invalid input, 401 not signed in, "
                    "403 not allowed, 404 not found, 409 someone else changed it first, 422 malformed request, "
                    "502 saved but not delivered to the customer.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads scripts from a CDN and inline: the CSP forbids both, and machines may be offline
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders, max_body=MAX_BODY)
    # set by whoever runs the server when it is asked to stop: the live feeds then end at once
    app.state.stopping = threading.Event()
    _install_error_handlers(app)
    throttle = LoginThrottle()
    caller = caller_dependency(handoff)
    titles = ArticleTitles(settings.kb_articles_dir)

    def lead(who: Caller = Depends(caller)) -> Caller:
        if not who.agent.is_lead:
            raise refuse(403, "only leads can do that")
        return who

    # health and sign-in ---------------------------------------------------------------------

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/api/auth/login", tags=["auth"], response_model=s.LoginResponse, responses={**ERRORS, 429: {"model": s.ErrorOut}},
              summary="Sign in: sets the session cookie and returns the same session as a bearer token")
    def login(body: s.LoginRequest, request: Request, response: Response) -> s.LoginResponse:
        client = request.client.host if request.client else "?"
        wait = throttle.retry_after(client, body.email)
        if wait is not None:
            raise refuse(429, f"too many wrong passwords; try again in {max(1, wait // 60)} minute(s)")
        try:
            token, agent = handoff.sign_in(body.email, body.password)
        except NotAllowed as refused:
            throttle.failed(client, body.email)
            raise refuse(401, str(refused)) from None
        throttle.succeeded(client, body.email)
        response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, path="/", httponly=True, samesite="strict",
                            secure=secure_cookie(request.url.scheme, request.url.hostname, settings.web_url))
        return s.LoginResponse(token=token, agent=s.agent_out(agent), csrf_token=csrf_token(token))

    @app.post("/api/auth/logout", tags=["auth"], response_model=s.Ok, responses=ERRORS, summary="End this session")
    def logout(response: Response, who: Caller = Depends(caller)) -> s.Ok:
        handoff.sign_out(who.token)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return s.Ok()

    @app.get("/api/me", tags=["auth"], response_model=s.MeOut, responses=ERRORS,
             summary="The signed-in agent, and the session's CSRF token for the desk's own requests")
    def me(who: Caller = Depends(caller)) -> s.MeOut:
        return s.MeOut(**s.agent_out(who.agent).dict(), csrf_token=csrf_token(who.token))

    # the queue and a conversation -------------------------------------------------------------

    @app.get("/api/queue", tags=["handoffs"], response_model=s.QueueOut, responses=ERRORS,
             summary="Waiting and assigned handoffs, oldest first; waiting ones numbered by their place")
    def queue(who: Caller = Depends(caller)) -> s.QueueOut:
        return s.queue_out(handoff.queue(), handoff.clock())

    @app.get("/api/handoffs/recent", tags=["handoffs"], response_model=s.HandoffList, responses=ERRORS,
             summary="The latest handoffs in any state, newest first")
    def recent(limit: int = Query(50, ge=1, le=500), who: Caller = Depends(caller)) -> s.HandoffList:
        now = handoff.clock()
        return s.HandoffList(handoffs=[s.handoff_out(h, now) for h in handoff.recent(limit)])

    @app.get("/api/handoffs/{handoff_id}", tags=["handoffs"], response_model=s.HandoffDetail, responses=ERRORS,
             summary="A handoff with its context packet, transcript lines and history")
    def detail(handoff_id: s.IdPath, who: Caller = Depends(caller)) -> s.HandoffDetail:
        found = handoff.handoff(handoff_id)
        return s.HandoffDetail(handoff=s.handoff_out(found, handoff.clock()), packet=found.packet,
                               messages=[s.message_out(m) for m in handoff.messages(handoff_id)],
                               history=[s.history_entry(row) for row in handoff.history(handoff_id)])

    @app.post("/api/handoffs/{handoff_id}/claim", tags=["handoffs"], response_model=s.HandoffOut, responses=ERRORS,
              summary="Take a waiting conversation; 409 names the agent who took it first")
    def claim(handoff_id: s.IdPath, who: Caller = Depends(caller)) -> s.HandoffOut:
        return s.handoff_out(handoff.claim(handoff_id, who.agent), handoff.clock())

    @app.post("/api/handoffs/{handoff_id}/reply", tags=["handoffs"], response_model=s.MessageOut,
              responses={**ERRORS, 502: {"model": s.ErrorOut, "description": "saved but not delivered; retry with message_id"}},
              summary="Send a message to the customer (saved first; 502 when it could not be delivered yet)")
    def reply(handoff_id: s.IdPath, body: s.TextRequest, who: Caller = Depends(caller)) -> s.MessageOut:
        return s.message_out(handoff.reply(handoff_id, who.agent, body.text))

    @app.post("/api/messages/{message_id}/retry", tags=["handoffs"], response_model=s.MessageOut,
              responses={**ERRORS, 502: {"model": s.ErrorOut}}, summary="Deliver a saved reply again")
    def retry(message_id: s.IdPath, who: Caller = Depends(caller)) -> s.MessageOut:
        return s.message_out(handoff.retry(message_id, who.agent))

    @app.post("/api/handoffs/{handoff_id}/notes", tags=["handoffs"], response_model=s.MessageOut, responses=ERRORS,
              summary="An internal note: agents and leads see it, the customer never does")
    def note(handoff_id: s.IdPath, body: s.TextRequest, who: Caller = Depends(caller)) -> s.MessageOut:
        return s.message_out(handoff.note(handoff_id, who.agent, body.text))

    @app.post("/api/handoffs/{handoff_id}/transfer", tags=["handoffs"], response_model=s.HandoffOut, responses=ERRORS,
              summary="Pass the conversation to another agent, or back to the queue (to_agent_id null)")
    def transfer(handoff_id: s.IdPath, body: s.TransferRequest, who: Caller = Depends(caller)) -> s.HandoffOut:
        return s.handoff_out(handoff.transfer(handoff_id, who.agent, body.to_agent_id, body.note), handoff.clock())

    @app.post("/api/handoffs/{handoff_id}/resolve", tags=["handoffs"], response_model=s.HandoffOut, responses=ERRORS,
              summary="Close the handoff and give the conversation back to the assistant (it asks for a rating)")
    def resolve(handoff_id: s.IdPath, who: Caller = Depends(caller)) -> s.HandoffOut:
        return s.handoff_out(handoff.resolve(handoff_id, who.agent), handoff.clock())

    @app.post("/api/handoffs/{handoff_id}/abandon", tags=["handoffs"], response_model=s.HandoffOut, responses=ERRORS,
              summary="The customer is gone: close the handoff without a rating prompt")
    def abandon(handoff_id: s.IdPath, body: Optional[s.AbandonRequest] = None, who: Caller = Depends(caller)) -> s.HandoffOut:
        detail_text = body.detail if body is not None else s.AbandonRequest().detail
        return s.handoff_out(handoff.abandon(handoff_id, who.agent, detail_text), handoff.clock())

    @app.get("/api/events", tags=["handoffs"], response_class=StreamingResponse,
             responses={**ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                                        "description": "Server-Sent Events: `queue`, `handoff`, `message`, `signed_out`"}},
             summary="Live feed for the desk (Server-Sent Events); keeps the agent online while connected")
    def events(request: Request, who: Caller = Depends(caller)) -> StreamingResponse:
        feed = LiveFeed(handoff, who, request, poll_seconds, app.state.stopping)
        return StreamingResponse(feed.run(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    # offline tickets and colleagues ------------------------------------------------------

    @app.get("/api/tickets", tags=["tickets"], response_model=s.TicketList, responses=ERRORS,
             summary="Offline requests (customers who wrote when nobody was there); all states when state is omitted")
    def tickets(state: Optional[Literal["open", "closed"]] = Query(None), who: Caller = Depends(caller)) -> s.TicketList:
        return s.TicketList(tickets=[s.ticket_out(t) for t in handoff.tickets(state)])

    @app.post("/api/tickets/{ticket_id}/close", tags=["tickets"], response_model=s.TicketOut, responses=ERRORS,
              summary="Mark an offline request as answered")
    def close_ticket(ticket_id: s.IdPath, who: Caller = Depends(caller)) -> s.TicketOut:
        return s.ticket_out(handoff.close_ticket(ticket_id, who.agent))

    @app.get("/api/agents/online", tags=["agents"], response_model=s.OnlineAgents, responses=ERRORS,
             summary="Agents whose desk checked in recently (transfer targets)")
    def online(who: Caller = Depends(caller)) -> s.OnlineAgents:
        return s.OnlineAgents(agents=[s.AgentBrief(id=a.id, name=a.name, role=a.role) for a in handoff.agents_online()])

    # leads only ---------------------------------------------------------------------------

    @app.get("/api/agents", tags=["leads"], response_model=s.AgentList, responses=ERRORS, summary="All accounts (leads only)")
    def agents(who: Caller = Depends(lead)) -> s.AgentList:
        return s.AgentList(agents=[s.agent_out(a) for a in handoff.list_agents(who.agent)])

    @app.post("/api/agents", tags=["leads"], response_model=s.AgentOut, status_code=201, responses=ERRORS,
              summary="Create an agent or lead account (leads only)")
    def add_agent(body: s.NewAgentRequest, who: Caller = Depends(lead)) -> s.AgentOut:
        return s.agent_out(handoff.add_agent(who.agent, body.email, body.name, body.role, body.password))

    @app.patch("/api/agents/{agent_id}", tags=["leads"], response_model=s.AgentOut, responses=ERRORS,
               summary="Activate or deactivate an account (leads only; deactivating ends its sessions)")
    def patch_agent(agent_id: s.IdPath, body: s.AgentPatch, who: Caller = Depends(lead)) -> s.AgentOut:
        return s.agent_out(handoff.set_agent_active(who.agent, agent_id, body.active))

    @app.get("/api/reports/handoffs", tags=["leads"], response_model=s.HandoffReportOut, responses=ERRORS,
             summary="How often the assistant hands off and why, waits, handling times, satisfaction (leads only)")
    def handoff_report(days: int = Query(30, ge=1, le=366), who: Caller = Depends(lead)) -> s.HandoffReportOut:
        return s.report_out(handoff.report(who.agent, days), days)

    @app.get("/api/reports/knowledge", tags=["leads"], response_model=s.KnowledgeReportOut, responses=ERRORS,
             summary="Which help articles answer and help, and what the assistant could not answer (leads only)")
    def knowledge_report(top: int = Query(20, ge=1, le=200), who: Caller = Depends(lead)) -> s.KnowledgeReportOut:
        stats = insights.article_stats()
        return s.knowledge_out(stats, insights.unanswered(top), knowledge_summary(stats), titles())

    add_knowledge_routes(app, knowledge, caller, lead)
    add_insights_routes(app, leads_insights, lead, lambda: handoff.clock().date())
    if proactive is not None:  # the store's order events (bot/web/proactive_routes.py), with the store's own token
        add_proactive_routes(app, proactive, settings.store_api_token)

    # the company's name, colour and logo for the pages and the widget (company.yml) -----------
    add_brand_routes(app, load_company(settings.company_profile), settings.web_url)

    # the desk's pages -----------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/desk/", status_code=307)

    app.mount("/desk", StaticFiles(directory=STATIC_DIR / "desk", html=True), name="desk")
    return app


def _install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SupportError, _support_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(sa_exc.OperationalError, _storage_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def _error_response(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **{k: v for k, v in extra.items() if v is not None}}, status_code=status)


# The service's errors and the HTTP status each becomes (first match wins: AlreadyClaimed is a NotAllowed).
STATUS_OF: "tuple[tuple[type, int], ...]" = ((AlreadyClaimed, 409), (NotFound, 404), (NotAllowed, 403), (InvalidInput, 400),
                                             (DeliveryFailed, 502), (EditConflict, 409), (ArticleRefused, 400),
                                             (KnowledgeUnavailable, 503))


async def _support_error(request: Request, error: Exception) -> JSONResponse:
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            if isinstance(error, DeliveryFailed):
                return _error_response(status, str(error), message_id=error.saved.id)
            if isinstance(error, EditConflict):
                return _error_response(status, str(error), current_etag=error.current_hash)
            if isinstance(error, ArticleRefused):
                return _error_response(status, str(error), problems=[{"line": p.line, "message": p.message,
                                                                      "severity": p.severity} for p in error.problems])
            if isinstance(error, KnowledgeUnavailable):
                return _error_response(status, "the help-centre index is not available yet; build it with `bot kb build`")
            return _error_response(status, str(error))
    # a configuration or gateway problem: the operator needs the cause, the user a plain answer
    logger.error("%s %s failed: %s", request.method, request.url.path, error, exc_info=error)
    return _error_response(500, GENERIC_ERROR)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    message = error.detail if isinstance(error.detail, str) else "the request was refused"
    response = _error_response(error.status_code, message)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    if any(p.get("type") in ("json_invalid", "value_error.jsondecode") for p in problems):
        return _error_response(400, "the request body is not valid JSON")
    lines = [_problem_line(p) for p in problems]
    return _error_response(422, "; ".join(lines), details=lines)


def _problem_line(problem: dict) -> str:
    where = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
    message = str(problem.get("msg", "is not valid"))
    if not where:
        return "the request needs a JSON body" if message == "field required" else message
    return f"{'.'.join(where)}: {message}"


async def _too_large(request: Request, error: Exception) -> JSONResponse:
    return _error_response(413, f"the request body is larger than {MAX_BODY} bytes")


async def _storage_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The database refused the work (disk full, a read-only file, a server restarting): a transaction that failed
    changed nothing, so the user may simply try again; the operator finds the database's own words in the log."""
    cause = getattr(error, "orig", None) or error
    logger.error("%s %s: the database is not available: %s", request.method, request.url.path, cause)
    return _error_response(503, STORAGE_UNAVAILABLE)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=error)
    return _error_response(500, GENERIC_ERROR)


def api_document() -> dict:
    """The OpenAPI document. It depends only on the routes, so no database is opened to build it."""
    settings = Settings.from_env({"SUPPORT_DATA_DIR": "/nonexistent", "RASA_TOKEN": "-", "IDENTITY_SECRET": "-"})
    return create_app(None, None, settings).openapi()  # type: ignore[arg-type]  # the routes never run here
