"""A `CustomerDirectory` over a Shopify shop's Admin REST API.

API version: pinned to ``API_VERSION = "2026-07"``. Shopify supports each quarterly version for at least twelve
months and answers requests for an unsupported one with the oldest supported version, i.e. with whatever changed
in between; so the pin is a recent *stable* version (supported until at least July 2027) and moving it is a
deliberate change, checked against Shopify's changelog and the fake (tests/shopify_fake.py). 2026-07 is also the
newest version whose REST resource definitions could be checked here (Shopify's generated `shopify_api` resources):
orders (with the `name` filter), customers (search, a customer's orders), fulfillments and fulfillment events,
transactions and refunds are all there; a Return resource is not, in that version or any other REST version.

Settings (bot/settings.py): ``SHOPIFY_SHOP`` (``acme``, ``acme.myshopify.com``, or a base URL such as
``http://127.0.0.1:8081`` for the fake) and ``SHOPIFY_ACCESS_TOKEN`` (the custom app's Admin API access token, sent in
``X-Shopify-Access-Token`` and nowhere else: not in URLs, logs, errors or ``repr``). The app needs the scopes
``read_customers``, ``read_orders``, ``write_orders`` and ``read_fulfillments``.

How Shopify's records become the project's:

- ``Customer.id`` is Shopify's numeric customer id as text (what a Shopify storefront signs as the customer id).
- ``Order.number`` is Shopify's ``order_number`` (``#104512`` → ``"104512"``): digits whatever name prefix or
  suffix the shop uses, which is what customers type and `normalise_order_number` accepts.
- ``placed_at`` is ``processed_at`` (when the customer ordered; ``created_at`` is when the record was made, which for
  imported orders is later). Every time becomes naive UTC, as the rest of the project keeps them.
- items: ``line_items`` (``sku``, ``title``, ``quantity``, ``price``); ``total_cents``: ``total_price``;
  ``shipping_method``: the first shipping line's ``title``; ``payment_method``: from the order's first successful
  payment transaction, "Visa ending 4242" for a card, the wallet ("Apple Pay") or the gateway ("PayPal") otherwise.
- shipment: the latest successful fulfillment gives ``carrier`` (``tracking_company``), ``tracking_number`` and
  ``shipped_at`` (the fulfillment's ``created_at``: Shopify makes the fulfillment when the parcel leaves); its
  fulfillment events give ``estimated_delivery`` (the latest ``estimated_delivery_at``, as a date in the shop's own
  time zone) and ``delivered_at`` (the ``delivered`` event's ``happened_at``). ``tracking_url`` has no field in
  `Order` and is not carried.

Status mapping (first row that matches wins):

=========================================================================  ============================
Shopify                                                                     OrderStatus
=========================================================================  ============================
``cancelled_at`` set                                                        CANCELLED
every line item's whole quantity refunded with ``restock_type: return``    RETURNED
no fulfillment with ``status: success`` (none yet, or only ``pending`` /   PROCESSING
``open`` / ``cancelled`` / ``failure`` ones: nothing has left the warehouse)
every successful fulfillment has ``shipment_status: delivered``            DELIVERED
otherwise (in transit, out for delivery, label printed, partly shipped,    SHIPPED
a failed delivery attempt: a parcel is on its way, nothing can be cancelled)
=========================================================================  ============================

``financial_status`` does not decide the status: a paid order may be unshipped and a refunded one undelivered.

What this connector cannot do (``capabilities`` leaves ``"returns"`` out, so the assistant can say so and offer a
person): REST has no Return resource in any version, so a return authorisation can be neither created nor read
here; Shopify's returns live only in the GraphQL Admin API (``returnCreate``, ``Order.returns``), which wants a
fulfillment line item id and one of its own reason codes and names returns itself, so an honest mapping is a
separate piece of work. ``add_return`` raises `CapabilityMissing`, as does a *pending* refund (the refund a return
promises once the item is back, which is not a Shopify refund until it is issued); ``returns_for_order`` answers an
empty list, so refund status (REST refunds) still works. A return that Shopify already refunded with its items
restocked as returned is visible: the order reads RETURNED and its refund is listed.

Cancelling is ``POST /orders/{id}/cancel.json``; Shopify releases an authorised-only payment itself. The service
then records the refund of the order's total: here that issues (``POST /orders/{id}/refunds.json``) whatever part
of it Shopify still holds as captured money, and nothing when Shopify already released or refunded it at the
cancel, so the customer is never paid twice. ``refunds_for_order`` lists Shopify's refunds and, for a cancelled
order, the released authorisation (a ``void`` transaction): the customer's money back either way.

Rate limits and errors: one `requests` session with urllib3's `Retry` on its adapter. A 429 is retried for every
method after ``Retry-After`` (Shopify sends seconds such as "2.0", which urllib3 alone rejects), capped at
`MAX_RETRY_AFTER`; a 5xx only for GET and PUT (a POST that failed on Shopify's side may still have cancelled or
refunded, and REST has no idempotency key, so it is not sent twice); a refused connection for every method (nothing
was sent); a read timeout never (the request may have been applied). What is left becomes a `ShopifyError` naming
the request and the setting to check: a `BackendError` of bot/store/directory.py, and `ShopifyUnavailable` a
`BackendUnavailable`, which the actions turn into "try again in a few minutes, or a person" (actions/verification.py).
"""
from __future__ import annotations

