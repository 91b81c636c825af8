"""Message latency through the website (socket.io) and REST channels: `python -m bot.bench.latency`.

What it measures (issue 5): the time from a customer's message leaving the client to the last bot
message of that turn arriving, with 1, 20 and 100 simulated customers at once, for a help-centre
question and for a simple intent; messages per second over each run; messages lost (no answer
within the turn's time limit) and duplicated (more bot messages than the turn produces).

- The product runs as `make run` starts it (action server, Rasa server, web app; the trained model
  in models/, a fresh data folder with the seeded demo store and the help-centre index) on ports
  17005 / 17055 / 17080.
- The baseline is a bare Rasa assistant, the content of `rasa init` (no custom actions), trained once
  and cached in var/bench/baseline/, on port 17205 with Rasa's own REST and socket.io channels. It has
  no help centre, so it is measured for the simple intent only.
- A socket.io turn ends when as many `bot_uttered` events have arrived as the same message produces
  over REST, which returns a whole turn at once (counted once per message before measuring, on a
  fresh conversation). Waiting for "silence" instead would add the silence to every measurement.
- Every customer is its own conversation (a fresh sender / session id) and sends its messages one
  after the other; the customers run concurrently in one asyncio loop, on loopback. Counts and time
  are bounded: `--messages` per customer at each level and `--turn-timeout`.
- The first message of each kind is sent before measuring: the NLU and the embedding model load lazily.

Results are printed as tables and written as JSON (`--json`); docs/benchmarks.md has the recorded run.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import aiohttp
import socketio

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PORTS = {"RASA_PORT": "17005", "ACTION_PORT": "17055", "WEB_PORT": "17080"}
BASELINE_PORT = 17205
BASELINE_DIR = REPO_ROOT / "var" / "bench" / "baseline"
LEVELS = (1, 20, 100)
# messages per customer at each level: 30, 100 and 300 messages in all (per pacing, message kind and channel)
MESSAGES_PER_CUSTOMER = {1: 30, 20: 5, 100: 3}
TARGET_KB_P50_MS, TARGET_KB_P95_MS = 80.0, 250.0
# Two ways to be "N customers at once". Paced: each customer reads the answer and types for 2-6 s
# before the next message (a fast chat customer; real ones take longer), and the customers start at
# random moments in the first 6 s. Back to back: every customer sends its next message the instant the
# last answer arrives, which measures the server's capacity (N messages always in the queue).
PACINGS = {"paced": (2.0, 6.0), "back-to-back": None}
# The widget's socket.io client (widget/src/widget.js): 15 s to connect, then it retries on its own.
CONNECT_TIMEOUT, RECONNECT_DELAY = 15.0, 1.0

# Questions the help centre answers (tests/e2e/test_knowledge_conversation.py checks the articles).
KB_QUESTIONS = (
    "how do I reset my sentry cam?",
    "can I pay in instalments with klarna",
    "how do I pair my wavelet buds",
    "how long is the warranty on headphones",
    "do you ship to PO boxes in alaska",
)
# intents both assistants have (rasa init's mood bot knows greet and bot_challenge, not thanks)
SIMPLE_MESSAGES = ("hi", "are you a bot?")


# --------------------------------------------------------------------------------------------
# Statistics (pure; unit-tested)
# --------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks, as numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class TurnResult:
    latency_ms: Optional[float]  # None: no complete answer within the time limit (lost)
    extra_messages: int = 0  # bot messages beyond what the turn produces (duplicates)
    connect_retries: int = 0  # socket.io handshakes that failed and were tried again before this turn


@dataclass
class RunSummary:
    sent: int
    answered: int
    lost: int
    duplicated: int
    seconds: float
    connect_retries: int
    p50_ms: Optional[float]
    p95_ms: Optional[float]
    p99_ms: Optional[float]
    max_ms: Optional[float]
    messages_per_s: float
    errors: List[str] = field(default_factory=list)


def summarise(turns: Sequence[TurnResult], seconds: float, errors: Sequence[str] = ()) -> RunSummary:
    latencies = [t.latency_ms for t in turns if t.latency_ms is not None]

    def p(q: float) -> Optional[float]:
        return round(percentile(latencies, q), 1) if latencies else None

    return RunSummary(
        sent=len(turns), answered=len(latencies), lost=len(turns) - len(latencies),
        duplicated=sum(t.extra_messages for t in turns), seconds=round(seconds, 2),
        connect_retries=sum(t.connect_retries for t in turns),
        p50_ms=p(50), p95_ms=p(95), p99_ms=p(99), max_ms=round(max(latencies), 1) if latencies else None,
        messages_per_s=round(len(latencies) / seconds, 1) if seconds > 0 else 0.0, errors=list(errors)[:5],
    )


# --------------------------------------------------------------------------------------------
# Simulated customers
# --------------------------------------------------------------------------------------------


async def rest_turn(http: aiohttp.ClientSession, url: str, sender: str, text: str, timeout: float) -> List[Dict]:
    async with http.post(url, json={"sender": sender, "message": text},
                         timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        response.raise_for_status()
        return await response.json()


async def rest_customer(http: aiohttp.ClientSession, base: str, messages: Sequence[str], timeout: float,
                        errors: List[str], pauses: Sequence[float]) -> List[TurnResult]:
    url, sender, results = f"{base}/webhooks/rest/webhook", f"bench-{uuid.uuid4().hex[:12]}", []
    for text, pause in zip(messages, pauses):
        await asyncio.sleep(pause)
        started = time.perf_counter()
        try:
            await rest_turn(http, url, sender, text, timeout)
            results.append(TurnResult((time.perf_counter() - started) * 1000))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            errors.append(f"REST {text!r}: {type(error).__name__} {error}")
            results.append(TurnResult(None))
    return results


class SocketCustomer:
    """One website visitor: a socket.io connection over WebSocket, as the widget makes, with its own
    persistent session. python-socketio's blocking client (over websocket-client) runs in a thread per
    customer: its asyncio client needs a newer aiohttp than Rasa 3.6 allows."""

    def __init__(self, base: str, path: str) -> None:
        self.base, self.path = base, path
        self.session_id = f"bench-{uuid.uuid4().hex[:12]}"
        self.received: List[Dict] = []
        self.changed = threading.Condition()
        self.confirmed = threading.Event()
        self.connect_retries = 0
        self.client = self._new_client()

    def _new_client(self) -> socketio.Client:
        # engine.io's handshake timeout is 5 s by default; the widget's socket.io client waits 15 s
        client = socketio.Client(reconnection=False, request_timeout=CONNECT_TIMEOUT)
        client.on("bot_uttered", self._on_bot)
        client.on("session_confirm", lambda *_: self.confirmed.set())
        return client

    def _on_bot(self, data: Any) -> None:
        with self.changed:
            self.received.append(data if isinstance(data, dict) else {"text": str(data)})
            self.changed.notify_all()

    def connect(self, timeout: float) -> None:
        """Connect as the widget does: a failed handshake is tried again (socket.io's reconnection,
        about a second apart) until `timeout` has passed; every retry is counted."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client.connect(self.base, socketio_path=self.path, transports=["websocket"],
                                    wait_timeout=CONNECT_TIMEOUT)
                break
            except socketio.exceptions.ConnectionError:
                if time.monotonic() + RECONNECT_DELAY >= deadline:
                    raise
                self.connect_retries += 1
                self.client = self._new_client()
                time.sleep(RECONNECT_DELAY)
        self.client.emit("session_request", {"session_id": self.session_id})
        if not self.confirmed.wait(timeout):
            raise TimeoutError("no session_confirm")

    def turn(self, text: str, expected: int, timeout: float) -> TurnResult:
        with self.changed:
            start_count = len(self.received)
        started = time.perf_counter()
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        with self.changed:
            done = self.changed.wait_for(lambda: len(self.received) - start_count >= expected, timeout)
        return TurnResult((time.perf_counter() - started) * 1000 if done else None)

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def socket_customer(base: str, path: str, messages: Sequence[str], expected: Sequence[int], timeout: float,
                    grace: float, errors: List[str], pauses: Sequence[float]) -> List[TurnResult]:
    customer = SocketCustomer(base, path)
    results: List[TurnResult] = []
    try:
        customer.connect(timeout)
        for text, count, pause in zip(messages, expected, pauses):
            time.sleep(pause)
            results.append(customer.turn(text, count, timeout))
        # anything arriving after the last turn is complete is a duplicate (or a late, lost message's answer)
        time.sleep(grace)
        with customer.changed:
            extra = len(customer.received) - sum(n for n, r in zip(expected, results) if r.latency_ms is not None)
        if results and extra > 0:
            results[-1].extra_messages = extra
    except (socketio.exceptions.SocketIOError, TimeoutError, OSError) as error:
        errors.append(f"socket.io: {type(error).__name__} {error}")
        results.extend(TurnResult(None) for _ in messages[len(results):])
    finally:
        if results:
            results[0].connect_retries = customer.connect_retries
        customer.close()
    return results


