"""The store's rules for returns, cancellations and address changes (see docs/demo-store.md)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from bot.store.models import Order, OrderStatus

RETURN_WINDOW_DAYS = 30
DAMAGE_REPORT_DAYS = 14


@dataclass(frozen=True)
class ReturnDecision:
    allowed: bool
    # why, as a code the dialogue turns into words: "ok", "not_shipped", "in_transit",
    # "window_closed", "already_returned", "cancelled"
    reason: str
    deadline: Optional[date] = None


def return_deadline(delivered: date) -> date:
    """30 days from delivery; items delivered Nov 1 – Dec 24 may come back until Jan 31."""
    deadline = delivered + timedelta(days=RETURN_WINDOW_DAYS)
    if date(delivered.year, 11, 1) <= delivered <= date(delivered.year, 12, 24):
        deadline = max(deadline, date(delivered.year + 1, 1, 31))
    return deadline


def return_decision(order: Order, now: datetime) -> ReturnDecision:
    """May this order's items be returned or exchanged today?"""
    if order.status is OrderStatus.PROCESSING:
        return ReturnDecision(False, "not_shipped")
    if order.status is OrderStatus.SHIPPED:
        return ReturnDecision(False, "in_transit")
    if order.status is OrderStatus.CANCELLED:
        return ReturnDecision(False, "cancelled")
    if order.status is OrderStatus.RETURNED:
        return ReturnDecision(False, "already_returned")
    assert order.delivered_at is not None, f"delivered order {order.number} has no delivery date"
    deadline = return_deadline(order.delivered_at.date())
    if now.date() > deadline:
        return ReturnDecision(False, "window_closed", deadline)
    return ReturnDecision(True, "ok", deadline)


def can_cancel(order: Order) -> bool:
    """Orders can be cancelled until they ship."""
    return order.status is OrderStatus.PROCESSING


def can_change_address(order: Order) -> bool:
    """The delivery address can change until the order ships."""
    return order.status is OrderStatus.PROCESSING
