"""What is Shopify's own in the Shopify connector: the token, retries, pagination, errors, statuses, capabilities.

The behaviour every backend shares is in test_directory_contract.py; these run against tests/shopify_fake.py.
"""
from __future__ import annotations

import logging
import time

import pytest

from bot.container import build_directory
from bot.errors import ConfigurationError
from bot.settings import Settings
from bot.store.directory import RETURNS, CapabilityMissing, SqlCustomerDirectory, capabilities_of
from bot.store.models import Address, OrderStatus, Refund, ReturnAuthorisation
from bot.store.seed import demo_data
from bot.store.service import OrderService
from bot.store.shopify import (
    API_VERSION,
    ShopifyAuthError,
    ShopifyDirectory,
    ShopifyRejected,
    ShopifyUnavailable,
    base_url,
    order_status,
)
from tests.conftest import NOW
from tests.shopify_fake import FakeShopify, customer_id

JANE = customer_id("C1001")


@pytest.fixture
def shop():
    fake = FakeShopify(clock=lambda: NOW).load_demo(*demo_data(NOW)).start()
    yield fake
    fake.stop()


@pytest.fixture
def directory(shop):
    # a short backoff: the retry rules are under test here, not the waiting between 5xx retries
    client = ShopifyDirectory(shop.url, shop.token, timeout=2, backoff=0.01)
    yield client
    client.close()


# the token ----------------------------------------------------------------------------------------------

def test_every_request_carries_the_token_in_its_header_on_the_pinned_version(shop, directory):
    assert directory.get_order("104512").carrier == "UPS"
    assert shop.requests, "the fake saw no request"
    for request in shop.requests:
        assert request.headers.get("X-Shopify-Access-Token") == shop.token
        assert request.version == API_VERSION
        assert shop.token not in request.path and shop.token not in str(request.query)


def test_the_token_is_never_logged_nor_in_errors_or_repr(shop, caplog):
    caplog.set_level(logging.DEBUG)  # everything, urllib3's connection and retry records included
    errors = []
    client = ShopifyDirectory(shop.url, shop.token, timeout=0.5, backoff=0.01)
    client.orders_for_customer(JANE)
    shop.fail(503, times=10, path="orders.json")
    shop.fail(200, delay=1.5, path="customers/")
    for call in (lambda: client.get_order("104512"), lambda: client.get_customer(JANE),
                 lambda: ShopifyDirectory(shop.url, shop.token + "x").get_customer(JANE)):
        with pytest.raises(Exception) as raised:
            call()
        errors.append(raised.value)
    assert [type(e) for e in errors] == [ShopifyUnavailable, ShopifyUnavailable, ShopifyAuthError]
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    text = "\n".join(r.getMessage() for r in caplog.records) + "".join(f"{e!s}{e!r}" for e in errors)
    assert shop.token not in text and shop.token not in repr(client)
    assert "jane.doe" not in "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))


def test_a_refused_token_is_an_error_naming_the_setting(shop):
    client = ShopifyDirectory(shop.url, "shpat_wrong")
    with pytest.raises(ShopifyAuthError, match="SHOPIFY_ACCESS_TOKEN") as raised:
        client.get_order("104512")
    assert "401" in str(raised.value) and isinstance(raised.value, ConfigurationError)
    assert len(shop.calls("orders.json")) == 1  # a wrong token does not get better by asking again


def test_a_missing_scope_is_an_error_naming_the_scopes(shop, directory):
    shop.fail(403, path="orders.json", body={"errors": "[API] This action requires merchant approval for "
                                                       "read_orders scope."})
    with pytest.raises(ShopifyAuthError, match="read_orders.*scope"):
        directory.get_order("104512")


# rate limits, failures, timeouts ----------------------------------------------------------------------------

def test_a_429_is_retried_after_retry_after(shop, directory):
    shop.rate_limit(times=1, retry_after="1.0", path="orders.json")  # Shopify's decimal seconds
    assert directory.get_order("104512").number == "104512"
    first, second = shop.calls("orders.json")[:2]
    assert second.at - first.at >= 0.95


def test_a_throttled_post_is_sent_again_since_shopify_did_not_apply_it(shop, directory):
    shop.rate_limit(times=1, retry_after="0.2", path=f"orders/{shop.order_by_number('105001')['id']}/cancel")
    directory.set_status("105001", OrderStatus.CANCELLED, NOW)
    assert len(shop.calls("orders/", method="POST")) == 2
    assert directory.get_order("105001").status is OrderStatus.CANCELLED


