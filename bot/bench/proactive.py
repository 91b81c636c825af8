"""Proactive message delivery latency, store event → open widget: `python -m bot.bench.proactive` (`make bench-proactive`).

What it measures (issue 18): with `--customers` website customers connected at once (100 by default), each signed in
(a signed identity, as the demo page gives Jane) with an open socket.io connection in its conversation's room, the
time from the store's `POST /api/store/events` leaving the client to the customer's widget receiving the message
about that order (`bot_uttered` naming the order number): p50, p95 and the slowest, with messages lost (nothing
within `--timeout`) and duplicated (the same message received twice).

- The product runs as `make run` starts it (action server, Rasa server, web app; the trained model in models/) on
  ports 17305 / 17355 / 17380, with a fresh data folder: the seeded demo store plus one customer and one processing
  order per simulated customer, the team on duty around the clock (no quiet hours), no rate limit in the way.
- Each customer says "hi" first (its session starts: the assistant notes where a verified customer is reached), then
  the store announces one "shipped" event per customer, `--rate` events per second, each from its own thread, so up to
  `rate × latency` events are in flight at once.
- Customers are python-socketio's blocking clients over WebSocket, as bot/bench/latency.py makes them.

Results are printed as a table and written as JSON (`--json`); docs/benchmarks.md has the recorded run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import requests
import yaml

from bot.bench.latency import SocketCustomer, percentile

PORTS = {"RASA_PORT": "17305", "ACTION_PORT": "17355", "WEB_PORT": "17380"}
FIRST_ORDER = 900000  # the simulated customers' orders: 900000, 900001, ... (six digits, none in the demo store)


def always_open(folder: Path) -> Path:
    """handoff.yml with the team on duty around the clock: the measurement must not depend on the hour."""
    from bot.handoff.hours import DAYS
    from bot.settings import PROJECT_ROOT

    config = yaml.safe_load((PROJECT_ROOT / "handoff.yml").read_text())
    config["hours"] = {"timezone": "UTC", "weekly": {day: "00:00-24:00" for day in DAYS}, "holidays": []}
    path = folder / "handoff.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_product(data_dir: Path, customers: int) -> tuple:
    from bot import runner
    from bot.__main__ import MODEL_DIR, build_knowledge_base
    from bot.settings import PROJECT_ROOT, Settings
    from bot.store.directory import SqlCustomerDirectory
    from bot.store.models import Address, Customer, Order, OrderItem, OrderStatus
    from bot.store.seed import seed
    from bot.store.service import utcnow

    print("Training the model if data, domain or config changed (Rasa's fingerprint) ...", file=sys.stderr, flush=True)
    runner.train(Settings.from_env(), MODEL_DIR)
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(data_dir), **PORTS, "RASA_TOKEN": secrets.token_hex(16), "IDENTITY_SECRET": secrets.token_hex(16),
        "STORE_API_TOKEN": secrets.token_hex(16), "PROACTIVE_MAX_PER_DAY": "100",
        "KB_ARTICLES_DIR": str(PROJECT_ROOT / "knowledge_base" / "articles"), "HANDOFF_CONFIG": str(always_open(data_dir)),
    })
    store = SqlCustomerDirectory.from_url(settings.store_db_url)
    now = utcnow()
    seed(store, now)
    store.insert([Customer(f"B{i:05d}", "Bench", f"Customer {i}", f"bench{i}@example.com") for i in range(customers)],
                 [Order(number=str(FIRST_ORDER + i), customer_id=f"B{i:05d}", status=OrderStatus.PROCESSING, placed_at=now,
                        items=(OrderItem("BW-WB1", "Wavelet Buds", 1, 7999),), total_cents=7999, payment_method="Visa ending 4242",
                        shipping_method="Standard", shipping_address=Address(f"Customer {i}", "1 Bench Road", "Springfield", "IL", "62704"))
                  for i in range(customers)])
    build_knowledge_base(settings)
    print("Starting the product's servers ...", file=sys.stderr, flush=True)
    return settings, runner.start_all(settings, MODEL_DIR)


class Shopper(SocketCustomer):
    """A signed-in website customer with the widget open."""

    def __init__(self, base: str, index: int, identity_secret: str) -> None:
        from bot.identity import sign_identity

        super().__init__(base, "/socket.io")
        email = f"bench{index}@example.com"
        self.order = str(FIRST_ORDER + index)
        self.metadata = {"customer": {"customer_id": f"B{index:05d}", "email": email,
                                      "signature": sign_identity(identity_secret, f"B{index:05d}", email)}}
        self.arrived: Optional[float] = None
        self.copies = 0

    def _on_bot(self, data: Any) -> None:
        if isinstance(data, dict) and f"Your order {self.order} " in str(data.get("text") or ""):
            with self.changed:
                self.copies += 1
                if self.arrived is None:
                    self.arrived = time.perf_counter()
        super()._on_bot(data)

    def start_session(self, timeout: float) -> None:
        self.connect(timeout)
        with self.changed:
            before = len(self.received)
        self.client.emit("user_uttered", {"message": "hi", "session_id": self.session_id, "metadata": self.metadata})
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) > before, timeout):
                raise TimeoutError("no greeting")


def measure(settings: Any, customers: int, rate: float, timeout: float) -> Dict[str, Any]:
    shoppers = [Shopper(settings.rasa_url, i, settings.identity_secret) for i in range(customers)]
    errors: List[str] = []
    with ThreadPoolExecutor(max_workers=min(20, customers)) as pool:
        for shopper, failure in zip(shoppers, pool.map(_start, shoppers, [timeout] * customers)):
            if failure:
                errors.append(failure)
    connected = [s for s in shoppers if not any(s.session_id in e for e in errors)]
    time.sleep(2)  # every session start has noted its contact
    sent_at: Dict[str, float] = {}
    states: Dict[str, str] = {}

    def announce(shopper: Shopper) -> None:
        body = {"order_number": shopper.order, "event": "shipped", "event_id": f"bench-{shopper.session_id}",
                "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
        sent_at[shopper.order] = time.perf_counter()
        try:
            answer = requests.post(f"{settings.web_url}/api/store/events", json=body, timeout=timeout,
                                   headers={"Authorization": f"Bearer {settings.store_api_token}"})
            states[shopper.order] = answer.json().get("state", str(answer.status_code)) if answer.ok else f"HTTP {answer.status_code}"
        except requests.RequestException as error:
            states[shopper.order] = type(error).__name__

    started = time.perf_counter()
    threads = []
    for n, shopper in enumerate(connected):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=announce, args=(shopper,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and any(s.arrived is None for s in connected):
        time.sleep(0.1)
    time.sleep(2)  # late copies count as duplicates
    latencies = [(s.arrived - sent_at[s.order]) * 1000 for s in connected if s.arrived is not None and s.order in sent_at]
    for shopper in shoppers:
        shopper.close()
    not_sent = {state: sum(1 for v in states.values() if v == state) for state in set(states.values()) if state != "sent"}
    return {
        "customers": customers, "connected": len(connected), "events_per_second": rate,
        "delivered": len(latencies), "lost": len(connected) - len(latencies),
        "duplicated": sum(max(0, s.copies - 1) for s in connected), "not_sent_by_state": not_sent,
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "errors": errors[:10],
    }


def _start(shopper: Shopper, timeout: float) -> Optional[str]:
    try:
        shopper.start_session(timeout)
        return None
    except Exception as error:  # noqa: BLE001 - any failure: that customer is not connected, and it is counted
        return f"{shopper.session_id}: {type(error).__name__} {error}"


def render(result: Dict[str, Any]) -> str:
    return "\n".join([
        "Proactive message: store event (POST /api/store/events) → the customer's open widget",
        f"customers connected {result['connected']}/{result['customers']}, {result['events_per_second']} events/s",
        f"p50 {result['p50_ms']} ms   p95 {result['p95_ms']} ms   slowest {result['max_ms']} ms",
        f"delivered {result['delivered']}, lost {result['lost']}, duplicated {result['duplicated']}"
        + (f", not sent: {result['not_sent_by_state']}" if result["not_sent_by_state"] else ""),
        f"load average before: {result['load_average_before']}",
    ])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.proactive", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100, help="website customers connected at once (default 100)")
    parser.add_argument("--rate", type=float, default=5.0, help="store events per second (default 5)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a message may take before it counts as lost")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.customers < 1 or args.rate <= 0:
        parser.error("--customers must be 1 or more and --rate above 0")
    from bot import runner

    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-proactive-") as folder:
        settings, processes = start_product(Path(folder), args.customers)
        try:
            result = measure(settings, args.customers, args.rate, args.timeout)
        finally:
            runner.stop_all(processes)
    result.update(load_average_before=load_before, load_average_after=[round(x, 2) for x in os.getloadavg()],
                  date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  command=f"python -m bot.bench.proactive --customers {args.customers} --rate {args.rate}")
    print(render(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 and result["connected"] == args.customers else 1


if __name__ == "__main__":
    sys.exit(main())
