"""The desk's JSON API over a real SQLite app database: sign-in, authorisation, the agents' work, the leads' reports, errors."""
from __future__ import annotations

import logging
import re
import threading
from datetime import datetime

import httpx
import pytest

from bot.handoff.models import ABANDONED, ASSIGNED, CUSTOMER_REQUEST, RESOLVED, WAITING
from bot.insights.log import ANSWERED, RATED, UNANSWERED, KnowledgeEvent
from bot.web.app import GENERIC_ERROR, api_document
from bot.web.security import COOKIE
from tests.bot.web.conftest import OPEN, PASSWORD, LiveServer

# --- every route, for the authorisation sweeps ------------------------------------------------------

VALID_BODIES = {
    ("post", "/api/handoffs/{handoff_id}/reply"): {"text": "hello"},
    ("post", "/api/handoffs/{handoff_id}/notes"): {"text": "a note"},
    ("post", "/api/handoffs/{handoff_id}/transfer"): {"to_agent_id": None, "note": ""},
    ("post", "/api/agents"): {"email": "new@brightwave.example", "name": "New", "role": "agent", "password": PASSWORD},
    ("patch", "/api/agents/{agent_id}"): {"active": False},
    ("post", "/api/kb/try"): {"question": "how do I reset my headphones"},
}
NEW_ARTICLE = {"id": "gift-cards", "title": "Gift cards", "category": "payment-and-billing", "tags": ["gift card"], "status": "draft",
               "url": "https://help.example/articles/gift-cards", "body": "Gift cards never expire.", "questions": []}
PUBLIC = {("get", "/healthz"), ("post", "/api/auth/login"),
          ("get", "/api/brand")}  # the company's name and colour, on its website anyway (bot/web/brand.py)
# the query a GET needs to succeed for a lead (the insights routes; test_insights_api.py tests them in depth)
VALID_QUERIES = {
    "/api/insights/conversations": {"figure": "handoffs"},
    "/api/insights/transcript": {"conversation_id": "conv-sweep"},
}


def insight_conversation(desk) -> None:
    """A conversation in the desk's tracker store, for the transcript route."""
    import sqlalchemy as sa

    from bot.insights.dashboard import epoch, events
    from bot.store.directory import create_engine

    tracker = create_engine(desk.tracker_url)
    with tracker.begin() as conn:
        if conn.execute(sa.select(events.c.id).where(events.c.sender_id == "conv-sweep")).first() is None:
            conn.execute(sa.insert(events).values(sender_id="conv-sweep", type_name="user", timestamp=epoch(OPEN), intent_name="greet",
                                                  data='{"event": "user", "text": "hello", "timestamp": 0}'))
    tracker.dispose()


def knowledge_bodies(desk) -> dict:
    """Valid bodies of the knowledge routes, which depend on the desk's articles (their versions) and records."""
    opened = desk.knowledge.workspace.get("returns-policy")
    article = {**NEW_ARTICLE, **{key: value for key, value in opened.fields.__dict__.items()}, "tags": list(opened.fields.tags),
               "questions": list(opened.fields.questions)}
    return {
        ("post", "/api/kb/articles"): {"article": NEW_ARTICLE},
        ("put", "/api/kb/articles/{article_id}"): {"article": article, "etag": opened.etag},
        ("post", "/api/kb/articles/{article_id}/publish"): {"etag": opened.etag},
        ("post", "/api/kb/articles/{article_id}/unpublish"): {"etag": opened.etag},
        ("post", "/api/kb/articles/{article_id}/delete"): {"etag": opened.etag},
        ("post", "/api/kb/articles/{article_id}/revert"): {"revision_id": knowledge_ids(desk)["revision_id"], "etag": opened.etag},
        ("post", "/api/kb/check"): {"article": NEW_ARTICLE},
        ("post", "/api/kb/preview"): {"article": NEW_ARTICLE},
        ("post", "/api/kb/gaps/{cluster_id}/dismiss"): {"dismissed": True},
        ("post", "/api/kb/gaps/{cluster_id}/questions"): {"article_id": "returns-policy", "questions": ["can I send it back"],
                                                           "etag": opened.etag},
    }