def test_endless_throttling_ends_in_a_clear_error(shop, directory):
    shop.rate_limit(times=20, retry_after="0.05", path="orders.json")
    with pytest.raises(ShopifyUnavailable, match="rate-limiting GET /admin/api/.*/orders.json"):
        directory.get_order("104512")
    assert len(shop.calls("orders.json")) == 4  # the first try and three retries


def test_5xx_is_retried_then_a_clear_error(shop, directory):
    shop.fail(502, times=2, path="orders.json")
    assert directory.get_order("104512").status is OrderStatus.SHIPPED  # the third try answered
    shop.fail(503, times=10, path="orders.json")
    with pytest.raises(ShopifyUnavailable, match="HTTP 503 after retrying"):
        directory.get_order("104512")


def test_a_failed_post_is_not_sent_twice(shop, directory):
    shop.fail(500, times=5, path=f"orders/{shop.order_by_number('105001')['id']}/cancel", method="POST")
    with pytest.raises(ShopifyUnavailable, match="not retried"):
        directory.set_status("105001", OrderStatus.CANCELLED, NOW)
    assert len(shop.calls("orders/", method="POST")) == 1  # it may have cancelled: never a second cancel


def test_a_slow_shop_is_a_timeout_error_within_the_limit(shop):
    client = ShopifyDirectory(shop.url, shop.token, timeout=0.3)
    shop.fail(200, delay=2.0, path="orders.json")
    started = time.monotonic()
    with pytest.raises(ShopifyUnavailable, match="did not answer GET .*orders.json within 0.3 s"):
        client.get_order("104512")
    assert time.monotonic() - started < 1.5  # not retried: a read may have been applied, and waits add up


def test_an_unreachable_shop_names_the_setting(shop):
    client = ShopifyDirectory("http://127.0.0.1:9", "tok", timeout=0.5, retries=1, backoff=0.01)
    with pytest.raises(ShopifyUnavailable, match="SHOPIFY_SHOP"):
        client.get_order("104512")


# pagination -----------------------------------------------------------------------------------------------

def test_pages_are_followed_through_the_link_header(shop, directory):
    shop.max_limit = 1  # one order per page: Jane's three orders take three pages
    assert [o.number for o in directory.orders_for_customer(JANE)] == ["104512", "103877", "102250"]
    pages = shop.calls(f"customers/{JANE}/orders.json")
    assert len(pages) == 3
    assert pages[0].query["status"] == "any" and "page_info" not in pages[0].query
    # later pages carry only what Shopify allows beside page_info (the fake answers 400 otherwise)
    assert all(set(p.query) == {"limit", "page_info"} for p in pages[1:])


# reads ----------------------------------------------------------------------------------------------------

def test_orders_are_found_by_number_among_all_statuses(shop, directory):
    assert directory.get_order("100777").status is OrderStatus.CANCELLED  # Shopify lists open orders by default
    assert shop.calls("orders.json")[-1].query == {"name": "100777", "status": "any", "limit": "250"}
    assert directory.get_order("999999") is None and directory.get_order("#1") is None


def test_a_loose_name_match_is_not_taken_for_the_order(shop, directory):
    shop.order_by_number("104512")["name"] = "#104512"
    shop.order_by_number("103877")["name"] = "#104512"  # Shopify's name filter may return a near match
    assert directory.get_order("104512").number == "104512"
    del shop.orders[shop.order_by_number("104512")["id"]]
    assert directory.get_order("104512") is None


def test_shopify_times_in_the_shops_offset_become_utc(shop, directory):
    raw = shop.order_by_number("104512")
    assert raw["processed_at"].endswith("-05:00")
    order = directory.get_order("104512")
    placed = demo_data(NOW)[1][0].placed_at
    assert order.placed_at == placed and order.placed_at.tzinfo is None


def test_card_wallet_and_gateway_payment_methods(directory):
    assert directory.get_order("104512").payment_method == "Visa ending 4242"
    assert directory.get_order("103300").payment_method == "Apple Pay"
    assert directory.get_order("101932").payment_method == "Mastercard ending 5454"
    assert directory.get_order("105120").payment_method == "PayPal"


def test_email_search_takes_only_the_exact_address(shop, directory):
    near = {"id": 7390000009999, "email": "jane.doe@example.com.au", "first_name": "Other", "last_name": "Jane"}
    shop.customers = {near["id"]: near, **shop.customers}  # the near match comes first in the search results
    assert directory.find_customer_by_email("Jane.Doe@Example.com").id == JANE
    assert shop.calls("customers/search.json")[-1].query["query"] == 'email:"jane.doe@example.com"'
    assert directory.find_customer_by_email("jane.doe@example.co") is None
    assert directory.find_customer_by_email('x" OR email:*') is None
    assert directory.get_customer("C1001") is None  # not a Shopify id: no request needed to know


