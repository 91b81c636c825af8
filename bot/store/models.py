"""Records of the store. Frozen dataclasses: services return them, nobody mutates them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Optional, Tuple


class OrderStatus(str, Enum):
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Customer:
    id: str
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    state: str
    postal_code: str

    def one_line(self) -> str:
        return f"{self.line1}, {self.city}, {self.state} {self.postal_code}"


@dataclass(frozen=True)
class OrderItem:
    sku: str
    product: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    number: str
    customer_id: str
    status: OrderStatus
    placed_at: datetime
    items: Tuple[OrderItem, ...]
    total_cents: int
    payment_method: str
    shipping_method: str
    shipping_address: Address
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    shipped_at: Optional[datetime] = None
    estimated_delivery: Optional[date] = None
    delivered_at: Optional[datetime] = None
    cancelled_at: Optional[datetime] = None

    def item(self, sku: str) -> Optional[OrderItem]:
        return next((item for item in self.items if item.sku == sku), None)


@dataclass(frozen=True)
class ReturnAuthorisation:
    number: str
    order_number: str
    sku: str
    product: str
    kind: str  # "refund" or "exchange"
    reason: str
    created_at: datetime
    status: str  # "label_sent", "in_transit", "received"


@dataclass(frozen=True)
class Refund:
    order_number: str
    amount_cents: int
    method: str
    status: str  # "pending" (waiting for the item or the bank) or "issued"
    created_at: datetime
    issued_at: Optional[datetime] = None


def money(cents: int) -> str:
    """Format cents as US dollars, e.g. 12999 -> '$129.99'."""
    return f"${cents / 100:,.2f}"