def knowledge_ids(desk) -> dict:
    """An article, one of its revisions and a content-gap cluster to call the routes on."""
    if not desk.insights.events():
        desk.insights.record(KnowledgeEvent("conv-9", UNANSWERED, "do you sell lawnmowers", OPEN))
    desk.knowledge.gaps.refresh()
    return {"article_id": "returns-policy", "revision_id": desk.knowledge.workspace.history("returns-policy")[-1].id,
            "cluster_id": desk.knowledge.gaps.clusters(days=3650)[0].id}


def operations():
    """(method, path template, tags) of every operation the API documents."""
    for path, methods in api_document()["paths"].items():
        for method, operation in methods.items():
            yield method, path, tuple(operation.get("tags", ()))


def concrete(path: str, agent_id: int = 1, ids: dict | None = None) -> str:
    ids = {"article_id": "returns-policy", "revision_id": 1, "cluster_id": 1, **(ids or {})}
    return (path.replace("{handoff_id}", "1").replace("{message_id}", "1").replace("{ticket_id}", "1")
            .replace("{agent_id}", str(agent_id)).replace("{article_id}", ids["article_id"])
            .replace("{revision_id}", str(ids["revision_id"])).replace("{cluster_id}", str(ids["cluster_id"]))
            .replace("{table}", "conversations"))


def call(client, method: str, path: str, headers: dict | None = None, agent_id: int = 1, desk=None, **kwargs):
    """One operation with a valid body; `desk`: with the ids and article versions of that desk."""
    bodies = {**VALID_BODIES, **(knowledge_bodies(desk) if desk is not None else {})}
    body = bodies.get((method, path), {})
    where = concrete(path, agent_id, knowledge_ids(desk) if desk is not None else None)
    if desk is not None and path == "/api/insights/transcript":
        insight_conversation(desk)
    if method == "get":
        return client.get(where, headers=headers, params=VALID_QUERIES.get(path), **kwargs)
    return client.request(method.upper(), where, json=body, headers=headers, **kwargs)


PROTECTED = sorted((m, p) for m, p, _ in operations() if (m, p) not in PUBLIC)
LEADS_ONLY = sorted((m, p) for m, p, tags in operations() if "leads" in tags)


def test_the_sweeps_cover_the_api():
    assert len(PROTECTED) >= 40
    desk_leads = [("get", "/api/agents"), ("get", "/api/reports/handoffs"), ("get", "/api/reports/knowledge"),
                  ("patch", "/api/agents/{agent_id}"), ("post", "/api/agents")]
    insights = [("get", "/api/insights"), ("get", "/api/insights/conversations"), ("get", "/api/insights/transcript"),
                ("get", "/api/insights/{table}.csv")]
    knowledge_writes = [("get", "/api/kb/gaps/{cluster_id}/draft"), ("post", "/api/kb/articles"),
                        ("post", "/api/kb/articles/{article_id}/delete"), ("post", "/api/kb/articles/{article_id}/publish"),
                        ("post", "/api/kb/articles/{article_id}/revert"), ("post", "/api/kb/articles/{article_id}/unpublish"),
                        ("post", "/api/kb/check"), ("post", "/api/kb/gaps/{cluster_id}/dismiss"),
                        ("post", "/api/kb/gaps/{cluster_id}/questions"), ("put", "/api/kb/articles/{article_id}")]
    assert LEADS_ONLY == sorted(desk_leads + insights + knowledge_writes)


# --- sign-in and sessions -----------------------------------------------------------------------------