import logging
import time
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bot.errors import ConfigurationError
from bot.store.directory import (
    ADDRESS_CHANGES,
    CANCELLATIONS,
    REFUNDS,
    RETURNS,
    BackendError,
    BackendUnavailable,
    CapabilityMissing,
)
from bot.store.models import Address, Customer, Order, OrderItem, OrderStatus, Refund, ReturnAuthorisation

logger = logging.getLogger(__name__)

API_VERSION = "2026-07"
PAGE_LIMIT = 250  # Shopify's largest page: fewest calls against the rate limit
MAX_RETRY_AFTER = 10.0  # seconds; Shopify's REST bucket refills 2 calls/s, so real waits are a second or two
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT"})  # sending these twice changes nothing more

# Display names of gateways whose plain title-casing reads wrong; any other gateway is title-cased.
GATEWAY_NAMES = {"paypal": "PayPal", "shopify_payments": "Card", "bogus": "Test gateway"}


class ShopifyError(BackendError):
    """Shopify could not be asked, or answered with an error; the message names the request, never the token."""


class ShopifyUnavailable(ShopifyError, BackendUnavailable):
    """Shopify did not answer in time, was unreachable, kept failing (5xx) or kept throttling (429)."""


class ShopifyAuthError(ShopifyError, ConfigurationError):
    """Shopify refused the access token (401) or the app lacks a scope (403): a setting to fix."""


class ShopifyRejected(ShopifyError):
    """Shopify understood the request and refused it (4xx other than 401/403/404/429), with its reason."""


class _ShopifyRetry(Retry):
    """urllib3's Retry with Shopify's rules: see the module docstring (429 any method, 5xx idempotent ones)."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:  # throttled requests were not applied, so even a POST may be sent again
            return True
        return method.upper() in IDEMPOTENT_METHODS and status_code in (self.status_forcelist or ())

    def parse_retry_after(self, retry_after: str) -> float:
        try:  # Shopify sends decimal seconds ("2.0"); urllib3 only accepts whole seconds or an HTTP date
            seconds = float(retry_after)
        except ValueError:
            return super().parse_retry_after(retry_after)
        return min(max(seconds, 0.0), self.retry_after_max)


def base_url(shop: str) -> str:
    """The shop's address from SHOPIFY_SHOP: a base URL as given, 'x.myshopify.com' or just 'x' over HTTPS."""
    shop = shop.strip().rstrip("/")
    if shop.startswith(("http://", "https://")):
        return shop
    if "." not in shop:
        shop = f"{shop}.myshopify.com"
    return f"https://{shop}"