def customer_pauses(pacing: Optional[tuple], count: int, seed: int) -> List[float]:
    """Seconds to wait before each message: a random start, then reading-and-typing time (seeded:
    every run and every channel replays the same schedule)."""
    if pacing is None:
        return [0.0] * count
    low, high = pacing
    rng = random.Random(seed)
    return [rng.uniform(0, high)] + [rng.uniform(low, high) for _ in range(count - 1)]


def customer_messages(kind: str, count: int, offset: int) -> List[str]:
    pool = KB_QUESTIONS if kind == "kb" else SIMPLE_MESSAGES
    return [pool[(offset + i) % len(pool)] for i in range(count)]


async def run_level(base: str, channel: str, kind: str, customers: int, per_customer: int,
                    expected: "ExpectedCounts", timeout: float, pacing: Optional[tuple] = None,
                    socket_path: str = "/socket.io") -> RunSummary:
    errors: List[str] = []
    scripts = [customer_messages(kind, per_customer, i) for i in range(customers)]
    pauses = [customer_pauses(pacing, per_customer, i) for i in range(customers)]
    counts = [await expected.of(channel, script) for script in scripts]  # asked before the clock starts
    started = time.perf_counter()
    if channel == "rest":
        connector = aiohttp.TCPConnector(limit=customers)
        async with aiohttp.ClientSession(connector=connector) as http:
            batches = await asyncio.gather(*(rest_customer(http, base, script, timeout, errors, wait)
                                             for script, wait in zip(scripts, pauses)))
    else:
        with ThreadPoolExecutor(max_workers=customers) as pool:
            loop = asyncio.get_running_loop()
            batches = await asyncio.gather(*(loop.run_in_executor(pool, socket_customer, base, socket_path, script, count,
                                                                  timeout, 1.0, errors, wait)
                                             for script, count, wait in zip(scripts, counts, pauses)))
    # the grace period after each socket.io customer's last turn is not part of the throughput
    seconds = time.perf_counter() - started - (1.0 if channel == "socketio" else 0.0)
    return summarise([turn for batch in batches for turn in batch], seconds, errors)


