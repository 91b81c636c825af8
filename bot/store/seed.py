"""Seed data of the demo store, with dates relative to the moment of seeding.

Each order exists to show one situation (in transit, returnable, past the return window,
cancellable, refunded, ...); the comments say which. Tests rely on these numbers.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Tuple

from bot.store.catalogue import PRODUCTS
from bot.store.directory import SqlCustomerDirectory
from bot.store.models import (
    Address,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Refund,
    ReturnAuthorisation,
)

CUSTOMERS = [
    Customer("C1001", "Jane", "Doe", "jane.doe@example.com"),
    Customer("C1002", "Sam", "Patel", "sam.patel@example.com"),
    Customer("C1003", "Maria", "Garcia", "maria.garcia@example.com"),
    Customer("C1004", "Wei", "Chen", "wei.chen@example.com"),
    Customer("C1005", "Aisha", "Okafor", "aisha.okafor@example.com"),
    Customer("C1006", "Lucas", "Martin", "lucas.martin@example.com"),
    Customer("C1007", "Priya", "Nair", "priya.nair@example.com"),
    Customer("C1008", "Tom", "Becker", "tom.becker@example.com"),
]

ADDRESSES = {
    "C1001": Address("Jane Doe", "12 Oak Street", "Springfield", "IL", "62704"),
    "C1002": Address("Sam Patel", "480 Mission Street, Apt 5", "San Francisco", "CA", "94105"),
    "C1003": Address("Maria Garcia", "77 Elm Avenue", "Austin", "TX", "78701"),
    "C1004": Address("Wei Chen", "9 Harbor Road", "Seattle", "WA", "98101"),
    "C1005": Address("Aisha Okafor", "301 Peachtree Lane", "Atlanta", "GA", "30303"),
    "C1006": Address("Lucas Martin", "56 Maple Drive", "Denver", "CO", "80202"),
    "C1007": Address("Priya Nair", "1400 Lake Shore Drive", "Chicago", "IL", "60610"),
    "C1008": Address("Tom Becker", "23 Pine Court", "Portland", "OR", "97205"),
}

PAYMENT = {
    "C1001": "Visa ending 4242",
    "C1002": "Mastercard ending 5454",
    "C1003": "PayPal",
    "C1004": "American Express ending 1005",
    "C1005": "Apple Pay",
    "C1006": "Visa ending 1881",
    "C1007": "Klarna",
    "C1008": "Discover ending 6011",
}

# number, customer, status, days since placed, [(sku, qty)], shipping method, carrier, tracking,
# days since shipped, days since delivered
_ORDERS = [
    # in transit, arriving soon
    ("104512", "C1001", "shipped", 3, [("BW-P700", 1)], "Standard", "UPS", "1Z999AA10123456784", 2, None),
    # delivered 10 days ago, two items: returnable
    ("103877", "C1001", "delivered", 16, [("BW-WBP", 1), ("BW-CABLE2", 2)], "Standard", "UPS", "1Z999AA10123451111", 14, 10),
    # delivered 150 days ago: return window closed whatever today is (warranty applies)
    ("102250", "C1001", "delivered", 155, [("BW-OWS2", 1)], "Express", "FedEx", "612999999999", 153, 150),
    # still processing: cancellable, address can change
    ("105001", "C1002", "processing", 0, [("BW-NT10", 1)], "Standard", None, None, None, None),
    # returned, refund issued
    ("101932", "C1002", "returned", 45, [("BW-BOOM", 1)], "Standard", "USPS", "9400111899223456789012", 44, 40),
    # processing, several items
    ("105120", "C1003", "processing", 1, [("BW-CAM2K", 2), ("BW-HUB", 1)], "Express", None, None, None, None),
    # cancelled before shipping
    ("100777", "C1003", "cancelled", 22, [("BW-PC65", 1)], "Standard", None, None, None, None),
    # delivered 3 days ago, expensive: returnable
    ("104090", "C1004", "delivered", 7, [("BW-BBA14", 1)], "Next Day", "FedEx", "612999999988", 4, 3),
    # shipped express
    ("104633", "C1004", "shipped", 2, [("BW-VDOCK", 1)], "Express", "FedEx", "612999999977", 1, None),
    # delivered 25 days ago: returnable for a few more days
    ("103300", "C1005", "delivered", 29, [("BW-HALO", 1)], "Standard", "UPS", "1Z999AA10123452222", 27, 25),
    # processing
    ("105233", "C1005", "processing", 0, [("BW-GLOW2", 2), ("BW-VDOCK", 1)], "Standard", None, None, None, None),
    # delivered 40 days ago: window closed
    ("102871", "C1006", "delivered", 46, [("BW-PC65", 1)], "Standard", "USPS", "9400111899223456780000", 44, 40),
    # delivered 6 days ago, return already started (label sent), refund pending
    ("104777", "C1006", "delivered", 12, [("BW-P300", 1)], "Standard", "UPS", "1Z999AA10123453333", 9, 6),
    # processing
    ("105310", "C1007", "processing", 1, [("BW-OBAND", 1)], "Standard", None, None, None, None),
    # returned and received at the warehouse yesterday: refund pending
    ("103512", "C1007", "returned", 30, [("BW-WB1", 1)], "Standard", "USPS", "9400111899223456781111", 29, 26),
    # shipped by USPS
    ("104901", "C1008", "shipped", 4, [("BW-WB1", 1)], "Standard", "USPS", "9400111899223456782222", 3, None),
    # delivered 2 days ago
    ("104955", "C1008", "delivered", 6, [("BW-OWS2", 1)], "Express", "UPS", "1Z999AA10123454444", 4, 2),
]


def demo_data(now: datetime) -> Tuple[List[Customer], List[Order], List[ReturnAuthorisation], List[Refund]]:
    """The demo customers, orders, returns and refunds, dated relative to `now`."""
    day = now.replace(hour=14, minute=0, second=0, microsecond=0)
    orders: List[Order] = []
    for number, customer_id, status, placed, lines, method, carrier, tracking, shipped, delivered in _ORDERS:
        items = tuple(OrderItem(sku, PRODUCTS[sku].name, qty, PRODUCTS[sku].price_cents) for sku, qty in lines)
        shipped_at = day - timedelta(days=shipped) if shipped is not None else None
        transit_days = {"Standard": 5, "Express": 2, "Next Day": 1}[method]
        orders.append(
            Order(
                number=number,
                customer_id=customer_id,
                status=OrderStatus(status),
                placed_at=day - timedelta(days=placed, hours=3),
                items=items,
                total_cents=sum(i.unit_price_cents * i.quantity for i in items),
                payment_method=PAYMENT[customer_id],
                shipping_method=method,
                shipping_address=ADDRESSES[customer_id],
                carrier=carrier,
                tracking_number=tracking,
                shipped_at=shipped_at,
                estimated_delivery=(shipped_at + timedelta(days=transit_days)).date() if shipped_at else None,
                delivered_at=day - timedelta(days=delivered) if delivered is not None else None,
                cancelled_at=day - timedelta(days=21) if status == "cancelled" else None,
            )
        )
    returns = [
        ReturnAuthorisation("RA-101932-1", "101932", "BW-BOOM", PRODUCTS["BW-BOOM"].name, "refund",
                            "changed my mind", day - timedelta(days=20), "received"),
        ReturnAuthorisation("RA-104777-1", "104777", "BW-P300", PRODUCTS["BW-P300"].name, "refund",
                            "doesn't fit", day - timedelta(days=1), "label_sent"),
        ReturnAuthorisation("RA-103512-1", "103512", "BW-WB1", PRODUCTS["BW-WB1"].name, "refund",
                            "changed my mind", day - timedelta(days=8), "received"),
    ]
    refunds = [
        Refund("101932", PRODUCTS["BW-BOOM"].price_cents, PAYMENT["C1002"], "issued",
               day - timedelta(days=20), day - timedelta(days=5)),
        Refund("100777", PRODUCTS["BW-PC65"].price_cents, PAYMENT["C1003"], "issued",
               day - timedelta(days=21), day - timedelta(days=21)),
        Refund("104777", PRODUCTS["BW-P300"].price_cents, PAYMENT["C1006"], "pending", day - timedelta(days=1)),
        Refund("103512", PRODUCTS["BW-WB1"].price_cents, PAYMENT["C1007"], "pending", day - timedelta(days=8)),
    ]
    return CUSTOMERS, orders, returns, refunds


def fill(directory: SqlCustomerDirectory, now: datetime) -> SqlCustomerDirectory:
    """Insert the demo data (dated relative to `now`) into an empty store; returns the store."""
    customers, orders, returns, refunds = demo_data(now)
    directory.insert(customers, orders)
    for ra in returns:
        directory.add_return(ra)
    for refund in refunds:
        directory.add_refund(refund)
    return directory


def seed(directory: SqlCustomerDirectory, now: datetime) -> bool:
    """Create the schema and, if the store is empty, the demo data. Returns True if it seeded."""
    directory.create_schema()
    if not directory.is_empty():
        return False
    fill(directory, now)
    return True