class ShopifyDirectory:
    """Customers, orders, shipments and refunds of one Shopify shop (Admin REST API, version `API_VERSION`)."""

    capabilities: FrozenSet[str] = frozenset({CANCELLATIONS, ADDRESS_CHANGES, REFUNDS})

    def __init__(self, shop: str, access_token: str, *, timeout: float = 10.0, retries: int = 3,
                 backoff: float = 0.5, max_retry_after: float = MAX_RETRY_AFTER) -> None:
        if not access_token:
            raise ConfigurationError("SHOPIFY_ACCESS_TOKEN is empty")
        self._base = base_url(shop)
        self._api = f"{self._base}/admin/api/{API_VERSION}"
        self._timeout = timeout
        self._session = requests.Session()
        retry = _ShopifyRetry(total=retries, connect=retries, read=False, status=retries, other=0,
                              backoff_factor=backoff, status_forcelist=RETRY_STATUSES, allowed_methods=None,
                              respect_retry_after_header=True, raise_on_status=False,
                              retry_after_max=max_retry_after)
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({"X-Shopify-Access-Token": access_token, "Accept": "application/json",
                                      "User-Agent": "support-assistant-shopify-directory"})

    @classmethod
    def from_settings(cls, settings: Any) -> "ShopifyDirectory":  # noqa: ANN401 - bot.settings.Settings
        return cls(settings.shopify_shop, settings.shopify_access_token)

    def __repr__(self) -> str:  # the session holds the token: never let a repr print it
        return f"ShopifyDirectory({self._base!r}, api {API_VERSION})"

    def close(self) -> None:
        self._session.close()

    # -- reads ---------------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> Optional[Customer]:
        if not customer_id.isdigit():  # Shopify ids are numbers; anything else cannot be one of its customers
            return None
        found = self._get_or_none(f"customers/{customer_id}.json")
        return _customer(found["customer"]) if found else None

    def find_customer_by_email(self, email: str) -> Optional[Customer]:
        wanted = email.strip().lower()
        if not wanted or '"' in wanted:  # a quote would end the search term early and widen the search
            return None
        # Shopify's search is by words and may return near matches: only the exact address (any case) counts
        for found in self._pages("customers/search.json", {"query": f'email:"{wanted}"'}, "customers"):
            if (found.get("email") or "").strip().lower() == wanted:
                return _customer(found)
        return None

    def get_order(self, number: str) -> Optional[Order]:
        raw = self._find_order(number)
        return self._order(raw) if raw else None

    def orders_for_customer(self, customer_id: str) -> List[Order]:
        if not customer_id.isdigit():
            return []
        # status=any: Shopify lists only open orders otherwise, and cancelled or closed ones are orders too
        raws = list(self._pages(f"customers/{customer_id}/orders.json", {"status": "any"}, "orders"))
        orders = [self._order(raw) for raw in raws]
        return sorted(orders, key=lambda o: o.placed_at, reverse=True)

    def returns_for_order(self, number: str) -> List[ReturnAuthorisation]:
        # Declared missing ("returns" is not in capabilities): REST cannot read Shopify's returns, so there are none
        # to tell, and refund status keeps working from the refunds alone.
        return []

    def refunds_for_order(self, number: str) -> List[Refund]:
        raw = self._require_order(number)
        transactions = self._transactions(raw["id"])
        refunds: List[Tuple[datetime, int, Refund]] = []
        for refund in self._pages(f"orders/{raw['id']}/refunds.json", {}, "refunds"):
            money = [t for t in refund.get("transactions") or []
                     if t.get("kind") == "refund" and t.get("status") in ("success", "pending")]
            if not money:  # a restock-only refund gives no money back; a failed one gave none either
                continue
            issued = all(t.get("status") == "success" for t in money)
            created = _time(refund.get("created_at"))
            parent = transactions.get(money[0].get("parent_id")) or money[0]
            refunds.append((created, int(refund["id"]), Refund(
                order_number=number,
                amount_cents=sum(_cents(t.get("amount")) for t in money),
                method=_payment_method(parent),
                status="issued" if issued else "pending",
                created_at=created,
                issued_at=max(_time(t.get("processed_at") or t.get("created_at")) for t in money) if issued else None,
            )))
        if raw.get("cancelled_at"):  # the hold Shopify released at the cancel is the customer's money back too
            for void in transactions.values():
                if void.get("kind") == "void" and void.get("status") == "success":
                    held = transactions.get(void.get("parent_id")) or void
                    at = _time(void.get("processed_at") or void.get("created_at"))
                    refunds.append((at, int(void["id"]), Refund(
                        order_number=number, amount_cents=_cents(held.get("amount")),
                        method=_payment_method(held), status="issued", created_at=at, issued_at=at)))
        return [refund for _, _, refund in sorted(refunds, key=lambda r: (r[0], r[1]))]

    # -- writes --------------------------------------------------------------------------

    def set_status(self, number: str, status: OrderStatus, at: datetime) -> None:
        if status is not OrderStatus.CANCELLED:
            # Shopify derives processing/shipped/delivered/returned from fulfillments and refunds; only a cancel
            # is an order status one can set, and `at` is Shopify's own clock there.
            raise ValueError(f"Shopify orders cannot be set to {status.value!r}; only cancelled")
        raw = self._require_order(number)
        # email: Shopify sends the customer its cancellation notice, as it does for a cancel in the admin
        self._request("POST", f"orders/{raw['id']}/cancel.json", json={"reason": "customer", "email": True})

    def set_shipping_address(self, number: str, address: Address) -> None:
        raw = self._require_order(number)
        first, _, last = address.name.strip().rpartition(" ")
        address1, _, address2 = address.line1.partition(", ")
        # Shopify merges the fields it is sent into the old address: every field is sent, address2 even when empty,
        # or an old flat number would stay on the new street.
        shipping = {"first_name": first, "last_name": last, "address1": address1.strip(),
                    "address2": address2.strip(), "city": address.city, "province": address.state,
                    "province_code": address.state, "zip": address.postal_code}
        self._request("PUT", f"orders/{raw['id']}.json",
                      json={"order": {"id": raw["id"], "shipping_address": shipping}})

    def add_return(self, authorisation: ReturnAuthorisation) -> None:
        raise CapabilityMissing(RETURNS, "Shopify (REST Admin API)", "REST has no Return resource")

    def add_refund(self, refund: Refund) -> None:
        if refund.status != "issued":
            # A pending refund is the one a return promises; Shopify has no such record before the money moves.
            raise CapabilityMissing(RETURNS, "Shopify (REST Admin API)",
                                    "a refund that waits for a returned item is part of a return")
        raw = self._require_order(refund.order_number)
        transactions = self._transactions(raw["id"])
        paid = [t for t in transactions.values()
                if t.get("kind") in ("sale", "capture") and t.get("status") == "success"]
        refunded = sum(_cents(t.get("amount")) for t in transactions.values()
                       if t.get("kind") == "refund" and t.get("status") in ("success", "pending"))
        refundable = sum(_cents(t.get("amount")) for t in paid) - refunded
        amount = refund.amount_cents
        if amount > refundable:
            if not raw.get("cancelled_at"):
                raise ShopifyRejected(f"order {refund.order_number}: a refund of {amount} cents is more than the "
                                      f"{max(refundable, 0)} cents Shopify can still refund")
            # Cancelled: what was never captured was released by Shopify at the cancel (the void listed by
            # refunds_for_order); only captured money left over is refunded.
            logger.info("order %s: Shopify released the uncaptured payment at the cancel; refunding %s of %s cents",
                        refund.order_number, max(refundable, 0), amount)
            amount = max(refundable, 0)
        if amount == 0:
            return
        parent = max(paid, key=lambda t: _cents(t.get("amount")))  # the payment the money goes back to
        self._request("POST", f"orders/{raw['id']}/refunds.json", json={"refund": {
            "currency": raw.get("currency"),
            "notify": True,
            "note": "refund recorded by the support assistant",
            "transactions": [{"parent_id": parent["id"], "amount": _money(amount), "kind": "refund",
                              "gateway": parent.get("gateway")}],
        }})

    # -- Shopify records -----------------------------------------------------------------

    def _find_order(self, number: str) -> Optional[dict]:
        if not number.isdigit():
            return None
        # `name` matches the order's name ("#104512"); Shopify may match loosely, so the number itself decides
        for raw in self._pages("orders.json", {"name": number, "status": "any"}, "orders"):
            if str(raw.get("order_number")) == number:
                return raw
        return None

    def _require_order(self, number: str) -> dict:
        raw = self._find_order(number)
        if raw is None:
            raise ShopifyError(f"Shopify has no order {number}")
        return raw

    def _transactions(self, order_id: int) -> Dict[Any, dict]:
        found = self._request("GET", f"orders/{order_id}/transactions.json").json()
        return {t["id"]: t for t in found.get("transactions") or []}

    def _order(self, raw: Mapping[str, Any]) -> Order:
        transactions = self._transactions(raw["id"])
        payment = next((t for t in sorted(transactions.values(), key=lambda t: t["id"])
                        if t.get("kind") in ("authorization", "sale") and t.get("status") == "success"), None)
        shipped = sorted((f for f in raw.get("fulfillments") or [] if f.get("status") == "success"),
                         key=lambda f: (_time(f.get("created_at")), f["id"]))
        latest = shipped[-1] if shipped else None
        estimated: Optional[date] = None
        delivered_at: Optional[datetime] = None
        if latest is not None:
            events = self._request(
                "GET", f"orders/{raw['id']}/fulfillments/{latest['id']}/events.json").json().get("fulfillment_events")
            events = sorted(events or [], key=lambda e: (_time(e.get("happened_at") or e.get("created_at")), e["id"]))
            estimates = [e["estimated_delivery_at"] for e in events if e.get("estimated_delivery_at")]
            if estimates:  # the shop's local date is the one the customer was promised
                estimated = _aware(estimates[-1]).date()
            delivered = [e for e in events if e.get("status") == "delivered"]
            if delivered:
                delivered_at = _time(delivered[-1].get("happened_at") or delivered[-1].get("created_at"))
            elif latest.get("shipment_status") == "delivered":  # no event: when the carrier status last changed
                delivered_at = _time(latest.get("updated_at"))
        shipping_lines = raw.get("shipping_lines") or []
        customer = raw.get("customer") or {}
        return Order(
            number=str(raw["order_number"]),
            customer_id=str(customer["id"]) if customer.get("id") is not None else "",  # a guest order: no owner
            status=order_status(raw),
            placed_at=_time(raw.get("processed_at") or raw.get("created_at")),
            items=tuple(OrderItem(sku=item.get("sku") or "", product=item.get("title") or item.get("name") or "",
                                  quantity=int(item.get("quantity") or 0), unit_price_cents=_cents(item.get("price")))
                        for item in raw.get("line_items") or []),
            total_cents=_cents(raw.get("total_price")),
            payment_method=_payment_method(payment) if payment else _gateway(raw.get("payment_gateway_names")),
            shipping_method=(shipping_lines[0].get("title") or "") if shipping_lines else "",
            shipping_address=_address(raw.get("shipping_address") or {}),
            carrier=latest.get("tracking_company") if latest else None,
            tracking_number=(latest.get("tracking_number") or next(iter(latest.get("tracking_numbers") or []), None))
            if latest else None,
            shipped_at=_time(latest.get("created_at")) if latest else None,
            estimated_delivery=estimated,
            delivered_at=delivered_at,
            cancelled_at=_time(raw["cancelled_at"]) if raw.get("cancelled_at") else None,
        )

    # -- HTTP ----------------------------------------------------------------------------

    def _pages(self, path: str, params: Dict[str, Any], key: str) -> Iterator[dict]:
        """Every record of a listing, following the `Link: <...page_info=...>; rel="next"` header to the end."""
        response = self._request("GET", path, params={**params, "limit": PAGE_LIMIT})
        while True:
            yield from response.json().get(key) or []
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            # The next page's URL carries page_info and the limit only (Shopify refuses the filters beside it),
            # and it must be the shop's own: the token goes wherever this request goes.
            if _origin(following) != _origin(self._base):
                raise ShopifyError(f"Shopify's next page is on another host ({_origin(following)}); not followed")
            response = self._request("GET", following)

    def _get_or_none(self, path: str) -> Optional[dict]:
        response = self._request("GET", path, missing_ok=True)
        return None if response.status_code == 404 else response.json()

    def _request(self, method: str, path: str, *, params: Optional[Dict[str, Any]] = None,
                 json: Optional[dict] = None, missing_ok: bool = False) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else f"{self._api}/{path}"
        what = f"{method} {urlsplit(url).path}"  # no query string: it may hold a customer's email
        started = time.monotonic()
        try:
            response = self._session.request(method, url, params=params, json=json, timeout=self._timeout)
        except requests.Timeout:
            raise ShopifyUnavailable(f"Shopify did not answer {what} within {self._timeout:g} s") from None
        except requests.ConnectionError as error:
            raise ShopifyUnavailable(f"cannot reach Shopify at {self._base} for {what} "
                                     f"({error.__class__.__name__}); check SHOPIFY_SHOP") from None
        status = response.status_code
        logger.debug("shopify %s -> %s in %.0f ms", what, status, (time.monotonic() - started) * 1000)
        if status < 300 or (status == 404 and missing_ok):
            return response
        logger.warning("shopify %s -> %s: %s", what, status, _errors(response))
        if status == 401:
            raise ShopifyAuthError(f"Shopify refused the access token for {what} (HTTP 401): set SHOPIFY_ACCESS_TOKEN "
                                   "to the Admin API access token of the shop's custom app")
        if status == 403:
            raise ShopifyAuthError(f"the Shopify app may not {what} (HTTP 403: {_errors(response)}): give the app "
                                   "behind SHOPIFY_ACCESS_TOKEN the read_customers, read_orders, write_orders and "
                                   "read_fulfillments scopes")
        if status == 429:
            raise ShopifyUnavailable(f"Shopify kept rate-limiting {what} (HTTP 429) after retrying")
        if status >= 500:
            retried = "after retrying" if method.upper() in IDEMPOTENT_METHODS else "(not retried: it may have applied)"
            raise ShopifyUnavailable(f"Shopify failed {what} with HTTP {status} {retried}")
        if status == 404:
            raise ShopifyError(f"Shopify has no {what} (HTTP 404)")
        raise ShopifyRejected(f"Shopify refused {what} (HTTP {status}): {_errors(response)}")


