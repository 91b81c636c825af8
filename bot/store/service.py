"""What the assistant can do with orders, with identity checked before anything is revealed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, List, Optional, Tuple

from bot.errors import NotAllowed, NotFound
from bot.store.directory import CustomerDirectory
from bot.store.guessing import GuessingLimiter, MemoryGuessingLimiter
from bot.store.models import (
    Address,
    Customer,
    Order,
    OrderStatus,
    Refund,
    ReturnAuthorisation,
)
from bot.store.policies import ReturnDecision, can_cancel, can_change_address, return_decision

ORDER_NUMBER = re.compile(r"^#?\s*(\d{6})$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# "12 Oak Street, Springfield, IL 62704" (an apartment may follow the street after a comma)
US_ADDRESS = re.compile(
    r"^\s*(?P<line1>\d+[^,]*?(?:,\s*(?:apt|apartment|unit|suite|ste|#)[^,]*)?)\s*,\s*"
    r"(?P<city>[A-Za-z .'-]+?)\s*,\s*(?P<state>[A-Za-z]{2})\.?\s+(?P<zip>\d{5}(?:-\d{4})?)\s*$",
    re.IGNORECASE,
)


class OrderNotFound(NotFound):
    """No such order, or not one the verified customer owns (the two are not told apart)."""


class IdentityMismatch(NotAllowed):
    """The email given does not belong to the order's customer."""


class VerificationRequired(NotAllowed):
    """Neither an email nor a verified identity was given."""


class TooManyAttempts(NotAllowed):
    """Too many wrong emails for this order, or wrong orders for this email, lately (bot/store/guessing.py)."""


class ActionNotAllowed(NotAllowed):
    """The rules do not allow this for the order's status; `reason` says why."""

    def __init__(self, reason: str, order: Order) -> None:
        super().__init__(f"order {order.number}: {reason}")
        self.reason = reason
        self.order = order


def normalise_order_number(text: str) -> Optional[str]:
    """'#104512', ' 104512 ' -> '104512'; anything else -> None."""
    match = ORDER_NUMBER.match(text.strip()) if text else None
    return match.group(1) if match else None


def normalise_email(text: str) -> Optional[str]:
    text = (text or "").strip().strip(".,;").lower()
    return text if EMAIL.match(text) else None


def parse_address(text: str, name: str) -> Optional[Address]:
    """Parse a one-line US address; None when it does not look like one."""
    match = US_ADDRESS.match(text or "")
    if not match:
        return None
    return Address(
        name=name,
        line1=match.group("line1").strip(),
        city=match.group("city").strip().title(),
        state=match.group("state").upper(),
        postal_code=match.group("zip"),
    )


@dataclass(frozen=True)
class RefundSummary:
    order: Order
    returns: Tuple[ReturnAuthorisation, ...]
    refunds: Tuple[Refund, ...]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class OrderService:
    """Order look-ups and changes for the dialogue; every method takes an already verified order."""

    def __init__(self, directory: CustomerDirectory, clock: Callable[[], datetime] = utcnow,
                 guessing: Optional[GuessingLimiter] = None) -> None:
        self._directory = directory
        self._clock = clock
        self._guessing = guessing or MemoryGuessingLimiter()

    def customer(self, customer_id: str) -> Optional[Customer]:
        return self._directory.get_customer(customer_id)

    def verify(
        self, order_number: str, *, email: Optional[str] = None, customer_id: Optional[str] = None
    ) -> Order:
        """Return the order if the caller proved they own it: a verified customer id, or the order's email."""
        number = normalise_order_number(order_number)
        order = self._directory.get_order(number) if number else None
        if order is None:
            raise OrderNotFound(f"no order {order_number!r}")
        if customer_id is not None:
            if order.customer_id != customer_id:
                raise OrderNotFound(f"order {number} does not belong to customer {customer_id}")
            return order
        if not email:
            raise VerificationRequired(f"order {number}: no email or verified identity")
        now = self._clock()
        if self._guessing.blocked(email, number, now):
            raise TooManyAttempts(f"order {number}: too many failed verifications for this email or order lately")
        owner = self._directory.get_customer(order.customer_id)
        if owner is None or owner.email.lower() != email.strip().lower():
            self._guessing.failed(email, number, now)
            raise IdentityMismatch(f"order {number}: email does not match")
        return order

    def order_exists(self, order_number: str) -> bool:
        number = normalise_order_number(order_number)
        return bool(number) and self._directory.get_order(number) is not None

    def recent_orders(self, customer_id: str, limit: int = 5) -> List[Order]:
        return self._directory.orders_for_customer(customer_id)[:limit]

    def return_decision(self, order: Order) -> ReturnDecision:
        return return_decision(order, self._clock())

    def cancel(self, order: Order) -> Order:
        if not can_cancel(order):
            raise ActionNotAllowed(f"cannot_cancel_{order.status.value}", order)
        self._directory.set_status(order.number, OrderStatus.CANCELLED, self._clock())
        # Cards are charged at shipping, so a cancelled order only has a hold to release.
        self._directory.add_refund(
            Refund(
                order_number=order.number,
                amount_cents=order.total_cents,
                method=order.payment_method,
                status="issued",
                created_at=self._clock(),
                issued_at=self._clock(),
            )
        )
        return self._reload(order)

    def change_address(self, order: Order, address: Address) -> Order:
        if not can_change_address(order):
            raise ActionNotAllowed(f"cannot_change_address_{order.status.value}", order)
        self._directory.set_shipping_address(order.number, address)
        return self._reload(order)

    def start_return(self, order: Order, sku: str, kind: str, reason: str) -> ReturnAuthorisation:
        """Create a return authorisation (refund or exchange) for one line of a returnable order."""
        decision = self.return_decision(order)
        if not decision.allowed:
            raise ActionNotAllowed(decision.reason, order)
        item = order.item(sku)
        if item is None:
            raise OrderNotFound(f"order {order.number} has no item {sku}")
        if kind not in ("refund", "exchange"):
            raise ValueError(f"unknown return kind {kind!r}")
        existing = self._directory.returns_for_order(order.number)
        if any(ra.sku == sku for ra in existing):
            raise ActionNotAllowed("already_started", order)
        authorisation = ReturnAuthorisation(
            number=f"RA-{order.number}-{len(existing) + 1}",
            order_number=order.number,
            sku=sku,
            product=item.product,
            kind=kind,
            reason=reason,
            created_at=self._clock(),
            status="label_sent",
        )
        self._directory.add_return(authorisation)
        if kind == "refund":
            self._directory.add_refund(
                Refund(
                    order_number=order.number,
                    amount_cents=item.unit_price_cents * item.quantity,
                    method=order.payment_method,
                    status="pending",
                    created_at=self._clock(),
                )
            )
        return authorisation

    def refund_summary(self, order: Order) -> RefundSummary:
        return RefundSummary(
            order=order,
            returns=tuple(self._directory.returns_for_order(order.number)),
            refunds=tuple(self._directory.refunds_for_order(order.number)),
        )

    def _reload(self, order: Order) -> Order:
        fresh = self._directory.get_order(order.number)
        assert fresh is not None
        return fresh
