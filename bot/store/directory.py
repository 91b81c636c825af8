"""Storage of the demo store behind the `CustomerDirectory` protocol.

A real shop backend (Shopify, Magento, an ERP) replaces `SqlCustomerDirectory` by implementing
the same protocol; the dialogue and the services do not change.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime
from typing import FrozenSet, Iterable, Iterator, List, Optional, Protocol, Sequence

import sqlalchemy as sa

from bot.errors import NotAllowed, SupportError
from bot.store.models import (
    Address,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Refund,
    ReturnAuthorisation,
)

# What a backend may be unable to do. Look-ups (customers, orders, shipment tracking) are not optional: a backend
# without them is no backend. Each name covers the writes and reads of one task:
RETURNS = "returns"  # add_return, returns_for_order (and the pending refund a return starts)
CANCELLATIONS = "cancellations"  # set_status(..., CANCELLED)
ADDRESS_CHANGES = "address_changes"  # set_shipping_address
REFUNDS = "refunds"  # add_refund of money given back, refunds_for_order
ALL_CAPABILITIES: FrozenSet[str] = frozenset({RETURNS, CANCELLATIONS, ADDRESS_CHANGES, REFUNDS})


class CapabilityMissing(NotAllowed):
    """The backend declared it cannot do this; raised before anything is changed."""

    def __init__(self, capability: str, backend: str, why: str = "") -> None:
        super().__init__(f"{backend} cannot do {capability!r}" + (f": {why}" if why else ""))
        self.capability = capability
        self.backend = backend


class BackendError(SupportError):
    """The order backend failed a request it should have served (it refused our credentials, answered with an
    error); the message names the cause and the setting to check, for the operator, and never holds a secret."""


class BackendUnavailable(BackendError):
    """The order backend did not answer: down, unreachable, too slow, or throttling us past our retries.
    Trying again in a few minutes may work, so that is what the customer is told (beside a person)."""


class StoreUnavailable(BackendUnavailable):
    """The demo store's database cannot be used (refused or dropped connections, a locked or missing file)."""


# What SQLAlchemy raises when the database itself, not the query, is the problem: a server that refuses or drops
# connections, a pool with none free, SQLite's unopenable or locked file (DBAPI OperationalError/InterfaceError).
_DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def capabilities_of(directory: object) -> FrozenSet[str]:
    """The capabilities a directory declares in its `capabilities` attribute.

    A directory without the attribute was written before capabilities existed and does everything the protocol
    asks, so it is taken to have them all; that keeps every existing implementation working unchanged.
    """
    declared = getattr(directory, "capabilities", None)
    if declared is None:
        return ALL_CAPABILITIES
    unknown = set(declared) - ALL_CAPABILITIES
    if unknown:  # a typo would otherwise read as "cannot" and silently switch a task off
        raise ValueError(f"{type(directory).__name__} declares unknown capabilities {sorted(unknown)}")
    return frozenset(declared)


class CustomerDirectory(Protocol):
    """What the assistant needs from a shop backend.

    A backend that cannot do some of it says so in a `capabilities` frozenset (names above, read with
    `capabilities_of`) and raises `CapabilityMissing` from the methods it cannot serve.
    """

    def get_customer(self, customer_id: str) -> Optional[Customer]: ...

    def find_customer_by_email(self, email: str) -> Optional[Customer]: ...

    def get_order(self, number: str) -> Optional[Order]: ...

    def orders_for_customer(self, customer_id: str) -> List[Order]: ...

    def set_status(self, number: str, status: OrderStatus, at: datetime) -> None: ...

    def set_shipping_address(self, number: str, address: Address) -> None: ...

    def add_return(self, authorisation: ReturnAuthorisation) -> None: ...

    def returns_for_order(self, number: str) -> List[ReturnAuthorisation]: ...

    def add_refund(self, refund: Refund) -> None: ...

    def refunds_for_order(self, number: str) -> List[Refund]: ...


metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("number", sa.String(16), primary_key=True),
    sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("placed_at", sa.DateTime, nullable=False),
    sa.Column("items", sa.Text, nullable=False),  # JSON list of OrderItem
    sa.Column("total_cents", sa.Integer, nullable=False),
    sa.Column("payment_method", sa.String(64), nullable=False),
    sa.Column("shipping_method", sa.String(32), nullable=False),
    sa.Column("shipping_address", sa.Text, nullable=False),  # JSON Address
    sa.Column("carrier", sa.String(32)),
    sa.Column("tracking_number", sa.String(64)),
    sa.Column("shipped_at", sa.DateTime),
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("delivered_at", sa.DateTime),
    sa.Column("cancelled_at", sa.DateTime),
)

