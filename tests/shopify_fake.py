"""A local stand-in for a Shopify shop's Admin REST API, holding a demo shop like the demo store's seed.

A real HTTP server on loopback (`FakeShopify.url` is what SHOPIFY_SHOP is set to) answering the resources the
connector uses the way Shopify documents them: `/admin/api/<version>/...json`, the token in
`X-Shopify-Access-Token` (anything else: 401), times in the shop's own UTC offset, money as decimal strings,
listings paged through `Link: <...page_info=...>; rel="next"` (filters and page_info together: 400, as Shopify).
`requests` is every request received, in order; `fail` scripts the next answers of a path (a status, a
Retry-After, a delay past the client's timeout) until `recover`; `rate_limit` is a 429 with Retry-After, as Shopify
throttles.

`load_demo` turns the seed (bot/store/seed.py) into Shopify records: numeric ids, line items, shipping lines,
transactions (an authorisation at the order, its capture at shipping, a void for an order cancelled before),
fulfillments with tracking and events (in transit with the estimate, delivered), and a refund with items restocked
as returned for a returned order whose refund was issued. What Shopify's REST API cannot hold is left out, as it
would be in a real shop: return authorisations, and refunds still waiting for an item (those are GraphQL returns).
"""
from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlencode, urlsplit

from bot.store.models import Customer, Order, Refund, ReturnAuthorisation

TOKEN = "shpat_fake_0123456789abcdef"
SHOP_TZ = timezone(timedelta(hours=-5))  # the shop's offset: Shopify answers in it, not in UTC
CUSTOMER_IDS = 7_390_000_000_000  # + the seed's number: Shopify's ids are large integers
ORDER_IDS = 5_810_000_000_000
FILTERS_WITH_PAGE_INFO = {"limit", "fields", "page_info"}


@dataclass
class Request:
    method: str
    path: str  # below /admin/api/<version>/, e.g. "orders.json"
    version: str
    query: Dict[str, str]
    body: Any
    headers: Dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Scripted:
    status: int
    times: int
    path: Optional[str]  # only requests whose path starts with this; None: any
    method: Optional[str]
    retry_after: Optional[str]
    delay: float
    body: Any