def test_health_needs_no_sign_in(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_sign_in_sets_a_strict_http_only_cookie_and_returns_a_bearer_token(client, desk):
    response = client.post("/api/auth/login", json={"email": "Maya@brightwave.example", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["agent"] == {"id": desk.maya.id, "email": "maya@brightwave.example", "name": "Maya", "role": "agent",
                             "active": True, "last_seen_at": "2026-10-06T14:00:00+00:00"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert body["token"] in cookie  # one session, two ways to carry it
    assert client.get("/api/me").json()["name"] == "Maya"  # by cookie
    fresh = type(client)(desk.app)
    assert fresh.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"}).json()["name"] == "Maya"
    assert fresh.get("/api/me").status_code == 401


def test_wrong_email_or_password_get_the_same_refusal(client):
    wrong_password = client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": "not it at all"})
    unknown = client.post("/api/auth/login", json={"email": "nobody@brightwave.example", "password": PASSWORD})
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json() == {"error": "wrong email or password"}
    assert "set-cookie" not in wrong_password.headers


def test_repeated_wrong_passwords_are_throttled(client):
    for _ in range(10):
        assert client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": "guess guess"}).status_code == 401
    refused = client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": PASSWORD})
    assert refused.status_code == 429 and "too many wrong passwords" in refused.json()["error"]
    assert client.post("/api/auth/login", json={"email": "sam@brightwave.example", "password": PASSWORD}).status_code == 200


def test_one_password_tried_on_many_accounts_is_throttled_too(client):
    # found by the reliability battery: the limit was per email, so spraying one password over many emails never stopped
    for n in range(30):
        assert client.post("/api/auth/login", json={"email": f"user{n}@brightwave.example", "password": "Summer2026!"}).status_code == 401
    refused = client.post("/api/auth/login", json={"email": "sam@brightwave.example", "password": PASSWORD})
    assert refused.status_code == 429


def test_the_session_cookie_is_secure_over_https_and_on_loopback():
    from bot.web.security import secure_cookie

    assert secure_cookie("https", "desk.example", "")
    assert secure_cookie("http", "127.0.0.1", "") and secure_cookie("http", "localhost", "")
    assert secure_cookie("http", "10.0.0.5", "https://desk.example")  # behind a TLS proxy
    assert not secure_cookie("http", "10.0.0.5", "")


def test_sign_out_ends_the_session_for_cookie_and_token(client):
    signed_in = client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": PASSWORD}).json()
    token = signed_in["token"]
    assert client.post("/api/auth/logout", json={}, headers={"X-CSRF-Token": signed_in["csrf_token"]}).json() == {"ok": True}
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- authorisation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", PROTECTED)
def test_every_protected_route_refuses_a_missing_or_bad_token(client, method, path):
    for headers in (None, {"Authorization": "Bearer forged-token"}, {"Authorization": "Basic bWF5YTpwdw=="}):
        response = call(client, method, path, headers)
        assert response.status_code == 401, (method, path, headers, response.text)
        assert response.json()["error"] and response.headers["www-authenticate"] == "Bearer"
    client.cookies.set(COOKIE, "forged-cookie")
    assert call(client, method, path).status_code == 401


@pytest.mark.parametrize("method,path", LEADS_ONLY)
def test_agents_cannot_use_the_leads_functions(client, desk, method, path):
    response = call(client, method, path, desk.bearer(desk.maya), agent_id=desk.sam.id, desk=desk)
    assert response.status_code == 403 and response.json() == {"error": "only leads can do that"}
    lead = call(client, method, path, desk.bearer(desk.lee), agent_id=desk.sam.id, desk=desk)
    assert lead.status_code in (200, 201), lead.text


def test_a_refused_agent_changes_nothing(client, desk):
    call(client, "post", "/api/agents", desk.bearer(desk.maya))
    call(client, "patch", "/api/agents/{agent_id}", desk.bearer(desk.maya), agent_id=desk.sam.id)
    assert [a.email for a in desk.service.store.list_agents()] == ["lee@brightwave.example", "maya@brightwave.example",
                                                                  "sam@brightwave.example"]
    assert desk.service.store.agent(desk.sam.id).active


def test_cookie_requests_that_change_something_must_be_json_and_carry_the_csrf_token(client, desk):
    handoff = desk.open_handoff()
    csrf = client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": PASSWORD}).json()["csrf_token"]
    assert client.get("/api/me").json()["csrf_token"] == csrf  # the desk gets it again after a reload
    as_form = client.post(f"/api/handoffs/{handoff.id}/claim", content=b"x=1",
                          headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf})
    bare = client.post(f"/api/handoffs/{handoff.id}/claim", headers={"X-CSRF-Token": csrf})
    no_token = client.post(f"/api/handoffs/{handoff.id}/claim", json={})
    wrong_token = client.post(f"/api/handoffs/{handoff.id}/claim", json={}, headers={"X-CSRF-Token": "0" * 64})
    assert as_form.status_code == bare.status_code == no_token.status_code == wrong_token.status_code == 403
    assert "Content-Type: application/json" in as_form.json()["error"]
    assert "X-CSRF-Token" in no_token.json()["error"] and "X-CSRF-Token" in wrong_token.json()["error"]
    assert desk.service.handoff(handoff.id).state == WAITING
    assert client.post(f"/api/handoffs/{handoff.id}/claim", json={}, headers={"X-CSRF-Token": csrf}).json()["state"] == ASSIGNED


def test_each_session_has_its_own_csrf_token(client, desk):
    first = client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": PASSWORD}).json()
    second = client.post("/api/auth/login", json={"email": "maya@brightwave.example", "password": PASSWORD}).json()
    assert first["csrf_token"] != second["csrf_token"] and first["token"] not in first["csrf_token"]
    # the cookie now holds the second session: the first session's token does not pass
    assert client.post("/api/auth/logout", json={}, headers={"X-CSRF-Token": first["csrf_token"]}).status_code == 403


def test_bearer_requests_need_no_json_body(client, desk):
    handoff = desk.open_handoff()
    assert client.post(f"/api/handoffs/{handoff.id}/claim", headers=desk.bearer(desk.maya)).json()["agent_name"] == "Maya"


def test_deactivated_agents_are_signed_out(client, desk):
    maya = desk.bearer(desk.maya)
    lee = desk.bearer(desk.lee)
    assert client.patch(f"/api/agents/{desk.maya.id}", json={"active": False}, headers=lee).json()["active"] is False
    assert client.get("/api/queue", headers=maya).status_code == 401
    assert client.patch(f"/api/agents/{desk.lee.id}", json={"active": False}, headers=lee).json() == {
        "error": "you cannot deactivate your own account"}


# --- the queue and a conversation ------------------------------------------------------------------------

def test_queue_lists_active_handoffs_oldest_first_with_places(client, desk):
    first = desk.open_handoff("conv-1")
    desk.service.clock.advance(minutes=3)
    second = desk.open_handoff("conv-2", name=None)
    third = desk.open_handoff("conv-3")
    desk.service.claim(first.id, desk.maya)
    desk.service.resolve(desk.service.claim(desk.open_handoff("conv-4").id, desk.sam).id, desk.sam)
    desk.service.clock.advance(minutes=2)
    queue = client.get("/api/queue", headers=desk.bearer(desk.sam)).json()["handoffs"]
    assert [(h["id"], h["state"], h["position"]) for h in queue] == [(first.id, ASSIGNED, None), (second.id, WAITING, 1),
                                                                    (third.id, WAITING, 2)]
    assert queue[0]["waiting_seconds"] == 300 and queue[1]["waiting_seconds"] == 120
    assert queue[0]["agent_name"] == "Maya" and queue[1]["customer_name"] is None
    assert queue[1]["reason_label"] == "asked for a person" and queue[1]["customer_verified"] is True
    assert queue[0]["created_at"] == "2026-10-06T14:00:00+00:00"  # explicit UTC: browsers read naive times as local
    recent = client.get("/api/handoffs/recent?limit=10", headers=desk.bearer(desk.sam)).json()["handoffs"]
    assert [h["conversation_id"] for h in recent] == ["conv-4", "conv-3", "conv-2", "conv-1"]


def test_a_handoff_comes_with_its_packet_messages_and_history(client, desk):
    handoff = desk.open_handoff(slots={"order_number": "104512"})
    desk.service.record_customer_message("conv-1", "hello? anyone there")
    desk.service.claim(handoff.id, desk.maya)
    body = client.get(f"/api/handoffs/{handoff.id}", headers=desk.bearer(desk.sam)).json()
    assert body["packet"]["slots"] == {"order_number": "104512"}
    assert body["packet"]["transcript"][0]["intent"] == "human_handoff"
    assert [(m["author"], m["text"]) for m in body["messages"]] == [("customer", "hello? anyone there")]
    assert [entry["kind"] for entry in body["history"]] == ["created", "claimed"]
    assert body["handoff"]["state"] == ASSIGNED
    assert client.get("/api/handoffs/999", headers=desk.bearer(desk.sam)).json() == {"error": "no handoff 999"}


def test_claim_one_wins_the_other_is_told_who(client, desk):
    handoff = desk.open_handoff()
    assert client.post(f"/api/handoffs/{handoff.id}/claim", headers=desk.bearer(desk.maya)).status_code == 200
    lost = client.post(f"/api/handoffs/{handoff.id}/claim", headers=desk.bearer(desk.sam))
    assert lost.status_code == 409 and lost.json() == {"error": "Maya already took this conversation"}
    again = client.post(f"/api/handoffs/{handoff.id}/claim", headers=desk.bearer(desk.maya))
    assert again.status_code == 200  # claiming your own conversation again is harmless


def test_two_agents_claiming_at_once_over_real_http(tmp_path):
    from tests.bot.web.conftest import RunningClock, make_desk

    desk = make_desk(tmp_path, RunningClock(OPEN))
    tokens = {"Maya": desk.token(desk.maya), "Sam": desk.token(desk.sam)}
    with LiveServer(desk.app) as server:
        for round_ in range(5):
            handoff = desk.open_handoff(f"race-{round_}")
            start = threading.Barrier(2)
            outcomes: dict = {}

            def claim(name: str) -> None:
                with httpx.Client(base_url=server.url, timeout=10) as http:
                    start.wait()
                    outcomes[name] = http.post(f"/api/handoffs/{handoff.id}/claim",
                                               headers={"Authorization": f"Bearer {tokens[name]}"})

            threads = [threading.Thread(target=claim, args=(name,)) for name in tokens]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            statuses = sorted(response.status_code for response in outcomes.values())
            assert statuses == [200, 409], {name: r.text for name, r in outcomes.items()}
            winner = next(name for name, response in outcomes.items() if response.status_code == 200)
            loser = next(response for response in outcomes.values() if response.status_code == 409)
            assert loser.json() == {"error": f"{winner} already took this conversation"}
            assert desk.service.handoff(handoff.id).agent_name == winner


def test_reply_notes_transfer_and_resolve(client, desk):
    handoff = desk.open_handoff()
    maya, sam = desk.bearer(desk.maya), desk.bearer(desk.sam)
    client.post(f"/api/handoffs/{handoff.id}/claim", headers=maya)
    sent = client.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "Hi Jane, I'm Maya."}, headers=maya).json()
    assert sent["author"] == "agent" and sent["delivered"] and sent["agent_name"] == "Maya"
    assert desk.gateway.sent == [("conv-1", "Hi Jane, I'm Maya.", "Maya")]
    refused = client.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "me too"}, headers=sam)
    assert refused.status_code == 403 and refused.json() == {"error": "Maya has this conversation"}
    note = client.post(f"/api/handoffs/{handoff.id}/notes", json={"text": "refund issued on the 3rd"}, headers=sam).json()
    assert note["author"] == "note" and note["agent_name"] == "Sam"
    assert len(desk.gateway.sent) == 1  # a note never reaches the customer

    moved = client.post(f"/api/handoffs/{handoff.id}/transfer", json={"to_agent_id": desk.sam.id, "note": "billing question"},
                        headers=maya).json()
    assert moved["state"] == ASSIGNED and moved["agent_name"] == "Sam"
    back = client.post(f"/api/handoffs/{handoff.id}/transfer", json={"to_agent_id": None}, headers=sam).json()
    assert back["state"] == WAITING and back["agent_id"] is None and back["position"] is None
    nobody = client.post(f"/api/handoffs/{handoff.id}/transfer", json={"to_agent_id": 999}, headers=sam)
    assert nobody.status_code == 403  # not theirs any more

    client.post(f"/api/handoffs/{handoff.id}/claim", headers=sam)
    resolved = client.post(f"/api/handoffs/{handoff.id}/resolve", headers=sam).json()
    assert resolved["state"] == RESOLVED and resolved["resolved_at"] == "2026-10-06T14:00:00+00:00"
    assert desk.gateway.handed_back == ["conv-1"]
    twice = client.post(f"/api/handoffs/{handoff.id}/resolve", headers=sam)
    # sent again by a desk that never saw the first answer: the same resolved handoff, nothing done twice
    assert twice.status_code == 200 and twice.json() == resolved and desk.gateway.handed_back == ["conv-1"]
    history = client.get(f"/api/handoffs/{handoff.id}", headers=sam).json()["history"]
    assert [e["kind"] for e in history] == ["created", "claimed", "transferred", "transferred", "claimed", "resolved", "handed_back"]


