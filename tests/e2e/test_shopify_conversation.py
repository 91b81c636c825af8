"""A shop on Shopify, end to end: the real Rasa, action server and web app with ORDER_BACKEND=shopify pointing at a
local fake of Shopify's Admin API (tests/shopify_fake.py, run in this process and recording every request), and a
customer talking over REST.

A product instance of its own (ports PORT_BASE + 205/255/280), as the Slack tests have: the other e2e tests run on the
demo store's SQL tables. Customers are Shopify's: a signed identity names Shopify's numeric customer id, which is what
a Shopify storefront signs (bot/store/shopify.py, "How Shopify's records become the project's").
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from bot import runner
from bot.__main__ import MODEL_DIR, build_knowledge_base
from bot.identity import sign_identity
from bot.settings import PROJECT_ROOT, Settings
from bot.store.seed import demo_data
from bot.store.service import utcnow
from bot.store.shopify import API_VERSION
from tests.e2e.conftest import PORT_BASE, TOKEN, Servers, always_open_handoff_config, new_sender, text_of
from tests.shopify_fake import FakeShopify, customer_id

pytestmark = pytest.mark.integration

IDENTITY_SECRET = "e2e-shopify-identity"
JANE = customer_id("C1001")  # Jane Doe's Shopify id in the fake shop
TRY_AGAIN = "isn't answering right now"  # utter_order_system_unavailable


@pytest.fixture(scope="module")
def shop() -> Iterator[FakeShopify]:
    fake = FakeShopify().load_demo(*demo_data(utcnow())).start()  # the demo orders, dated from today
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, trained_model: Path, shop: FakeShopify) -> Iterator[Servers]:
    data_dir: Path = tmp_path_factory.mktemp("shopify-data")
    shutil.copytree(PROJECT_ROOT / "knowledge_base" / "articles", data_dir / "articles")
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(data_dir), "RASA_PORT": str(PORT_BASE + 205), "ACTION_PORT": str(PORT_BASE + 255),
        "WEB_PORT": str(PORT_BASE + 280), "RASA_TOKEN": TOKEN, "IDENTITY_SECRET": IDENTITY_SECRET,
        "KB_ARTICLES_DIR": str(data_dir / "articles"), "HANDOFF_CONFIG": str(always_open_handoff_config(data_dir)),
        "ORDER_BACKEND": "shopify", "SHOPIFY_SHOP": shop.url, "SHOPIFY_ACCESS_TOKEN": shop.token,
    })
    build_knowledge_base(settings)
    servers = Servers(settings, runner.start_all(settings, MODEL_DIR))
    yield servers
    runner.stop_all(servers.processes)


@pytest.fixture
def healthy(shop: FakeShopify) -> Iterator[FakeShopify]:
    shop.recover()
    yield shop
    shop.recover()  # an outage a test scripted ends with it


def jane() -> Dict[str, Any]:
    """The metadata a Shopify storefront sends for Jane signed in: her Shopify id and email, signed."""
    return {"customer": {"customer_id": JANE, "email": "jane.doe@example.com",
                         "signature": sign_identity(IDENTITY_SECRET, JANE, "jane.doe@example.com")}}


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in m.get("buttons") or []]


def offers_a_person(messages: List[Dict[str, Any]]) -> bool:
    return any(b["payload"] == "/request_human" for b in buttons(messages))


def test_a_signed_in_customer_gets_an_orders_status_from_shopify(product, healthy):
    customer = new_sender()
    assert "Hi Jane" in text_of(product.say(customer, "hello", jane()))  # Shopify's customer record names her
    assert healthy.calls(f"customers/{JANE}.json")
    offered = product.say(customer, "where is my order?", jane())
    # her orders, listed from Shopify, newest first (the demo store lists the same three)
    assert [b["title"].split(" ")[0] for b in buttons(offered)] == ["#104512", "#103877", "#102250"]
    assert healthy.calls(f"customers/{JANE}/orders.json")
    before = len(healthy.requests)
    status = text_of(product.say(customer, '/inform{"order_number": "104512"}', jane()))
    assert "on its way with UPS" in status and "1Z999AA10123456784" in status
    asked = healthy.requests[before:]
    order_id = healthy.order_by_number("104512")["id"]
    assert any(r.path == "orders.json" and r.query.get("name") == "104512" for r in asked)
    assert any(r.path.startswith(f"orders/{order_id}/fulfillments/") for r in asked)  # the carrier's estimate
    assert all(r.version == API_VERSION and r.headers.get("X-Shopify-Access-Token") == healthy.token for r in asked)


def test_an_anonymous_customer_is_verified_by_the_email_on_the_shopify_order(product, healthy):
    customer = new_sender()
    assert "what email address" in text_of(product.say(customer, "where is my order 103877?"))
    before = len(healthy.requests)
    assert "was delivered on" in text_of(product.say(customer, "jane.doe@example.com"))
    # the order's owner is read from Shopify and compared with the email given
    assert any(r.path == f"customers/{JANE}.json" for r in healthy.requests[before:])


def test_a_return_says_what_we_can_do_and_the_person_offered_takes_it(product, healthy):
    customer = new_sender()
    product.say(customer, "hi", jane())
    before = len(healthy.requests)
    reply = product.say(customer, "I want to return my order 103877", jane())
    said = text_of(reply)
    # Shopify's REST API has no returns: nothing is asked that it could not use, nothing is sent to it
    assert "Here's what we can do" in said and "person from our team" in said and "policy" not in said.lower()
    assert "email" not in said and "which item" not in said.lower()
    assert offers_a_person(reply) and healthy.requests[before:] == []
    person = product.say(customer, "/request_human", jane())
    handoff = [m["custom"]["handoff"] for m in person if isinstance(m.get("custom"), dict) and "handoff" in m["custom"]]
    # the team is on duty around the clock here: a place in the queue, or (nobody signed in) the offline form
    assert handoff and handoff[0]["state"] in ("waiting", "offline"), person


@pytest.mark.parametrize("outage", ["503", "429"])
def test_shopify_failing_or_throttling_says_try_again_or_a_person(product, healthy, outage):
    customer = new_sender()
    product.say(customer, "hello", jane())
    if outage == "503":
        healthy.fail(503, times=10_000)
    else:
        healthy.rate_limit(times=10_000, retry_after="0.5")
    before = len(healthy.requests)
    reply = product.say(customer, "where is my order 104512?", jane())
    said = text_of(reply)
    assert TRY_AGAIN in said and "try again" in said and offers_a_person(reply)
    assert "UPS" not in said and not any(w in said for w in ("Traceback", "Shopify", "HTTP", "Error"))
    assert len(healthy.requests) - before >= 4  # the connector retried before giving up
    healthy.recover()
    # the conversation goes on: asked again once the shop answers, the customer gets the status
    status = text_of(product.say(customer, "where is my order 104512?", jane()))
    assert "on its way with UPS" in status