def test_a_refunded_return_reads_returned_with_its_refund(directory):
    order = directory.get_order("101932")
    assert order.status is OrderStatus.RETURNED and order.delivered_at is not None
    [refund] = directory.refunds_for_order("101932")
    assert (refund.amount_cents, refund.status, refund.method) == (order.total_cents, "issued",
                                                                   "Mastercard ending 5454")


# status mapping -----------------------------------------------------------------------------------------

def _raw(**fields):
    return {"id": 1, "cancelled_at": None, "line_items": [{"id": 10, "quantity": 2}, {"id": 11, "quantity": 1}],
            "fulfillments": [], "refunds": [], **fields}


def _shipped(*statuses, status="success"):
    return [{"id": i, "status": status, "shipment_status": s} for i, s in enumerate(statuses)]


@pytest.mark.parametrize("raw, expected", [
    (_raw(), OrderStatus.PROCESSING),
    (_raw(fulfillments=_shipped(None, status="pending")), OrderStatus.PROCESSING),
    (_raw(fulfillments=_shipped(None, status="open")), OrderStatus.PROCESSING),
    (_raw(fulfillments=_shipped("in_transit", status="cancelled")), OrderStatus.PROCESSING),
    (_raw(fulfillments=_shipped(None)), OrderStatus.SHIPPED),  # fulfilled, no carrier update yet
    (_raw(fulfillments=_shipped("label_printed")), OrderStatus.SHIPPED),
    (_raw(fulfillments=_shipped("failure")), OrderStatus.SHIPPED),  # a failed attempt: still with the carrier
    (_raw(fulfillments=_shipped("delivered", "in_transit")), OrderStatus.SHIPPED),  # a second parcel on its way
    (_raw(fulfillments=_shipped("delivered", "delivered")), OrderStatus.DELIVERED),
    (_raw(fulfillments=_shipped("delivered"), refunds=[{"refund_line_items": [
        {"line_item_id": 10, "quantity": 2, "restock_type": "return"}]}]), OrderStatus.DELIVERED),  # one of two
    (_raw(fulfillments=_shipped("delivered"), refunds=[{"refund_line_items": [
        {"line_item_id": 10, "quantity": 2, "restock_type": "return"},
        {"line_item_id": 11, "quantity": 1, "restock_type": "no_restock"}]}]), OrderStatus.DELIVERED),  # kept one
    (_raw(fulfillments=_shipped("delivered"), refunds=[
        {"refund_line_items": [{"line_item_id": 10, "quantity": 1, "restock_type": "return"}]},
        {"refund_line_items": [{"line_item_id": 10, "quantity": 1, "restock_type": "return"},
                               {"line_item_id": 11, "quantity": 1, "restock_type": "return"}]}]),
     OrderStatus.RETURNED),
    (_raw(cancelled_at="2026-10-01T10:00:00-05:00", fulfillments=_shipped("delivered")), OrderStatus.CANCELLED),
])
def test_status_mapping(raw, expected):
    assert order_status(raw) is expected


# writes and capabilities --------------------------------------------------------------------------------

def test_returns_are_declared_missing_and_refused_before_any_request(shop, directory):
    assert RETURNS not in capabilities_of(directory)
    assert capabilities_of(SqlCustomerDirectory.from_url("sqlite://")) >= {RETURNS}
    before = len(shop.requests)
    with pytest.raises(CapabilityMissing) as raised:
        directory.add_return(ReturnAuthorisation("RA-103877-1", "103877", "BW-WBP", "x", "refund", "x", NOW,
                                                 "label_sent"))
    assert raised.value.capability == RETURNS
    with pytest.raises(CapabilityMissing):
        directory.add_refund(Refund("103877", 100, "Visa ending 4242", "pending", NOW))
    assert len(shop.requests) == before
    assert directory.returns_for_order("104777") == []


def test_the_service_stops_a_return_at_the_missing_capability(shop, directory):
    service = OrderService(directory, clock=lambda: NOW)
    order = service.verify("103877", email="jane.doe@example.com")
    with pytest.raises(CapabilityMissing):
        service.start_return(order, "BW-WBP", "refund", "too big")
    assert not shop.calls("orders/", method="POST")  # nothing half done