def test_abandon_closes_without_a_rating(client, desk):
    handoff = desk.open_handoff()
    closed = client.post(f"/api/handoffs/{handoff.id}/abandon", json={"detail": "no answer for 10 minutes"},
                         headers=desk.bearer(desk.maya)).json()
    assert closed["state"] == ABANDONED
    messages = client.get(f"/api/handoffs/{handoff.id}", headers=desk.bearer(desk.maya)).json()["messages"]
    assert messages[-1]["text"] == "Closed without an answer: no answer for 10 minutes"
    other = desk.open_handoff("conv-2")
    assert client.post(f"/api/handoffs/{other.id}/abandon", headers=desk.bearer(desk.maya)).json()["state"] == ABANDONED
    again = client.post(f"/api/handoffs/{other.id}/abandon", headers=desk.bearer(desk.maya))
    assert again.status_code == 409 and again.json() == {"error": "this conversation is already abandoned"}


def test_a_failed_delivery_is_saved_and_can_be_sent_again(client, desk):
    handoff = desk.open_handoff()
    maya = desk.bearer(desk.maya)
    client.post(f"/api/handoffs/{handoff.id}/claim", headers=maya)
    desk.gateway.fail = True
    failed = client.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "are you still there?"}, headers=maya)
    assert failed.status_code == 502
    body = failed.json()
    assert "could not reach the customer" in body["error"] and isinstance(body["message_id"], int)
    saved = client.get(f"/api/handoffs/{handoff.id}", headers=maya).json()["messages"][-1]
    assert saved["id"] == body["message_id"] and saved["delivered"] is False
    assert client.post(f"/api/messages/{body['message_id']}/retry", headers=maya).status_code == 502
    desk.gateway.fail = False
    assert client.post(f"/api/messages/{body['message_id']}/retry", headers=desk.bearer(desk.sam)).status_code == 403
    retried = client.post(f"/api/messages/{body['message_id']}/retry", headers=maya).json()
    assert retried["delivered"] is True and desk.gateway.sent == [("conv-1", "are you still there?", "Maya")]
    assert client.post("/api/messages/999/retry", headers=maya).status_code == 404