returns = sa.Table(
    "returns",
    metadata,
    sa.Column("number", sa.String(32), primary_key=True),
    sa.Column("order_number", sa.String(16), sa.ForeignKey("orders.number"), nullable=False, index=True),
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("product", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_number", sa.String(16), sa.ForeignKey("orders.number"), nullable=False, index=True),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("issued_at", sa.DateTime),
)


def create_engine(url: str) -> sa.engine.Engine:
    """An engine for SQLite (the default) or PostgreSQL; SQLite waits instead of failing on a busy file."""
    kwargs: dict = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
    return sa.create_engine(url, **kwargs)


class SqlCustomerDirectory:
    """The demo store's customers and orders in SQLite or PostgreSQL."""

    capabilities: FrozenSet[str] = ALL_CAPABILITIES

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[sa.engine.Connection]:
        """A connection (a transaction when writing) whose database failures become `StoreUnavailable`.

        The cause kept is the driver's own first line ("unable to open database file", "connection refused"): the
        SQLAlchemy error's text also holds the statement and its parameters, i.e. a customer's email.
        """
        try:
            with (self._engine.begin() if write else self._engine.connect()) as conn:
                yield conn
        except _DATABASE_DOWN as error:
            cause = str(getattr(error, "orig", None) or error.__class__.__name__).strip().splitlines() or [""]
            where = self._engine.url.render_as_string(hide_password=True)
            raise StoreUnavailable(f"the store database {where} cannot be used: {cause[0][:200]} "
                                   f"({error.__class__.__name__}); check STORE_DB_URL and the database") from None

    @classmethod
    def from_url(cls, url: str) -> "SqlCustomerDirectory":
        return cls(create_engine(url))

    def create_schema(self) -> None:
        metadata.create_all(self._engine)

    def is_empty(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one() == 0

    # -- reads ---------------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> Optional[Customer]:
        with self._connection() as conn:
            row = conn.execute(sa.select(customers).where(customers.c.id == customer_id)).first()
        return _customer(row) if row else None

    def find_customer_by_email(self, email: str) -> Optional[Customer]:
        with self._connection() as conn:
            row = conn.execute(
                sa.select(customers).where(sa.func.lower(customers.c.email) == email.strip().lower())
            ).first()
        return _customer(row) if row else None

    def get_order(self, number: str) -> Optional[Order]:
        with self._connection() as conn:
            row = conn.execute(sa.select(orders).where(orders.c.number == number)).first()
        return _order(row) if row else None

    def orders_for_customer(self, customer_id: str) -> List[Order]:
        with self._connection() as conn:
            rows = conn.execute(
                sa.select(orders)
                .where(orders.c.customer_id == customer_id)
                .order_by(orders.c.placed_at.desc())
            ).all()
        return [_order(row) for row in rows]

    def returns_for_order(self, number: str) -> List[ReturnAuthorisation]:
        with self._connection() as conn:
            rows = conn.execute(
                sa.select(returns).where(returns.c.order_number == number).order_by(returns.c.created_at)
            ).all()
        return [ReturnAuthorisation(**row._asdict()) for row in rows]

    def refunds_for_order(self, number: str) -> List[Refund]:
        with self._connection() as conn:
            rows = conn.execute(
                sa.select(refunds).where(refunds.c.order_number == number).order_by(refunds.c.created_at)
            ).all()
        return [
            Refund(**{k: v for k, v in row._asdict().items() if k != "id"}) for row in rows
        ]

    # -- writes --------------------------------------------------------------------------

    def set_status(self, number: str, status: OrderStatus, at: datetime) -> None:
        values: dict = {"status": status.value}
        if status is OrderStatus.CANCELLED:
            values["cancelled_at"] = at
        with self._connection(write=True) as conn:
            conn.execute(sa.update(orders).where(orders.c.number == number).values(**values))

    def set_shipping_address(self, number: str, address: Address) -> None:
        with self._connection(write=True) as conn:
            conn.execute(
                sa.update(orders)
                .where(orders.c.number == number)
                .values(shipping_address=json.dumps(asdict(address)))
            )

    def add_return(self, authorisation: ReturnAuthorisation) -> None:
        with self._connection(write=True) as conn:
            conn.execute(sa.insert(returns).values(**asdict(authorisation)))

    def add_refund(self, refund: Refund) -> None:
        with self._connection(write=True) as conn:
            conn.execute(sa.insert(refunds).values(**asdict(refund)))

    # -- seeding -------------------------------------------------------------------------

    def insert(self, new_customers: Iterable[Customer], new_orders: Sequence[Order]) -> None:
        with self._engine.begin() as conn:
            for customer in new_customers:
                conn.execute(sa.insert(customers).values(**asdict(customer)))
            for order in new_orders:
                conn.execute(sa.insert(orders).values(**_order_row(order)))


def _customer(row: sa.engine.Row) -> Customer:
    return Customer(**row._asdict())


def _order_row(order: Order) -> dict:
    row = asdict(order)
    row["status"] = order.status.value
    row["items"] = json.dumps([asdict(item) for item in order.items])
    row["shipping_address"] = json.dumps(asdict(order.shipping_address))
    return row


def _order(row: sa.engine.Row) -> Order:
    data = row._asdict()
    data["status"] = OrderStatus(data["status"])
    data["items"] = tuple(OrderItem(**item) for item in json.loads(data["items"]))
    data["shipping_address"] = Address(**json.loads(data["shipping_address"]))
    if isinstance(data.get("estimated_delivery"), datetime):
        data["estimated_delivery"] = data["estimated_delivery"].date()
    elif isinstance(data.get("estimated_delivery"), str):
        data["estimated_delivery"] = date.fromisoformat(data["estimated_delivery"])
    return Order(**data)