class ExpectedCounts:
    """How many bot messages each turn of a customer's script produces on a channel: the same script
    played once on that channel on a fresh conversation, before the clock starts. REST returns a whole
    turn at once; over socket.io a turn is over after QUIET seconds without a message (only here, where
    the wait costs nothing: measured turns end at their count). Channels group messages differently
    (socket.io sends an answer and its article card as one event, REST as two), hence per channel.
    The first script played is also the warm-up: the first question loads the models."""

    QUIET = 2.0

    def __init__(self, base: str, timeout: float, socket_path: str = "/socket.io") -> None:
        self.base, self.timeout, self.socket_path = base, timeout, socket_path
        self._known: Dict[tuple, List[int]] = {}

    async def of(self, channel: str, script: Sequence[str]) -> List[int]:
        key = (channel, *script)
        if key not in self._known:
            if channel == "rest":
                counts = await self._rest(script)
            else:
                counts = await asyncio.get_running_loop().run_in_executor(None, self._socket, script)
            if not all(counts):
                raise SystemExit(f"{self.base} gave no answer over {channel} to one of {list(script)}: is it working?")
            self._known[key] = counts
        return self._known[key]

    async def _rest(self, script: Sequence[str]) -> List[int]:
        sender, counts = f"bench-count-{uuid.uuid4().hex[:8]}", []
        async with aiohttp.ClientSession() as http:
            for text in script:
                reply = await rest_turn(http, f"{self.base}/webhooks/rest/webhook", sender, text, max(self.timeout, 300))
                counts.append(len(reply))
        return counts

    def _socket(self, script: Sequence[str]) -> List[int]:
        customer = SocketCustomer(self.base, self.socket_path)
        counts = []
        try:
            customer.connect(self.timeout)
            for text in script:
                before = len(customer.received)
                customer.client.emit("user_uttered", {"message": text, "session_id": customer.session_id})
                with customer.changed:  # the first message may take long (models loading), then silence ends it
                    customer.changed.wait_for(lambda: len(customer.received) > before, max(self.timeout, 300))
                    while customer.changed.wait(self.QUIET):
                        pass
                counts.append(len(customer.received) - before)
        finally:
            customer.close()
        return counts