# --- tickets and colleagues ------------------------------------------------------------------------------

def test_offline_tickets_are_listed_and_closed(client, desk):
    ticket = desk.service.create_ticket(conversation_id="conv-9", channel="socketio", email="a@b.example",
                                        description="my speaker will not charge", reason=CUSTOMER_REQUEST,
                                        packet={"summary": "speaker will not charge"}, customer_name="Ann")
    maya = desk.bearer(desk.maya)
    listed = client.get("/api/tickets?state=open", headers=maya).json()["tickets"]
    assert [(t["id"], t["email"], t["reason_label"], t["packet"]["summary"]) for t in listed] == [
        (ticket.id, "a@b.example", "asked for a person", "speaker will not charge")]
    closed = client.post(f"/api/tickets/{ticket.id}/close", headers=maya).json()
    assert closed["state"] == "closed" and closed["closed_at"] == "2026-10-06T14:00:00+00:00"
    assert client.get("/api/tickets?state=open", headers=maya).json()["tickets"] == []
    assert len(client.get("/api/tickets", headers=maya).json()["tickets"]) == 1
    assert client.get("/api/tickets?state=maybe", headers=maya).status_code == 422
    assert client.post("/api/tickets/999/close", headers=maya).status_code == 404


def test_agents_online_are_the_recently_seen(client, desk):
    sam = desk.bearer(desk.sam)
    desk.service.clock.advance(minutes=5)
    desk.service.heartbeat(desk.maya)  # Maya's desk checked in; Sam's has not since he signed in
    online = client.get("/api/agents/online", headers=sam).json()["agents"]
    assert online == [{"id": desk.maya.id, "name": "Maya", "role": "agent"}]


