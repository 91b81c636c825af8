"""One contract, every CustomerDirectory: SQLite, PostgreSQL (when reachable) and the test fake."""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.store.directory import SqlCustomerDirectory, create_engine, metadata
from bot.store.models import Address, OrderStatus, Refund, ReturnAuthorisation
from bot.store.seed import seed
from tests.conftest import NOW, seeded_directory
from tests.fakes import InMemoryCustomerDirectory

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


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_directory(request, tmp_path):
    if request.param == "memory":
        yield seeded_directory(InMemoryCustomerDirectory())
    elif request.param == "sqlite":
        directory = SqlCustomerDirectory.from_url(f"sqlite:///{tmp_path / 'store.db'}")
        directory.create_schema()
        yield seeded_directory(directory)
    else:
        directory, drop = _postgres_directory()
        yield seeded_directory(directory)
        drop()


def test_customers_by_id_and_case_insensitive_email(any_directory):
    assert any_directory.get_customer("C1001").first_name == "Jane"
    assert any_directory.find_customer_by_email("JANE.DOE@example.com ").id == "C1001"
    assert any_directory.get_customer("nope") is None
    assert any_directory.find_customer_by_email("nobody@example.com") is None


def test_orders_round_trip_every_field(any_directory):
    order = any_directory.get_order("104512")
    expected = {o.number: o for o in seeded_directory(InMemoryCustomerDirectory()).orders.values()}["104512"]
    assert order == expected
    assert any_directory.get_order("000000") is None


def test_orders_for_customer_newest_first(any_directory):
    numbers = [o.number for o in any_directory.orders_for_customer("C1001")]
    assert numbers == ["104512", "103877", "102250"]


def test_status_and_address_changes_persist(any_directory):
    any_directory.set_status("105001", OrderStatus.CANCELLED, NOW)
    any_directory.set_shipping_address("105120", Address("M G", "1 New St", "Austin", "TX", "78702"))
    assert any_directory.get_order("105001").status is OrderStatus.CANCELLED
    assert any_directory.get_order("105001").cancelled_at == NOW
    assert any_directory.get_order("105120").shipping_address.line1 == "1 New St"


def test_returns_and_refunds_in_creation_order(any_directory):
    any_directory.add_return(ReturnAuthorisation("RA-103877-1", "103877", "BW-WBP", "Wavelet Buds Pro",
                                                 "refund", "x", NOW, "label_sent"))
    any_directory.add_refund(Refund("103877", 17999, "Visa ending 4242", "pending", NOW))
    any_directory.add_refund(Refund("103877", 1499, "Visa ending 4242", "pending", NOW + timedelta(seconds=1)))
    assert [r.number for r in any_directory.returns_for_order("103877")] == ["RA-103877-1"]
    assert [r.amount_cents for r in any_directory.refunds_for_order("103877")] == [17999, 1499]


def test_seed_only_fills_an_empty_store(tmp_path):
    directory = SqlCustomerDirectory.from_url(f"sqlite:///{tmp_path / 'store.db'}")
    assert seed(directory, NOW) is True
    assert seed(directory, NOW) is False
    assert len(directory.orders_for_customer("C1001")) == 3
    assert set(metadata.tables) == {"customers", "orders", "returns", "refunds"}