# --------------------------------------------------------------------------------------------
# The servers
# --------------------------------------------------------------------------------------------


def start_product(data_dir: Path) -> tuple:
    from bot import runner
    from bot.__main__ import MODEL_DIR, build_knowledge_base
    from bot.settings import PROJECT_ROOT, Settings
    from bot.store.directory import SqlCustomerDirectory
    from bot.store.seed import seed
    from bot.store.service import utcnow

    print("Training the model if data, domain or config changed (Rasa's fingerprint) ...", file=sys.stderr, flush=True)
    runner.train(Settings.from_env(), MODEL_DIR)
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(data_dir), **PRODUCT_PORTS, "RASA_TOKEN": secrets.token_hex(16),
        "IDENTITY_SECRET": secrets.token_hex(16), "KB_ARTICLES_DIR": str(PROJECT_ROOT / "knowledge_base" / "articles"),
    })
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    build_knowledge_base(settings)
    print("Starting the product's servers ...", file=sys.stderr, flush=True)
    return settings, runner.start_all(settings, MODEL_DIR)


def baseline_model() -> Path:
    """The `rasa init` project, trained once (about two minutes) and kept in var/bench/baseline/."""
    from bot.runner import BIN, base_environment
    from bot.settings import Settings

    models = sorted((BASELINE_DIR / "models").glob("*.tar.gz"))
    if models and "session_persistence: false" in (BASELINE_DIR / "credentials.yml").read_text():
        return models[-1]
    print("Creating and training the `rasa init` baseline (once) ...", file=sys.stderr, flush=True)
    shutil.rmtree(BASELINE_DIR, ignore_errors=True)
    BASELINE_DIR.mkdir(parents=True)
    subprocess.run([str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(BASELINE_DIR)],
                   env=base_environment(Settings.from_env()), cwd=BASELINE_DIR, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Rasa's own socket.io channel. Without session persistence: with it, Rasa 3.6 never awaits
    # `enter_room`, so its answers go to a room nobody is in (bot/channels/socketio.py fixes that for us).
    (BASELINE_DIR / "credentials.yml").write_text(
        "rest:\nsocketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n  session_persistence: false\n")
    models = sorted((BASELINE_DIR / "models").glob("*.tar.gz"))
    if not models:
        raise SystemExit("`rasa init` trained no model")
    return models[-1]


def start_baseline(log_dir: Path):
    from bot.runner import BIN, ManagedProcess, base_environment, port_in_use
    from bot.settings import Settings

    if port_in_use("127.0.0.1", BASELINE_PORT):
        raise SystemExit(f"port {BASELINE_PORT} is in use; the baseline needs it")
    model = baseline_model()
    env = base_environment(Settings.from_env())
    process = ManagedProcess(
        "baseline",
        [str(BIN / "rasa"), "run", "--port", str(BASELINE_PORT), "--interface", "127.0.0.1", "--model", str(model),
         "--credentials", str(BASELINE_DIR / "credentials.yml"), "--endpoints", str(BASELINE_DIR / "endpoints.yml")],
        env, log_dir, f"http://127.0.0.1:{BASELINE_PORT}/", False,
    )
    # `rasa init`'s endpoints.yml configures nothing: in-memory tracker store, no action server
    process.start()
    process.wait_healthy()
    return process


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def measure(base: str, assistant: str, kinds: Sequence[str], levels: Sequence[int], timeout: float,
            channels: Sequence[str]) -> List[Dict[str, Any]]:
    expected = ExpectedCounts(base, timeout)
    rows = []
    # one customer alone is the same paced or not (nobody to queue behind): measured back to back only
    scenarios = [(pacing, kind, channel, level) for pacing in PACINGS for kind in kinds for channel in channels
                 for level in levels if PACINGS[pacing] is None or level > 1]
    for pacing, kind, channel, level in scenarios:
        summary = asyncio.run(run_level(base, channel, kind, level, MESSAGES_PER_CUSTOMER[level], expected, timeout,
                                        PACINGS[pacing]))
        rows.append({"assistant": assistant, "pacing": pacing, "message": kind, "channel": channel, "customers": level,
                     **summary.__dict__})
        print(f"  {assistant:<8} {pacing:<12} {kind:<6} {channel:<8} {level:>3} customers: p50 {summary.p50_ms} ms, "
              f"p95 {summary.p95_ms} ms, p99 {summary.p99_ms} ms, {summary.messages_per_s} msg/s, "
              f"lost {summary.lost}, duplicated {summary.duplicated}", file=sys.stderr, flush=True)
    return rows


def widget_sizes() -> Dict[str, Dict[str, int]]:
    from bot.bench.widget_size import sizes

    return {name: {"bytes": raw, "gzip_bytes": packed} for name, (raw, packed) in sizes().items()}


def render(results: Dict[str, Any]) -> str:
    def ms(value: Optional[float]) -> str:
        return "–" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"

    lines = ["| assistant | pacing | message | channel | customers | sent | p50 ms | p95 ms | p99 ms | max ms | msg/s | lost "
             "| duplicated | connect retries |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        lines.append(f"| {r['assistant']} | {r['pacing']} | {r['message']} | {r['channel']} | {r['customers']} | {r['sent']} | "
                     f"{ms(r['p50_ms'])} | "
                     f"{ms(r['p95_ms'])} | {ms(r['p99_ms'])} | {ms(r['max_ms'])} | {r['messages_per_s']} | {r['lost']} | "
                     f"{r['duplicated']} | {r.get('connect_retries', 0)} |")
    lines.append("")
    for name, size in results["widget"].items():
        lines.append(f"- {name}: {size['bytes'] / 1024:.1f} KB, {size['gzip_bytes'] / 1024:.1f} KB gzip")
    lines.append("")
    for line in results["verdict"]:
        lines.append(f"- {line}")
    return "\n".join(lines)


def verdict(rows: Sequence[Dict[str, Any]], widget: Dict[str, Dict[str, int]]) -> List[str]:
    out = []
    for pacing in PACINGS:
        for channel in ("socketio", "rest"):
            kb20 = next((r for r in rows if r["assistant"] == "product" and r.get("pacing", "paced") == pacing
                         and r["message"] == "kb" and r["channel"] == channel and r["customers"] == 20), None)
            if kb20 and kb20["p50_ms"] is not None:
                met = kb20["p50_ms"] <= TARGET_KB_P50_MS and kb20["p95_ms"] <= TARGET_KB_P95_MS and kb20["lost"] == 0
                out.append(f"help-centre answer, 20 customers {pacing}, over {channel}: p50 {kb20['p50_ms']} ms "
                           f"(target ≤ 80), p95 {kb20['p95_ms']} ms (target ≤ 250): {'met' if met else 'MISSED'}")
    at100 = [r for r in rows if r["assistant"] == "product" and r["customers"] == 100]
    if at100:
        lost, dup = sum(r["lost"] for r in at100), sum(r["duplicated"] for r in at100)
        out.append(f"at 100 customers: {lost} lost, {dup} duplicated of {sum(r['sent'] for r in at100)} messages: "
                   f"{'met' if lost == 0 and dup == 0 else 'MISSED'}")
    if "widget.js" in widget:
        size = widget["widget.js"]["gzip_bytes"]
        out.append(f"widget.js {size / 1024:.1f} KB gzip (target ≤ 50 KB without socket.io's client): "
                   f"{'met' if size <= 50 * 1024 else 'MISSED'}")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), choices=LEVELS)
    parser.add_argument("--turn-timeout", type=float, default=30.0, help="seconds before a turn counts as lost")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare `rasa init` assistant")
    args = parser.parse_args(argv)
    for name, value in (("RASA_TELEMETRY_ENABLED", "false"), ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")):
        os.environ.setdefault(name, value)

    from bot import runner

    load_before = os.getloadavg()
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    processes: list = []
    rows: List[Dict[str, Any]] = []
    try:
        if not args.no_baseline:
            baseline = start_baseline(data_dir)
            processes.append(baseline)
            rows += measure(f"http://127.0.0.1:{BASELINE_PORT}", "baseline", ["simple"], args.levels, args.turn_timeout,
                            ["socketio", "rest"])
            baseline.stop()  # measured alone: the two assistants never share the CPU
        settings, product = start_product(data_dir)
        processes += product
        rows += measure(settings.rasa_url, "product", ["kb", "simple"], args.levels, args.turn_timeout,
                        ["socketio", "rest"])
    finally:
        runner.stop_all(processes)
        shutil.rmtree(data_dir, ignore_errors=True)
    widget = widget_sizes()
    results = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m bot.bench.latency " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "seconds": round(time.monotonic() - started, 1),
        "messages_per_customer": MESSAGES_PER_CUSTOMER,
        "rows": rows,
        "widget": widget,
        "verdict": verdict(rows, widget),
    }
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
