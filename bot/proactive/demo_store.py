"""The demo store's back office: what `bot store ship|delay|deliver|refund ORDER` changes in the demo store's tables.

A real shop changes its own data and calls the web app's `POST /api/store/events` (bot/web/proactive_routes.py);
the demo store has no back office of its own, so these commands play that part: they change the order in the demo
store's database (the assistant's answers then agree with the message) and return the event to announce.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Optional

import sqlalchemy as sa

from bot.errors import NotAllowed, NotFound
from bot.proactive.models import DELAYED, DELIVERED, REFUND_ISSUED, SHIPPED, OrderEvent
from bot.store.directory import SqlCustomerDirectory, create_engine, orders, refunds
from bot.store.models import OrderStatus, Refund


class DemoStore:
    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine
        self.directory = SqlCustomerDirectory(engine)

    @classmethod
    def from_url(cls, url: str) -> "DemoStore":
        return cls(create_engine(url))

    def _order(self, number: str):  # noqa: ANN202 - an Order
        order = self.directory.get_order(number)
        if order is None:
            raise NotFound(f"no order {number} in the demo store")
        return order

    def _set(self, number: str, **values: object) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(orders).where(orders.c.number == number).values(**values))

    def ship(self, number: str, at: datetime, carrier: str = "UPS", tracking_number: Optional[str] = None,
             estimated_delivery: Optional[date] = None) -> OrderEvent:
        order = self._order(number)
        if order.status is not OrderStatus.PROCESSING:
            raise NotAllowed(f"order {number} is {order.status.value}; only a processing order ships")
        tracking_number = tracking_number or f"1Z999AA1{random.randint(10**9, 10**10 - 1)}"
        estimated_delivery = estimated_delivery or (at + timedelta(days=3)).date()
        self._set(number, status=OrderStatus.SHIPPED.value, carrier=carrier, tracking_number=tracking_number, shipped_at=at,
                  estimated_delivery=estimated_delivery)
        return OrderEvent(number, SHIPPED, at, carrier=carrier, tracking_number=tracking_number, estimated_delivery=estimated_delivery)

    def delay(self, number: str, at: datetime, estimated_delivery: Optional[date] = None) -> OrderEvent:
        order = self._order(number)
        if order.status is not OrderStatus.SHIPPED:
            raise NotAllowed(f"order {number} is {order.status.value}; only a shipped order can be delayed")
        estimated_delivery = estimated_delivery or max(order.estimated_delivery or at.date(), at.date()) + timedelta(days=2)
        self._set(number, estimated_delivery=estimated_delivery)
        return OrderEvent(number, DELAYED, at, carrier=order.carrier, tracking_number=order.tracking_number,
                          estimated_delivery=estimated_delivery)

    def deliver(self, number: str, at: datetime) -> OrderEvent:
        order = self._order(number)
        if order.status is not OrderStatus.SHIPPED:
            raise NotAllowed(f"order {number} is {order.status.value}; only a shipped order is delivered")
        self._set(number, status=OrderStatus.DELIVERED.value, delivered_at=at)
        return OrderEvent(number, DELIVERED, at, carrier=order.carrier, tracking_number=order.tracking_number)

    def refund(self, number: str, at: datetime, amount_cents: Optional[int] = None) -> OrderEvent:
        """Issue the order's pending refunds, or a new one of `amount_cents` (the whole order when there is none)."""
        order = self._order(number)
        with self._engine.begin() as conn:
            pending = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount_cents), 0))
                                   .where(refunds.c.order_number == number, refunds.c.status == "pending")).scalar_one()
            if pending and amount_cents is None:
                conn.execute(sa.update(refunds).where(refunds.c.order_number == number, refunds.c.status == "pending")
                             .values(status="issued", issued_at=at))
                amount_cents = int(pending)
        if amount_cents is None or not pending:
            amount_cents = amount_cents or order.total_cents
            self.directory.add_refund(Refund(order_number=number, amount_cents=amount_cents, method=order.payment_method,
                                             status="issued", created_at=at, issued_at=at))
        return OrderEvent(number, REFUND_ISSUED, at, amount_cents=amount_cents)
