"""One contract, every CustomerDirectory: SQLite, PostgreSQL (when reachable), the test fake, and Shopify's
connector against a local fake of its Admin API.

Ids of customers are the backend's own (Shopify numbers its customers), so tests name seed customers through
`Backend.customer_id`. A test that needs something a backend declares it cannot do (bot/store/directory.py,
capabilities) is skipped for that backend, and says which capability and why.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from bot.store.directory import (
    ADDRESS_CHANGES,
    CANCELLATIONS,
    REFUNDS,
    RETURNS,
    SqlCustomerDirectory,
    capabilities_of,
    create_engine,
    metadata,
)
from bot.store.models import Address, OrderStatus, Refund, ReturnAuthorisation
from bot.store.seed import demo_data, seed
from bot.store.shopify import ShopifyDirectory
from tests.conftest import NOW, seeded_directory
from tests.fakes import InMemoryCustomerDirectory
from tests.shopify_fake import FakeShopify
from tests.shopify_fake import customer_id as shopify_customer_id

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_directory():
    """A fresh database on the local PostgreSQL server, or a skip saying why there is none."""
    try:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
        name = f"support_test_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as error:  # noqa: BLE001 - any failure means: no server to test against
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.__class__.__name__}")
    url = sa.engine.make_url(POSTGRES_URL).set(database=name)
    engine = create_engine(str(url.render_as_string(hide_password=False)))
    directory = SqlCustomerDirectory(engine)
    directory.create_schema()

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return directory, drop


@dataclass
class Backend:
    directory: Any
    customer_id: Callable[[str], str] = lambda seed_id: seed_id  # the backend's id of a seed customer

    def require(self, *capabilities: str) -> None:
        """Skip, naming the capability, when the backend declares it cannot do what the test needs."""
        missing = sorted(set(capabilities) - capabilities_of(self.directory))
        if missing:
            pytest.skip(f"{type(self.directory).__name__} declares it cannot do {', '.join(missing)}")


@pytest.fixture(params=["memory", "sqlite", "postgresql", "shopify"])
def backend(request, tmp_path):
    if request.param == "memory":
        yield Backend(seeded_directory(InMemoryCustomerDirectory()))
    elif request.param == "sqlite":
        directory = SqlCustomerDirectory.from_url(f"sqlite:///{tmp_path / 'store.db'}")
        directory.create_schema()
        yield Backend(seeded_directory(directory))
    elif request.param == "shopify":
        # the same seed, as a Shopify shop holds it; the shop's clock is the suite's fixed "now"
        shop = FakeShopify(clock=lambda: NOW).load_demo(*demo_data(NOW)).start()
        directory = ShopifyDirectory(shop.url, shop.token, timeout=5)
        yield Backend(directory, shopify_customer_id)
        directory.close()
        shop.stop()
    else:
        directory, drop = _postgres_directory()
        yield Backend(seeded_directory(directory))
        drop()


@pytest.fixture
def any_directory(backend):
    return backend.directory


def test_customers_by_id_and_case_insensitive_email(any_directory, backend):
    assert any_directory.get_customer(backend.customer_id("C1001")).first_name == "Jane"
    assert any_directory.find_customer_by_email("JANE.DOE@example.com ").id == backend.customer_id("C1001")
    assert any_directory.get_customer("nope") is None
    assert any_directory.find_customer_by_email("nobody@example.com") is None


def test_orders_round_trip_every_field(any_directory, backend):
    order = any_directory.get_order("104512")
    expected = {o.number: o for o in seeded_directory(InMemoryCustomerDirectory()).orders.values()}["104512"]
    assert order == replace(expected, customer_id=backend.customer_id(expected.customer_id))
    assert any_directory.get_order("000000") is None


def test_orders_for_customer_newest_first(any_directory, backend):
    numbers = [o.number for o in any_directory.orders_for_customer(backend.customer_id("C1001"))]
    assert numbers == ["104512", "103877", "102250"]


def test_status_and_address_changes_persist(any_directory, backend):
    backend.require(CANCELLATIONS, ADDRESS_CHANGES)
    any_directory.set_status("105001", OrderStatus.CANCELLED, NOW)
    any_directory.set_shipping_address("105120", Address("M G", "1 New St", "Austin", "TX", "78702"))
    assert any_directory.get_order("105001").status is OrderStatus.CANCELLED
    assert any_directory.get_order("105001").cancelled_at == NOW
    assert any_directory.get_order("105120").shipping_address.line1 == "1 New St"


def test_returns_and_refunds_in_creation_order(any_directory, backend):
    backend.require(RETURNS, REFUNDS)
    any_directory.add_return(ReturnAuthorisation("RA-103877-1", "103877", "BW-WBP", "Wavelet Buds Pro",
                                                 "refund", "x", NOW, "label_sent"))
    any_directory.add_refund(Refund("103877", 17999, "Visa ending 4242", "pending", NOW))
    any_directory.add_refund(Refund("103877", 1499, "Visa ending 4242", "pending", NOW + timedelta(seconds=1)))
    assert [r.number for r in any_directory.returns_for_order("103877")] == ["RA-103877-1"]
    assert [r.amount_cents for r in any_directory.refunds_for_order("103877")] == [17999, 1499]


def test_issued_refunds_in_creation_order(any_directory, backend):
    backend.require(REFUNDS)
    before = [r.amount_cents for r in any_directory.refunds_for_order("103877")]
    any_directory.add_refund(Refund("103877", 17999, "Visa ending 4242", "issued", NOW, NOW))
    any_directory.add_refund(Refund("103877", 1499, "Visa ending 4242", "issued", NOW + timedelta(seconds=1),
                                    NOW + timedelta(seconds=1)))
    refunds = any_directory.refunds_for_order("103877")
    assert [r.amount_cents for r in refunds] == before + [17999, 1499]
    assert {(r.status, r.method) for r in refunds} == {("issued", "Visa ending 4242")}


def test_a_cancelled_order_shows_its_money_back(any_directory, backend):
    """The service cancels, then records the total as given back: one refund of it, whatever the backend does."""
    backend.require(CANCELLATIONS, REFUNDS)
    order = any_directory.get_order("105001")
    any_directory.set_status("105001", OrderStatus.CANCELLED, NOW)
    any_directory.add_refund(Refund("105001", order.total_cents, order.payment_method, "issued", NOW, NOW))
    refunds = any_directory.refunds_for_order("105001")
    assert [(r.amount_cents, r.status, r.method) for r in refunds] == [
        (order.total_cents, "issued", "Mastercard ending 5454")]


def test_declared_capabilities_are_known_names(any_directory):
    assert capabilities_of(any_directory) <= {RETURNS, CANCELLATIONS, ADDRESS_CHANGES, REFUNDS}


def test_seed_only_fills_an_empty_store(tmp_path):
    directory = SqlCustomerDirectory.from_url(f"sqlite:///{tmp_path / 'store.db'}")
    assert seed(directory, NOW) is True
    assert seed(directory, NOW) is False
    assert len(directory.orders_for_customer("C1001")) == 3
    assert set(metadata.tables) == {"customers", "orders", "returns", "refunds"}
