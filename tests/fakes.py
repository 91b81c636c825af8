"""Test doubles behind the product's Protocols (the contract tests hold them to the real thing)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Dict, List, Optional

from bot.store.models import Address, Customer, Order, OrderStatus, Refund, ReturnAuthorisation


class InMemoryCustomerDirectory:
    """A `CustomerDirectory` in dictionaries."""

    def __init__(self) -> None:
        self.customers: Dict[str, Customer] = {}
        self.orders: Dict[str, Order] = {}
        self.returns: List[ReturnAuthorisation] = []
        self.refunds: List[Refund] = []

    def insert(self, customers, orders) -> None:  # noqa: ANN001 - mirrors SqlCustomerDirectory
        self.customers.update({c.id: c for c in customers})
        self.orders.update({o.number: o for o in orders})

    def create_schema(self) -> None:
        pass

    def is_empty(self) -> bool:
        return not self.customers

    def get_customer(self, customer_id: str) -> Optional[Customer]:
        return self.customers.get(customer_id)

    def find_customer_by_email(self, email: str) -> Optional[Customer]:
        return next((c for c in self.customers.values() if c.email.lower() == email.strip().lower()), None)

    def get_order(self, number: str) -> Optional[Order]:
        return self.orders.get(number)

    def orders_for_customer(self, customer_id: str) -> List[Order]:
        mine = [o for o in self.orders.values() if o.customer_id == customer_id]
        return sorted(mine, key=lambda o: o.placed_at, reverse=True)

    def set_status(self, number: str, status: OrderStatus, at: datetime) -> None:
        order = self.orders[number]
        self.orders[number] = replace(
            order, status=status, cancelled_at=at if status is OrderStatus.CANCELLED else order.cancelled_at
        )

    def set_shipping_address(self, number: str, address: Address) -> None:
        self.orders[number] = replace(self.orders[number], shipping_address=address)

    def add_return(self, authorisation: ReturnAuthorisation) -> None:
        self.returns.append(authorisation)

    def returns_for_order(self, number: str) -> List[ReturnAuthorisation]:
        return sorted((r for r in self.returns if r.order_number == number), key=lambda r: r.created_at)

    def add_refund(self, refund: Refund) -> None:
        self.refunds.append(refund)

    def refunds_for_order(self, number: str) -> List[Refund]:
        return sorted((r for r in self.refunds if r.order_number == number), key=lambda r: r.created_at)


class RecordingGateway:
    """A `ConversationGateway` that records what would reach the conversation; `fail` makes it unreachable."""

    def __init__(self) -> None:
        self.sent: List[tuple] = []
        self.handed_back: List[str] = []
        self.fail = False

    def send_agent_message(self, conversation_id: str, text: str, agent_name: str, delivery_id: str) -> None:
        self._check()
        self.sent.append((conversation_id, text, agent_name))

    def hand_back(self, conversation_id: str, delivery_id: str) -> None:
        self._check()
        self.handed_back.append(conversation_id)

    def transcript(self, conversation_id: str) -> List[dict]:
        self._check()
        return []

    def _check(self) -> None:
        from bot.handoff.rasa_gateway import GatewayError

        if self.fail:
            raise GatewayError("the conversation server is unreachable (test)")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.now += timedelta(**delta)
        return self.now
