"""The committed OpenAPI document (docs/openapi.json) is what the app serves, so API changes show up in review."""
from __future__ import annotations

import json

from bot.web.openapi import DOCUMENT, render


def test_the_committed_document_is_up_to_date():
    assert DOCUMENT.exists(), "docs/openapi.json is missing: run .venv/bin/python -m bot.web.openapi"
    assert json.loads(DOCUMENT.read_text(encoding="utf-8")) == json.loads(render()), \
        "the API changed: run .venv/bin/python -m bot.web.openapi and commit docs/openapi.json"


def test_the_app_serves_the_same_document(client):
    assert client.get("/api/openapi.json").json() == json.loads(render())


def test_every_route_but_sign_in_and_health_needs_the_token_or_the_cookie():
    document = json.loads(render())
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]}
    assert schemes["session"]["in"] == "cookie"
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if path in ("/healthz", "/api/auth/login", "/api/brand"):  # /api/brand: the company's public brand
                assert "security" not in operation
            else:
                assert operation["security"] == [{"bearer": []}, {"session": []}], (method, path)