# --- leads ----------------------------------------------------------------------------------------------------

def test_leads_manage_accounts(client, desk):
    lee = desk.bearer(desk.lee)
    created = client.post("/api/agents", json={"email": "kai@brightwave.example", "name": "Kai", "role": "agent",
                                               "password": PASSWORD}, headers=lee)
    assert created.status_code == 201 and created.json()["role"] == "agent"
    assert "password" not in created.text and "scrypt" not in created.text
    duplicate = client.post("/api/agents", json={"email": "KAI@brightwave.example", "name": "Kai", "role": "agent",
                                                 "password": PASSWORD}, headers=lee)
    assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]
    short = client.post("/api/agents", json={"email": "x@brightwave.example", "name": "X", "role": "agent", "password": "short"},
                        headers=lee)
    assert short.status_code == 400 and "at least 10" in short.json()["error"]
    bad_role = client.post("/api/agents", json={"email": "y@brightwave.example", "name": "Y", "role": "boss", "password": PASSWORD},
                           headers=lee)
    assert bad_role.status_code == 400
    names = [a["name"] for a in client.get("/api/agents", headers=lee).json()["agents"]]
    assert names == ["Kai", "Lee", "Maya", "Sam"]
    assert client.patch("/api/agents/999", json={"active": False}, headers=lee).status_code == 404


