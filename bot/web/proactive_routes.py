"""The store's side of proactive messages: `POST /api/store/events`, which a shop calls when an order ships, is
delayed, is delivered or is refunded; the assistant then tells the customer (bot/proactive/service.py).

The route takes the store's own credential, not a desk session: `Authorization: Bearer <STORE_API_TOKEN>` (from the
environment, or generated into the secrets folder), compared in constant time. Like the widget's routes it is not in
the desk's OpenAPI document, whose every operation takes a desk session; docs/proactive.md documents it.
A store that sends its event again (after a timeout) with the same `event_id` gets the first answer, and the
customer hears it once.
"""
from __future__ import annotations

import hmac
from datetime import date, datetime, timezone
from typing import Literal, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.proactive.models import ORDER_EVENTS, OrderEvent, ProactiveMessage
from bot.proactive.service import ProactiveService
from bot.web.security import refuse

EventKind = Literal[ORDER_EVENTS]  # type: ignore[valid-type]  # Literal of a tuple: each of its names


class StoreEvent(BaseModel):
    order_number: str = Field(..., regex=r"^\d{6}$", description="the order's six-digit number")
    event: EventKind  # type: ignore[valid-type]
    event_id: Optional[str] = Field(None, min_length=1, max_length=128, regex=r"^[A-Za-z0-9._:-]+$",
                                    description="the store's id of the event: sent again, it is recorded and told once")
    at: Optional[datetime] = Field(None, description="when it happened (default: now)")
    carrier: Optional[str] = Field(None, max_length=32)
    tracking_number: Optional[str] = Field(None, max_length=64, regex=r"^[A-Za-z0-9-]+$")
    estimated_delivery: Optional[date] = None
    amount_cents: Optional[int] = Field(None, ge=1, le=10**9, description="refund_issued: the amount given back")


def message_out(message: ProactiveMessage) -> dict:
    return {"message_id": message.id, "order_number": message.order_number, "event": message.kind, "state": message.state,
            "due_at": message.due_at.replace(tzinfo=timezone.utc).isoformat(), "detail": message.detail}


def add_proactive_routes(app: FastAPI, proactive: ProactiveService, token: str) -> None:
    expected = f"Bearer {token}".encode()

    def check(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        # compare_digest: the answer time does not tell how much of a guessed token was right
        if not token or not hmac.compare_digest(given, expected):
            raise refuse(401, "the store's token (Authorization: Bearer <STORE_API_TOKEN>) is missing or wrong")

    # a dependency runs before the body is read: a caller without the token learns nothing about what the body needs
    @app.post("/api/store/events", include_in_schema=False, status_code=202, dependencies=[Depends(check)])
    def store_event(body: StoreEvent) -> JSONResponse:
        at = body.at.astimezone(timezone.utc).replace(tzinfo=None) if body.at and body.at.tzinfo else body.at
        message = proactive.announce(OrderEvent(order_number=body.order_number, kind=body.event, at=at or proactive.clock(),
                                                carrier=body.carrier, tracking_number=body.tracking_number,
                                                estimated_delivery=body.estimated_delivery, amount_cents=body.amount_cents,
                                                source_key=f"store:{body.event_id}" if body.event_id else None))
        return JSONResponse(message_out(message), status_code=202)
