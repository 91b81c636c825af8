"""The demo store's back office (`bot store ...`): each change lands in the store's tables and becomes the event to tell."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.errors import NotAllowed, NotFound
from bot.proactive.demo_store import DemoStore
from bot.proactive.models import DELAYED, DELIVERED, REFUND_ISSUED, SHIPPED
from bot.store.models import OrderStatus
from bot.store.seed import seed
from tests.databases import sqlite_url

NOW = datetime(2026, 10, 6, 10, 0)


@pytest.fixture
def store(tmp_path) -> DemoStore:
    demo = DemoStore.from_url(sqlite_url(tmp_path, "store.db"))
    seed(demo.directory, NOW)
    return demo


def test_ship_then_delay_then_deliver(store):
    event = store.ship("105001", NOW, carrier="FedEx", tracking_number="612999999900", estimated_delivery=date(2026, 10, 9))
    assert (event.kind, event.carrier, event.tracking_number, event.estimated_delivery) == (SHIPPED, "FedEx", "612999999900", date(2026, 10, 9))
    order = store.directory.get_order("105001")
    assert order.status is OrderStatus.SHIPPED and order.shipped_at == NOW and order.tracking_number == "612999999900"
    late = store.delay("105001", NOW)
    assert late.kind == DELAYED and late.estimated_delivery == date(2026, 10, 11)
    assert store.directory.get_order("105001").estimated_delivery == date(2026, 10, 11)
    arrived = store.deliver("105001", NOW)
    assert arrived.kind == DELIVERED and store.directory.get_order("105001").delivered_at == NOW


def test_a_change_the_order_is_not_in_a_state_for_is_refused(store):
    with pytest.raises(NotAllowed):
        store.ship("104512", NOW)  # already shipped
    with pytest.raises(NotAllowed):
        store.deliver("105001", NOW)  # not shipped yet
    with pytest.raises(NotFound):
        store.delay("999999", NOW)


def test_a_refund_issues_the_pending_ones_or_the_whole_order(store):
    pending = [r for r in store.directory.refunds_for_order("101932") if r.status == "pending"]
    event = store.refund("105001", NOW)
    assert event.kind == REFUND_ISSUED and event.amount_cents == store.directory.get_order("105001").total_cents
    assert [r.status for r in store.directory.refunds_for_order("105001")] == ["issued"]
    if pending:
        issued = store.refund("101932", NOW)
        assert issued.amount_cents == sum(r.amount_cents for r in pending)
        assert all(r.status == "issued" for r in store.directory.refunds_for_order("101932"))