def order_status(raw: Mapping[str, Any]) -> OrderStatus:
    """The project's status of a Shopify order (the table in the module docstring)."""
    if raw.get("cancelled_at"):
        return OrderStatus.CANCELLED
    items = raw.get("line_items") or []
    returned: Dict[Any, int] = {}
    for refund in raw.get("refunds") or []:
        for line in refund.get("refund_line_items") or []:
            if line.get("restock_type") == "return":
                returned[line.get("line_item_id")] = returned.get(line.get("line_item_id"), 0) + int(line.get("quantity") or 0)
    if items and all(returned.get(item.get("id"), 0) >= int(item.get("quantity") or 0) for item in items):
        return OrderStatus.RETURNED
    shipped = [f for f in raw.get("fulfillments") or [] if f.get("status") == "success"]
    if not shipped:
        return OrderStatus.PROCESSING
    if all(f.get("shipment_status") == "delivered" for f in shipped):
        return OrderStatus.DELIVERED
    return OrderStatus.SHIPPED


def _customer(raw: Mapping[str, Any]) -> Customer:
    return Customer(id=str(raw["id"]), first_name=raw.get("first_name") or "", last_name=raw.get("last_name") or "",
                    email=raw.get("email") or "")


def _address(raw: Mapping[str, Any]) -> Address:
    name = raw.get("name") or " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p)
    line1 = ", ".join(p.strip() for p in (raw.get("address1"), raw.get("address2")) if p and p.strip())
    return Address(name=name or "", line1=line1, city=raw.get("city") or "",
                   state=raw.get("province_code") or raw.get("province") or "", postal_code=raw.get("zip") or "")