def test_an_address_change_clears_the_old_flat_number(shop, directory):
    assert directory.get_order("105001").shipping_address.line1 == "480 Mission Street, Apt 5"
    directory.set_shipping_address("105001", Address("Sam Patel", "9 Market Street", "San Francisco", "CA", "94103"))
    assert directory.get_order("105001").shipping_address == Address("Sam Patel", "9 Market Street",
                                                                     "San Francisco", "CA", "94103")
    directory.set_shipping_address("105001", Address("Sam R Patel", "9 Market Street, Unit 2", "San Francisco",
                                                     "CA", "94103"))
    sent = shop.calls("orders/", method="PUT")[-1].body["order"]["shipping_address"]
    assert (sent["first_name"], sent["last_name"], sent["address1"], sent["address2"]) == (
        "Sam R", "Patel", "9 Market Street", "Unit 2")
    assert directory.get_order("105001").shipping_address.line1 == "9 Market Street, Unit 2"


def test_cancelling_an_authorised_order_pays_nothing_twice(shop, directory):
    service = OrderService(directory, clock=lambda: NOW)
    order = service.verify("105001", email="sam.patel@example.com")
    cancelled = service.cancel(order)
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.cancelled_at == NOW
    posted = [r.path for r in shop.calls("orders/", method="POST")]
    assert len(posted) == 1 and posted[0].endswith("/cancel.json")  # no refund: Shopify released the hold itself
    summary = service.refund_summary(cancelled)
    assert [(r.amount_cents, r.status) for r in summary.refunds] == [(order.total_cents, "issued")]


def test_cancelling_a_paid_order_refunds_the_capture_once(shop, directory):
    raw = shop.order_by_number("105120")  # paid at checkout: a sale, not an authorisation
    for transaction in shop.transactions[raw["id"]]:
        transaction["kind"] = "sale"
    service = OrderService(directory, clock=lambda: NOW)
    order = service.verify("105120", email="maria.garcia@example.com")
    service.cancel(order)
    [posted] = [r for r in shop.calls("orders/", method="POST") if r.path.endswith("refunds.json")]
    sale = shop.transactions[raw["id"]][0]
    assert posted.body["refund"]["transactions"] == [
        {"parent_id": sale["id"], "amount": sale["amount"], "kind": "refund", "gateway": "paypal"}]
    assert [(r.amount_cents, r.status) for r in directory.refunds_for_order("105120")] == [
        (order.total_cents, "issued")]


def test_a_refund_beyond_what_was_paid_is_refused_without_a_request(shop, directory):
    with pytest.raises(ShopifyRejected, match="more than"):
        directory.add_refund(Refund("103877", 10**7, "Visa ending 4242", "issued", NOW, NOW))
    assert not shop.calls("orders/", method="POST")


def test_shopify_refusing_a_cancel_is_a_clear_error(directory):
    with pytest.raises(ShopifyRejected, match="HTTP 422.*fulfillments"):
        directory.set_status("104512", OrderStatus.CANCELLED, NOW)  # shipped: Shopify says no
    with pytest.raises(ValueError, match="only cancelled"):
        directory.set_status("105001", OrderStatus.SHIPPED, NOW)


# settings and selection ---------------------------------------------------------------------------------

def test_shop_names_become_base_urls():
    assert base_url("brightwave") == "https://brightwave.myshopify.com"
    assert base_url("brightwave.myshopify.com/") == "https://brightwave.myshopify.com"
    assert base_url("http://127.0.0.1:8081") == "http://127.0.0.1:8081"


def test_the_shopify_backend_needs_its_settings_at_start(tmp_path):
    with pytest.raises(ConfigurationError, match="SHOPIFY_SHOP and SHOPIFY_ACCESS_TOKEN"):
        Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "ORDER_BACKEND": "shopify"})
    with pytest.raises(ConfigurationError, match="ORDER_BACKEND must be one of sql, shopify"):
        Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "ORDER_BACKEND": "magento"})
    with pytest.raises(ConfigurationError, match="SHOPIFY_SHOP must be"):
        Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "ORDER_BACKEND": "shopify",
                           "SHOPIFY_SHOP": "my shop", "SHOPIFY_ACCESS_TOKEN": "t"})


def test_order_backend_selects_the_directory(tmp_path, shop):
    sql = build_directory(Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path)}))
    assert isinstance(sql, SqlCustomerDirectory)
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "ORDER_BACKEND": "shopify",
                                  "SHOPIFY_SHOP": shop.url, "SHOPIFY_ACCESS_TOKEN": shop.token})
    assert shop.token not in repr(settings)
    assert settings.rasa_environment()["ORDER_BACKEND"] == "shopify"  # the action server builds the same
    chosen = build_directory(settings)
    assert isinstance(chosen, ShopifyDirectory)
    assert chosen.get_order("104512").tracking_number == "1Z999AA10123456784"
