"""`POST /api/store/events`: the store's token only, each event told once, the errors a store can act on."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.web.app import create_app
from tests.bot.proactive.conftest import make_setup
from tests.bot.web.conftest import make_desk
from tests.fakes import Clock

TOKEN = "store-secret-token"
SHIPPED = {"order_number": "104512", "event": "shipped", "event_id": "evt-1", "carrier": "UPS",
           "tracking_number": "1Z999AA10123456784", "estimated_delivery": "2026-10-09"}


@pytest.fixture
def store_api(tmp_path):
    (tmp_path / "proactive").mkdir()
    setup = make_setup(tmp_path / "proactive")
    desk = make_desk(tmp_path, Clock(setup.clock()))
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", "IDENTITY_SECRET": "s",
                                  "STORE_API_TOKEN": TOKEN})
    app = create_app(desk.service, desk.insights, settings, proactive=setup.service)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, setup, desk


def post(client, body, token=TOKEN, scheme="Bearer"):
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return client.post("/api/store/events", json=body, headers=headers)


def test_the_store_announces_an_event_and_the_customer_is_told(store_api):
    client, setup, _ = store_api
    setup.service.note_contact("C1001", "web-jane")
    answer = post(client, SHIPPED)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["state"] == "sent" and body["order_number"] == "104512" and body["event"] == "shipped"
    assert setup.gateway.triggered == [("web-jane", setup.service.store.message(body["message_id"]).delivery_id)]


def test_an_event_sent_again_is_told_once(store_api):
    client, setup, _ = store_api
    setup.service.note_contact("C1001", "web-jane")
    first, again = post(client, SHIPPED).json(), post(client, SHIPPED).json()
    assert first["message_id"] == again["message_id"] and len(setup.gateway.triggered) == 1
    other = post(client, {**SHIPPED, "event_id": "evt-2", "event": "delayed", "estimated_delivery": "2026-10-12"})
    assert other.json()["message_id"] != first["message_id"] and len(setup.gateway.triggered) == 2


@pytest.mark.parametrize("token,scheme", [(None, "Bearer"), ("wrong", "Bearer"), (TOKEN[:-1], "Bearer"), (TOKEN + "x", "Bearer"),
                                          (TOKEN, "Basic"), ("", "Bearer")])
def test_anything_but_the_stores_token_is_refused_before_the_body_is_read(store_api, token, scheme):
    client, setup, _ = store_api
    setup.service.note_contact("C1001", "web-jane")
    for body in (SHIPPED, {"nonsense": True}):
        answer = post(client, body, token, scheme)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert "STORE_API_TOKEN" in answer.json()["error"]
    assert setup.gateway.triggered == [] and setup.service.store.messages_for_order("104512") == []


def test_a_desk_session_is_not_the_stores_token(store_api):
    client, _, desk = store_api
    assert post(client, SHIPPED, desk.token(desk.lee)).status_code == 401


def test_an_unknown_order_or_event_is_refused_with_the_reason(store_api):
    client, _, _ = store_api
    missing = post(client, {**SHIPPED, "order_number": "999999"})
    assert missing.status_code == 404 and "999999" in missing.json()["error"]
    for bad in ({**SHIPPED, "event": "exploded"}, {**SHIPPED, "order_number": "10451"}, {**SHIPPED, "amount_cents": 0},
                {**SHIPPED, "tracking_number": "<script>"}):
        assert post(client, bad).status_code == 422, bad


def test_the_route_is_not_in_the_desks_api_document(store_api):
    client, _, _ = store_api
    assert "/api/store/events" not in client.get("/api/openapi.json").json()["paths"]