def _payment_method(transaction: Mapping[str, Any]) -> str:
    details = transaction.get("payment_details") or {}
    wallet = details.get("credit_card_wallet")
    if wallet:  # "apple_pay" -> "Apple Pay": what the customer tapped, not the card behind it
        return wallet.replace("_", " ").title()
    company, number = details.get("credit_card_company"), details.get("credit_card_number") or ""
    digits = "".join(ch for ch in number if ch.isdigit())
    if company and len(digits) >= 4:
        return f"{company} ending {digits[-4:]}"
    return _gateway([transaction.get("gateway")])


def _gateway(names: Any) -> str:  # noqa: ANN401 - a list of gateway names, possibly empty or None
    name = next((n for n in names or [] if n), "")
    return GATEWAY_NAMES.get(name, name.replace("_", " ").title())


def _aware(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _time(raw: Optional[str]) -> datetime:
    """Shopify's ISO 8601 time (in the shop's offset) as naive UTC; a missing one sorts first."""
    if not raw:
        return datetime.min
    return _aware(raw).astimezone(timezone.utc).replace(tzinfo=None)


def _cents(raw: Any) -> int:  # noqa: ANN401 - Shopify sends money as decimal strings ("129.99")
    return int((Decimal(str(raw or "0")) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _origin(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _errors(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("errors", body.get("error", body)) if isinstance(body, dict) else body)[:300]
