import pytest

from bot.store.models import Address, OrderStatus
from bot.store.service import (
    ActionNotAllowed,
    IdentityMismatch,
    OrderNotFound,
    VerificationRequired,
    normalise_email,
    normalise_order_number,
    parse_address,
)


def test_verify_with_the_orders_email_in_any_case(order_service):
    assert order_service.verify("#104512", email=" Jane.Doe@Example.com ").number == "104512"


def test_verify_refuses_another_customers_email(order_service):
    with pytest.raises(IdentityMismatch):
        order_service.verify("104512", email="sam.patel@example.com")


def test_verify_needs_some_proof(order_service):
    with pytest.raises(VerificationRequired):
        order_service.verify("104512")


def test_verified_customer_cannot_see_someone_elses_order(order_service):
    # the same error as a missing order, so nobody learns which numbers exist
    with pytest.raises(OrderNotFound):
        order_service.verify("105001", customer_id="C1001")
    assert order_service.verify("104512", customer_id="C1001").customer_id == "C1001"


@pytest.mark.parametrize("number", ["999999", "12345", "abc", "", "1045120"])
def test_unknown_or_malformed_order_numbers(order_service, number):
    with pytest.raises(OrderNotFound):
        order_service.verify(number, email="jane.doe@example.com")


def test_cancel_processing_order_releases_the_hold(order_service, directory):
    order = order_service.verify("105001", customer_id="C1002")
    cancelled = order_service.cancel(order)
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.cancelled_at is not None
    refund = directory.refunds_for_order("105001")[-1]
    assert refund.amount_cents == order.total_cents and refund.status == "issued"


def test_cancel_shipped_order_is_refused(order_service):
    with pytest.raises(ActionNotAllowed) as refused:
        order_service.cancel(order_service.verify("104512", customer_id="C1001"))
    assert refused.value.reason == "cannot_cancel_shipped"


def test_change_address_before_shipping(order_service):
    order = order_service.verify("105120", customer_id="C1003")
    new = Address("Maria Garcia", "5 Congress Ave", "Austin", "TX", "78702")
    assert order_service.change_address(order, new).shipping_address == new


def test_change_address_after_shipping_is_refused(order_service):
    with pytest.raises(ActionNotAllowed):
        order_service.change_address(order_service.verify("104512", customer_id="C1001"),
                                     Address("x", "1 A St", "B", "CA", "90001"))


def test_start_return_creates_authorisation_and_pending_refund(order_service, directory):
    order = order_service.verify("103877", customer_id="C1001")
    ra = order_service.start_return(order, "BW-WBP", "refund", "changed my mind")
    assert ra.number == "RA-103877-1" and ra.product == "Wavelet Buds Pro" and ra.status == "label_sent"
    assert directory.refunds_for_order("103877")[-1].amount_cents == 17999
    second = order_service.start_return(order, "BW-CABLE2", "exchange", "does not suit me")
    assert second.number == "RA-103877-2"
    assert len(directory.refunds_for_order("103877")) == 1  # exchanges refund nothing


def test_same_item_cannot_be_returned_twice(order_service):
    order = order_service.verify("103877", customer_id="C1001")
    order_service.start_return(order, "BW-WBP", "refund", "x")
    with pytest.raises(ActionNotAllowed) as refused:
        order_service.start_return(order, "BW-WBP", "refund", "x")
    assert refused.value.reason == "already_started"


def test_return_outside_window_is_refused(order_service):
    with pytest.raises(ActionNotAllowed) as refused:
        order_service.start_return(order_service.verify("102250", customer_id="C1001"), "BW-OWS2", "refund", "x")
    assert refused.value.reason == "window_closed"


def test_refund_summary_lists_returns_and_refunds(order_service):
    summary = order_service.refund_summary(order_service.verify("101932", customer_id="C1002"))
    assert [r.status for r in summary.refunds] == ["issued"]
    assert [ra.number for ra in summary.returns] == ["RA-101932-1"]


@pytest.mark.parametrize("text, expected", [("#104512", "104512"), (" 104512 ", "104512"), ("10451", None),
                                            ("order 104512", None), ("", None)])
def test_normalise_order_number(text, expected):
    assert normalise_order_number(text) == expected


@pytest.mark.parametrize("text, expected", [("Jane@Example.COM.", "jane@example.com"), ("jane@", None),
                                            ("not an email", None)])
def test_normalise_email(text, expected):
    assert normalise_email(text) == expected


@pytest.mark.parametrize(
    "text, line1, city, state, zip_code",
    [("12 Oak Street, Springfield, IL 62704", "12 Oak Street", "Springfield", "IL", "62704"),
     ("480 Mission St, Apt 5, San Francisco, ca 94105-1234", "480 Mission St, Apt 5", "San Francisco", "CA",
      "94105-1234")],
)
def test_parse_address(text, line1, city, state, zip_code):
    address = parse_address(text, "Jane Doe")
    assert (address.line1, address.city, address.state, address.postal_code) == (line1, city, state, zip_code)


@pytest.mark.parametrize("text", ["somewhere nice", "12 Oak Street Springfield", "", "Oak Street, Springfield, IL 62704"])
def test_parse_address_rejects_what_is_not_an_address(text):
    assert parse_address(text, "x") is None


def test_guessing_across_conversations_is_stopped(directory):
    # found by the reliability battery: three tries per conversation, but new conversations cost nothing
    from datetime import datetime, timedelta

    from bot.store.guessing import MemoryGuessingLimiter
    from bot.store.service import OrderService, TooManyAttempts

    now = [datetime(2026, 12, 6, 12, 0)]
    service = OrderService(directory, clock=lambda: now[0], guessing=MemoryGuessingLimiter(limit=5))
    for _ in range(5):
        with pytest.raises(IdentityMismatch):
            service.verify("104512", email="attacker@evil.example")
    with pytest.raises(TooManyAttempts):  # the right email too, for now: the answer must not confirm a guess
        service.verify("104512", email="jane.doe@example.com")
    assert service.verify("104512", customer_id="C1001")  # a signed identity is not a guess
    now[0] += timedelta(hours=1, seconds=1)
    assert service.verify("104512", email="jane.doe@example.com").number == "104512"


def test_one_email_tried_on_many_orders_is_stopped(directory):
    from bot.store.guessing import MemoryGuessingLimiter
    from bot.store.service import OrderService, TooManyAttempts

    service = OrderService(directory, guessing=MemoryGuessingLimiter(limit=5))
    others = [o.number for c in ("C1002", "C1003", "C1004") for o in directory.orders_for_customer(c)][:5]
    assert len(others) == 5
    for number in others:
        with pytest.raises(IdentityMismatch):
            service.verify(number, email="jane.doe@example.com")
    with pytest.raises(TooManyAttempts):
        service.verify("104512", email="jane.doe@example.com")


def test_the_sql_limiter_counts_across_processes(tmp_path):
    from datetime import datetime, timedelta

    from bot.store.guessing import SqlGuessingLimiter

    url = f"sqlite:///{tmp_path / 'app.db'}"
    first, second = SqlGuessingLimiter.from_url(url, limit=3), SqlGuessingLimiter.from_url(url, limit=3)
    now = datetime(2026, 12, 6, 12, 0)
    for _ in range(3):
        assert not second.blocked("a@b.example", "104512", now)
        first.failed("a@b.example", "104512", now)
    assert second.blocked("a@b.example", "104512", now) and second.blocked("other@b.example", "104512", now)
    assert not second.blocked("other@b.example", "104519", now)
    assert not second.blocked("a@b.example", "104512", now + timedelta(hours=2))