def _at(moment: Optional[datetime]) -> Optional[str]:
    """A naive UTC time as Shopify writes it: ISO 8601 in the shop's offset."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc).astimezone(SHOP_TZ).isoformat()


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(text: Any) -> int:  # noqa: ANN401
    whole, _, frac = str(text).partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def customer_id(seed_id: str) -> str:
    """The Shopify id the fake gives a seed customer ("C1001" -> "7390000001001")."""
    return str(CUSTOMER_IDS + int(seed_id.lstrip("C")))


class FakeShopify:
    """A shop's Admin REST API on 127.0.0.1:<port>; `clock` is the shop's server time (naive UTC)."""

    def __init__(self, token: str = TOKEN, clock: Callable[[], datetime] = lambda: datetime.utcnow(),
                 max_limit: int = 250) -> None:
        self.token = token
        self.clock = clock
        self.max_limit = max_limit  # Shopify's page size ceiling; tests lower it to see pages followed
        self.requests: List[Request] = []
        self.customers: Dict[int, dict] = {}
        self.orders: Dict[int, dict] = {}
        self.transactions: Dict[int, List[dict]] = {}  # order id -> transactions
        self.events: Dict[int, List[dict]] = {}  # fulfillment id -> events
        self._scripted: List[_Scripted] = []
        self._ids = itertools.count(1_000_001)
        self._lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Shopify: the client's pool is exercised

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                status, body, headers = fake._answer(self.command, self.path, raw, dict(self.headers.items()))
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeShopify":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # scripting ---------------------------------------------------------------------

    def fail(self, status: int, times: int = 1, path: Optional[str] = None, method: Optional[str] = None,
             retry_after: Optional[str] = None, delay: float = 0.0, body: Any = None) -> None:
        """The next `times` matching requests answer `status` (after `delay` seconds) instead of the resource."""
        with self._lock:
            self._scripted.append(_Scripted(status, times, path, method, retry_after, delay,
                                            body if body is not None else {"errors": f"scripted {status}"}))

    def rate_limit(self, times: int = 1, retry_after: str = "1.0", path: Optional[str] = None) -> None:
        self.fail(429, times, path, retry_after=retry_after,
                  body={"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                                  "uninterrupted service."})

    def recover(self) -> None:
        """The shop is healthy again: scripted answers not given yet are dropped (a test scripts "fails for a
        while" with a large `times`, as an outage does not end after a known number of requests)."""
        with self._lock:
            self._scripted.clear()

    def calls(self, path_prefix: str = "", method: Optional[str] = None) -> List[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix) and (method is None or r.method == method)]

    # the demo shop -----------------------------------------------------------------

    def load_demo(self, customers: List[Customer], orders: List[Order], returns: List[ReturnAuthorisation],
                  refunds: List[Refund]) -> "FakeShopify":
        """The seed as Shopify records (see the module docstring for what REST cannot hold)."""
        del returns  # Shopify's returns are GraphQL-only: a REST client never sees them
        with self._lock:
            for customer in customers:
                cid = int(customer_id(customer.id))
                self.customers[cid] = {"id": cid, "email": customer.email, "first_name": customer.first_name,
                                       "last_name": customer.last_name, "state": "enabled", "currency": "USD",
                                       "created_at": _at(datetime(2024, 1, 1)), "tags": ""}
            for order in orders:
                self._add_order(order, [r for r in refunds if r.order_number == order.number])
        return self

    def _add_order(self, order: Order, refunds: List[Refund]) -> None:
        oid = ORDER_IDS + int(order.number)
        cid = int(customer_id(order.customer_id))
        line_items = [{"id": next(self._ids), "sku": item.sku, "title": item.product, "name": item.product,
                       "quantity": item.quantity, "price": _money(item.unit_price_cents), "variant_title": None,
                       "fulfillable_quantity": 0 if order.shipped_at else item.quantity}
                      for item in order.items]
        first, _, last = order.shipping_address.name.rpartition(" ")
        address1, _, address2 = order.shipping_address.line1.partition(", ")
        customer = self.customers[cid]
        raw = {
            "id": oid, "admin_graphql_api_id": f"gid://shopify/Order/{oid}", "order_number": int(order.number),
            "number": int(order.number) - 1000, "name": f"#{order.number}", "email": customer["email"],
            "created_at": _at(order.placed_at), "processed_at": _at(order.placed_at), "updated_at": _at(order.placed_at),
            "cancelled_at": _at(order.cancelled_at), "cancel_reason": "customer" if order.cancelled_at else None,
            "closed_at": None, "currency": "USD", "total_price": _money(order.total_cents),
            "subtotal_price": _money(order.total_cents), "financial_status": "authorized", "fulfillment_status": None,
            "payment_gateway_names": [self._gateway(order.payment_method)],
            "customer": {k: customer[k] for k in ("id", "email", "first_name", "last_name")},
            "line_items": line_items,
            "shipping_lines": [{"id": next(self._ids), "title": order.shipping_method,
                                "code": order.shipping_method.lower().replace(" ", "_"), "price": "0.00"}],
            "shipping_address": {"first_name": first, "last_name": last, "name": order.shipping_address.name,
                                 "address1": address1, "address2": address2 or None, "city": order.shipping_address.city,
                                 "province": order.shipping_address.state, "province_code": order.shipping_address.state,
                                 "zip": order.shipping_address.postal_code, "country": "United States", "country_code": "US"},
            "fulfillments": [], "refunds": [],
        }
        authorised = self._transaction(oid, "authorization", order.total_cents, order.payment_method, order.placed_at)
        if order.cancelled_at:
            self._transaction(oid, "void", order.total_cents, order.payment_method, order.cancelled_at, authorised)
            raw["financial_status"] = "voided"
        if order.shipped_at:  # cards are charged at shipping (the seed's rule): the capture comes with the parcel
            self._transaction(oid, "capture", order.total_cents, order.payment_method, order.shipped_at, authorised)
            raw["financial_status"] = "paid"
            raw["fulfillment_status"] = "fulfilled"
            fid = next(self._ids)
            delivered = order.delivered_at is not None
            raw["fulfillments"].append({
                "id": fid, "order_id": oid, "status": "success", "created_at": _at(order.shipped_at),
                "updated_at": _at(order.delivered_at or order.shipped_at), "tracking_company": order.carrier,
                "tracking_number": order.tracking_number, "tracking_numbers": [order.tracking_number],
                "tracking_url": f"https://tracking.example/{order.tracking_number}",
                "shipment_status": "delivered" if delivered else "in_transit", "name": f"#{order.number}.1",
                "line_items": line_items,
            })
            estimate = None
            if order.estimated_delivery:  # carriers promise a local date; kept at noon in the shop's offset
                estimate = datetime.combine(order.estimated_delivery, datetime.min.time()).replace(
                    hour=12, tzinfo=SHOP_TZ).isoformat()
            self.events[fid] = [self._event(oid, fid, "in_transit", order.shipped_at + timedelta(hours=2), estimate)]
            if delivered:
                self.events[fid].append(self._event(oid, fid, "delivered", order.delivered_at, None))
        for refund in refunds:
            if refund.status != "issued" or not order.shipped_at:
                continue  # pending: a return's promise (GraphQL); a cancelled order's: the void above
            returned = [{"id": next(self._ids), "line_item_id": line["id"], "quantity": line["quantity"],
                         "restock_type": "return", "subtotal": line["price"]} for line in line_items]
            capture = next(t for t in self.transactions[oid] if t["kind"] == "capture")
            money = self._transaction(oid, "refund", refund.amount_cents, refund.method,
                                      refund.issued_at or refund.created_at, capture)
            raw["refunds"].append({"id": next(self._ids), "order_id": oid, "created_at": _at(refund.created_at),
                                   "processed_at": _at(refund.issued_at), "note": None,
                                   "refund_line_items": returned, "transactions": [money]})
            raw["financial_status"] = "refunded"
        self.orders[oid] = raw

    def _gateway(self, method: str) -> str:
        if " ending " in method or method == "Apple Pay":
            return "shopify_payments"
        return method.lower().replace(" ", "_")

    def _transaction(self, oid: int, kind: str, cents: int, method: str, at: datetime,
                     parent: Optional[dict] = None) -> dict:
        details: Dict[str, Any] = {}
        if " ending " in method:
            company, _, last4 = method.partition(" ending ")
            details = {"credit_card_company": company, "credit_card_number": f"•••• •••• •••• {last4}"}
        elif method == "Apple Pay":
            details = {"credit_card_company": "Visa", "credit_card_number": "•••• •••• •••• 0005",
                       "credit_card_wallet": "apple_pay"}
        transaction = {"id": next(self._ids), "order_id": oid, "kind": kind, "status": "success",
                       "amount": _money(cents), "currency": "USD", "gateway": self._gateway(method),
                       "parent_id": parent["id"] if parent else None, "created_at": _at(at), "processed_at": _at(at),
                       "payment_details": details or None, "test": False}
        self.transactions.setdefault(oid, []).append(transaction)
        return transaction

    def _event(self, oid: int, fid: int, status: str, at: datetime, estimate: Optional[str]) -> dict:
        return {"id": next(self._ids), "order_id": oid, "fulfillment_id": fid, "status": status,
                "happened_at": _at(at), "created_at": _at(at), "estimated_delivery_at": estimate, "message": None}

    def order_by_number(self, number: str) -> dict:
        return self.orders[ORDER_IDS + int(number)]

    # answering ---------------------------------------------------------------------

    def _answer(self, method: str, target: str, raw: str, headers: Dict[str, str]) -> Tuple[int, Any, Dict[str, str]]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        prefix, _, rest = parts.path.partition("/admin/api/")
        version, _, path = rest.partition("/")
        body = json.loads(raw) if raw else None
        request = Request(method, path, version, query, body, headers)
        with self._lock:
            self.requests.append(request)
            scripted = next((s for s in self._scripted if s.times > 0 and (s.path is None or path.startswith(s.path))
                             and (s.method is None or s.method == method)), None)
            if scripted:
                scripted.times -= 1
        if scripted:
            if scripted.delay:
                time.sleep(scripted.delay)
            extra = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            return scripted.status, scripted.body, extra
        if prefix or not version:
            return 404, {"errors": "Not Found"}, {}
        if headers.get("X-Shopify-Access-Token") != self.token:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, {}
        with self._lock:
            return self._route(method, path, query, body, version)

    def _route(self, method: str, path: str, query: Dict[str, str], body: Any,
               version: str) -> Tuple[int, Any, Dict[str, str]]:
        segments = path.removesuffix(".json").split("/")
        if method == "GET" and path == "customers/search.json":
            return self._listing(path, query, version, "customers", self._search_customers)
        if method == "GET" and len(segments) == 2 and segments[0] == "customers":
            found = self.customers.get(int(segments[1])) if segments[1].isdigit() else None
            return (200, {"customer": found}, {}) if found else (404, {"errors": "Not Found"}, {})
        if method == "GET" and len(segments) == 3 and segments[0] == "customers" and segments[2] == "orders":
            cid = int(segments[1]) if segments[1].isdigit() else -1
            return self._listing(path, query, version, "orders",
                                 lambda q: [o for o in self._orders(q) if o["customer"]["id"] == cid])
        if method == "GET" and path == "orders.json":
            return self._listing(path, query, version, "orders", self._orders)
        order = self.orders.get(int(segments[1])) if len(segments) > 1 and segments[0] == "orders" \
            and segments[1].isdigit() else None
        if len(segments) > 1 and segments[0] == "orders" and order is None:
            return 404, {"errors": "Not Found"}, {}
        if method == "GET" and len(segments) == 2:
            return 200, {"order": order}, {}
        if method == "PUT" and len(segments) == 2:
            return self._update_order(order, (body or {}).get("order") or {})
        if method == "GET" and segments[2:] == ["transactions"]:
            return 200, {"transactions": self.transactions.get(order["id"], [])}, {}
        if method == "GET" and len(segments) == 5 and segments[2] == "fulfillments" and segments[4] == "events":
            fid = int(segments[3])
            if not any(f["id"] == fid for f in order["fulfillments"]):
                return 404, {"errors": "Not Found"}, {}
            return 200, {"fulfillment_events": self.events.get(fid, [])}, {}
        if method == "GET" and segments[2:] == ["refunds"]:
            return self._listing(path, query, version, "refunds", lambda q: list(order["refunds"]))
        if method == "POST" and segments[2:] == ["refunds"]:
            return self._refund(order, (body or {}).get("refund") or {})
        if method == "POST" and segments[2:] == ["cancel"]:
            return self._cancel(order, body or {})
        return 404, {"errors": "Not Found"}, {}

    def _listing(self, path: str, query: Dict[str, str], version: str, key: str,
                 select: Callable[[Dict[str, str]], List[dict]]) -> Tuple[int, Any, Dict[str, str]]:
        """One page of a listing, with Shopify's cursor pagination in the Link header."""
        if "page_info" in query:
            extra = set(query) - FILTERS_WITH_PAGE_INFO
            if extra:
                return 400, {"errors": {"page_info": f"page_info cannot be combined with {sorted(extra)}"}}, {}
            cursor = json.loads(base64.urlsafe_b64decode(query["page_info"].encode()))
            filters, offset = cursor["filters"], cursor["offset"]
        else:
            filters, offset = {k: v for k, v in query.items() if k != "limit"}, 0
        limit = min(int(query.get("limit") or 50), self.max_limit, 250)
        records = select(filters)
        page = records[offset:offset + limit]
        links = []
        for rel, start in (("previous", offset - limit), ("next", offset + limit)):
            if (rel == "next" and start < len(records)) or (rel == "previous" and offset > 0):
                token = base64.urlsafe_b64encode(json.dumps({"filters": filters, "offset": max(start, 0)}).encode())
                links.append(f'<{self.url}/admin/api/{version}/{path}?'
                             f'{urlencode({"limit": limit, "page_info": token.decode()})}>; rel="{rel}"')
        return 200, {key: page}, ({"Link": ", ".join(links)} if links else {})

    def _search_customers(self, query: Dict[str, str]) -> List[dict]:
        terms = dict(term.split(":", 1) for term in (query.get("query") or "").split() if ":" in term)
        email = terms.get("email", "").strip('"').lower()
        # Shopify's search is by terms, not equality: a longer address that starts the same matches too
        return [c for c in self.customers.values() if email and c["email"].lower().startswith(email)]

    def _orders(self, query: Dict[str, str]) -> List[dict]:
        status = query.get("status", "open")  # Shopify's default: open orders only

        def wanted(order: dict) -> bool:
            if status == "open" and (order["cancelled_at"] or order["closed_at"]):
                return False
            if status == "cancelled" and not order["cancelled_at"]:
                return False
            if status == "closed" and not order["closed_at"]:
                return False
            name = query.get("name")
            return not name or order["name"] in (name, f"#{name}")

        # newest first, as Shopify lists orders
        return sorted((o for o in self.orders.values() if wanted(o)), key=lambda o: o["created_at"], reverse=True)

    def _update_order(self, order: dict, changes: dict) -> Tuple[int, Any, Dict[str, str]]:
        if "shipping_address" in changes:
            address = {**order["shipping_address"], **changes["shipping_address"]}  # Shopify merges the fields
            address["name"] = " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p)
            order["shipping_address"] = address
        order["updated_at"] = _at(self.clock())
        return 200, {"order": order}, {}

    def _cancel(self, order: dict, body: dict) -> Tuple[int, Any, Dict[str, str]]:
        if order["cancelled_at"]:
            return 422, {"error": "Order has already been cancelled"}, {}
        if any(f["status"] == "success" for f in order["fulfillments"]):
            return 422, {"error": "Cannot cancel an order that has fulfillments"}, {}
        now = self.clock()
        order["cancelled_at"] = _at(now)
        order["cancel_reason"] = body.get("reason", "other")
        transactions = self.transactions.get(order["id"], [])
        captured = {t["parent_id"] for t in transactions if t["kind"] in ("capture", "void")}
        for held in [t for t in transactions if t["kind"] == "authorization" and t["id"] not in captured]:
            # as Shopify does: a payment only authorised is released when its order is cancelled
            self._transaction(order["id"], "void", _cents(held["amount"]), self._method(held), now, held)
            order["financial_status"] = "voided"
        return 200, {"order": order}, {}

    def _method(self, transaction: dict) -> str:
        details = transaction.get("payment_details") or {}
        if details.get("credit_card_wallet") == "apple_pay":
            return "Apple Pay"
        if details.get("credit_card_company"):
            return f"{details['credit_card_company']} ending {details['credit_card_number'][-4:]}"
        return transaction["gateway"].replace("_", " ").title()

    def _refund(self, order: dict, refund: dict) -> Tuple[int, Any, Dict[str, str]]:
        transactions = self.transactions.get(order["id"], [])
        by_id = {t["id"]: t for t in transactions}
        paid = sum(_cents(t["amount"]) for t in transactions if t["kind"] in ("sale", "capture") and t["status"] == "success")
        refunded = sum(_cents(t["amount"]) for t in transactions if t["kind"] == "refund" and t["status"] == "success")
        asked = refund.get("transactions") or []
        for wanted in asked:
            parent = by_id.get(wanted.get("parent_id"))
            if parent is None or parent["kind"] not in ("sale", "capture"):
                return 422, {"errors": {"transactions": ["parent_id must be a sale or capture of this order"]}}, {}
            if wanted.get("kind") != "refund":
                return 422, {"errors": {"transactions": ["kind must be refund"]}}, {}
        if paid - refunded < sum(_cents(t.get("amount")) for t in asked):
            return 422, {"errors": {"base": ["Amount cannot be greater than the refundable amount"]}}, {}
        now = self.clock()
        made = [self._transaction(order["id"], "refund", _cents(t["amount"]), self._method(by_id[t["parent_id"]]),
                                  now, by_id[t["parent_id"]]) for t in asked]
        record = {"id": next(self._ids), "order_id": order["id"], "created_at": _at(now), "processed_at": _at(now),
                  "note": refund.get("note"), "refund_line_items": [], "transactions": made}
        order["refunds"].append(record)
        order["financial_status"] = "refunded" if paid - refunded - sum(_cents(t["amount"]) for t in made) == 0 \
            else "partially_refunded"
        return 201, {"refund": record}, {}