def test_handoff_report(client, desk):
    handoff = desk.open_handoff()
    desk.service.clock.advance(minutes=4)
    desk.service.claim(handoff.id, desk.maya)
    desk.service.clock.advance(minutes=10)
    desk.service.resolve(handoff.id, desk.maya)
    desk.service.record_csat("conv-1", 4)
    desk.service.create_ticket(conversation_id="conv-9", channel="socketio", email="a@b.example", description="help",
                               reason=CUSTOMER_REQUEST, packet={})
    report = client.get("/api/reports/handoffs?days=30", headers=desk.bearer(desk.lee)).json()
    assert report == {
        "days": 30, "handoffs": 1,
        "by_reason": [{"reason": CUSTOMER_REQUEST, "label": "asked for a person", "count": 1}],
        "by_state": [{"state": RESOLVED, "count": 1}],
        "median_wait_seconds": 240.0, "median_handling_seconds": 600.0,
        "csat_count": 1, "csat_average": 4.0,
        "csat_distribution": [{"rating": n, "count": 1 if n == 4 else 0} for n in range(1, 6)],
        "open_tickets": 1,
    }
    assert client.get("/api/reports/handoffs?days=0", headers=desk.bearer(desk.lee)).status_code == 422


TITLE = "Pair Wavelet Buds, Wavelet Buds Pro or Pulse 700 headphones"


def test_knowledge_report(client, desk):
    at = datetime(2026, 10, 6, 13, 0)
    for event in (KnowledgeEvent("c1", ANSWERED, "how do I pair my buds", at, "pair-headphones-and-earbuds", 0.8),
                  KnowledgeEvent("c1", RATED, "how do I pair my buds", at, "pair-headphones-and-earbuds", helpful=True),
                  KnowledgeEvent("c2", ANSWERED, "return window", at, "returns", 0.7),
                  KnowledgeEvent("c2", RATED, "return window", at, "returns", helpful=False),
                  KnowledgeEvent("c3", UNANSWERED, "Do you sell  fridges?", at),
                  KnowledgeEvent("c4", UNANSWERED, "do you sell  fridges?", at)):
        desk.insights.record(event)
    report = client.get("/api/reports/knowledge", headers=desk.bearer(desk.lee)).json()
    # titles and links come from the help centre's files; an article no longer there keeps only its id
    assert report["articles"] == [
        {"article_id": "pair-headphones-and-earbuds", "title": TITLE, "answers": 1, "helpful": 1, "not_helpful": 0,
         "url": "https://help.brightwave.example/articles/pair-headphones-and-earbuds"},
        {"article_id": "returns", "title": None, "url": None, "answers": 1, "helpful": 0, "not_helpful": 1}]
    assert report["unanswered"] == [{"question": "do you sell  fridges?", "count": 2}]
    assert report["summary"] == {"answers": 2, "rated": 2, "helpful_share": 0.5}


# --- bad requests get clear answers, never a stack trace -------------------------------------------------------

