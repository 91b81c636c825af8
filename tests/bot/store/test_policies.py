from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from bot.store.policies import can_cancel, can_change_address, return_deadline, return_decision
from bot.store.seed import demo_data
from tests.conftest import NOW

ORDERS = {o.number: o for o in demo_data(NOW)[1]}


def test_return_window_is_30_days_from_delivery():
    assert return_deadline(date(2026, 3, 1)) == date(2026, 3, 31)


@pytest.mark.parametrize("delivered", [date(2026, 11, 1), date(2026, 12, 24)])
def test_holiday_deliveries_may_come_back_until_january_31(delivered):
    assert return_deadline(delivered) == date(2027, 1, 31)


def test_december_25_delivery_gets_the_normal_window():
    assert return_deadline(date(2026, 12, 25)) == date(2027, 1, 24)


def test_delivered_order_inside_window_is_returnable():
    decision = return_decision(ORDERS["103877"], NOW)
    assert decision.allowed and decision.reason == "ok"


def test_last_day_of_window_still_counts():
    order = replace(ORDERS["103877"], delivered_at=NOW - timedelta(days=30))
    assert return_decision(order, NOW).allowed
    assert not return_decision(order, NOW + timedelta(days=1)).allowed


@pytest.mark.parametrize(
    "number, reason",
    [("102250", "window_closed"), ("105001", "not_shipped"), ("104512", "in_transit"),
     ("101932", "already_returned"), ("100777", "cancelled")],
)
def test_orders_that_cannot_be_returned_say_why(number, reason):
    decision = return_decision(ORDERS[number], NOW)
    assert not decision.allowed and decision.reason == reason


@pytest.mark.parametrize("number, allowed", [("105001", True), ("104512", False), ("103877", False), ("100777", False)])
def test_only_unshipped_orders_can_be_cancelled_or_readdressed(number, allowed):
    assert can_cancel(ORDERS[number]) is allowed
    assert can_change_address(ORDERS[number]) is allowed


def test_seed_dates_are_relative_to_now():
    later = datetime(2027, 6, 1, 9, 0)
    orders = {o.number: o for o in demo_data(later)[1]}
    assert return_decision(orders["103877"], later).allowed
    assert not return_decision(orders["102250"], later).allowed