def test_malformed_json_is_a_clear_400(client, desk):
    handoff = desk.open_handoff()
    response = client.post(f"/api/handoffs/{handoff.id}/notes", content=b'{"text": "unfinished',
                            headers={**desk.bearer(desk.maya), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {"error": "the request body is not valid JSON"}


def test_invalid_bodies_say_which_field(client, desk):
    handoff = desk.open_handoff()
    maya = desk.bearer(desk.maya)
    long = client.post(f"/api/handoffs/{handoff.id}/notes", json={"text": "x" * 5001}, headers=maya)
    assert long.status_code == 422
    assert long.json() == {"error": "text: ensure this value has at most 5000 characters",
                           "details": ["text: ensure this value has at most 5000 characters"]}
    missing = client.post(f"/api/handoffs/{handoff.id}/notes", json={}, headers=maya)
    assert missing.status_code == 422 and missing.json()["error"] == "text: field required"
    extra = client.post(f"/api/handoffs/{handoff.id}/notes", json={"text": "hi", "html": "<b>"}, headers=maya)
    assert extra.status_code == 422 and extra.json()["error"] == "html: extra fields not permitted"
    no_body = client.post(f"/api/handoffs/{handoff.id}/notes", headers=maya)
    assert no_body.status_code == 422 and no_body.json()["error"] == "the request needs a JSON body"
    empty = client.post(f"/api/handoffs/{handoff.id}/notes", json={"text": "   "}, headers=maya)
    assert empty.status_code == 400 and empty.json() == {"error": "the message is empty"}
    not_a_number = client.get("/api/handoffs/abc", headers=maya)
    assert not_a_number.status_code == 422 and not_a_number.json()["error"].startswith("handoff_id:")


def test_oversized_bodies_are_refused_before_parsing(client, desk):
    response = client.post("/api/handoffs/1/notes", content=b'{"text": "' + b"x" * 70000 + b'"}',
                           headers={**desk.bearer(desk.maya), "Content-Type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]


def test_unexpected_errors_are_logged_not_shown(client, desk, monkeypatch, caplog):
    def broken():
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(desk.service, "queue", broken)
    with caplog.at_level(logging.ERROR, logger="bot.web.app"):
        response = client.get("/api/queue", headers=desk.bearer(desk.maya))
    assert response.status_code == 500 and response.json() == {"error": GENERIC_ERROR}
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "hunter2" in caplog.text  # the operator sees the cause


def test_unknown_api_routes_answer_json(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


# --- what the browser gets ------------------------------------------------------------------------------------------

def test_security_headers_on_pages_and_api(client):
    page = client.get("/desk/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert client.get("/api/me").headers["cache-control"] == "no-store"
    assert client.get("/", follow_redirects=False).headers["location"] == "/desk/"


def test_the_desk_has_no_inline_scripts_or_html_injection(client):
    page = client.get("/desk/").text
    assert page.count("<script") == page.count('<script src="') == 1
    assert re.search(r"<[^>]*\son[a-z]+\s*=", page) is None  # no inline event handlers
    script = client.get("/desk/desk.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script.text, sink
    assert client.get("/desk/desk.css").status_code == 200


def test_the_knowledge_pages_have_no_inline_scripts_or_html_injection(client):
    page = client.get("/desk/knowledge/").text
    assert "<title>Knowledge workspace</title>" in page
    assert page.count("<script") == page.count('<script src="') == 1
    assert re.search(r"<[^>]*\son[a-z]+\s*=", page) is None
    for path in ("/desk/knowledge/knowledge.js", "/desk/common.js"):
        script = client.get(path)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in script.text, (path, sink)
    editor = client.get("/desk/vendor/editor.js")  # CodeMirror, built by `make editor`, served from here (no CDN)
    assert editor.status_code == 200 and "createEditor" in editor.text
    assert client.get("/desk/knowledge/knowledge.css").status_code == 200


@pytest.mark.parametrize("method, path, body", [
    ("get", "/api/handoffs/176132504772720590848", None),
    ("post", "/api/handoffs/75977391099478556271408005882348306432/notes", {"text": "x"}),
    ("post", "/api/messages/176132504772720590848/retry", None),
    ("patch", "/api/agents/390118313984711852032", {"active": False}),
    ("post", "/api/kb/gaps/33460294705242222592/dismiss", {"dismissed": True}),
    ("get", "/api/kb/revisions/0", None),
    ("post", "/api/handoffs/1/transfer", {"to_agent_id": 2**70}),
])
def test_ids_beyond_64_bits_are_refused_before_the_database(client, desk, method, path, body):
    # found by the reliability battery: these reached SQLite, which overflowed (500)
    answer = getattr(client, method)(path, headers=desk.bearer(desk.lee), **({"json": body} if body is not None else {}))
    assert answer.status_code == 422 and answer.json()["error"]


def test_a_database_that_refuses_writes_is_a_clear_503_with_the_cause_in_the_log(client, desk, monkeypatch, caplog):
    """Found by the reliability battery's disk part: SQLite's "database or disk is full" was a bare 500."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from bot.web.app import STORAGE_UNAVAILABLE

    handoff = desk.open_handoff()
    maya = desk.bearer(desk.maya)
    client.post(f"/api/handoffs/{handoff.id}/claim", headers=maya)

    def full(*args, **kwargs):
        raise OperationalError("INSERT INTO handoff_messages ...", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(desk.service, "reply", full)
    with caplog.at_level(logging.ERROR):
        refused = client.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "Hi Jane"}, headers=maya)
    assert refused.status_code == 503 and refused.json()["error"] == STORAGE_UNAVAILABLE
    assert "database or disk is full" in caplog.text and "INSERT" not in refused.text
    monkeypatch.undo()
    assert client.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "Hi Jane"}, headers=maya).status_code == 200
