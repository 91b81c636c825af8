"""Slack's Request URL under generated event bodies: correctly and wrongly signed, stale, replayed, out of order.

Slack itself cannot be reached from here: the product talks to the local fake of Slack's Web API
(tests/slack_fake.py), and the bodies are signed exactly as Slack signs them. Expected:
- a request not signed with the app's secret (missing, wrong, stale, another body's) is refused with 401
  and changes nothing;
- a correctly signed body of any shape gets a 2xx or a 4xx, never a 5xx;
- every valid customer message is answered in its DM, once: a retry or a replay of an event already
  handled adds nothing to the conversation, and a message arriving out of order is still answered.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlencode

import requests

from bot.bench.reliability.inputs import odd_texts
from bot.bench.reliability.product import Product
from bot.bench.reliability.verdicts import Finding, Tally, check_answer, clip, customer_messages, dead_processes

TEAM = "T0TEST001"
USERS = ("UJANE0001", "USTRANGER", "UNOBODY01")  # a store customer, someone else, a user Slack's API does not know
SETTLE_SECONDS = 180


def _sign(secret: str, raw: bytes, stamp: int) -> Dict[str, str]:
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


def _event(user: str, channel: str, text: Any, ts: str, event_id: str) -> Dict[str, Any]:
    return {"token": "unused", "team_id": TEAM, "api_app_id": "A0TEST", "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()), "authorizations": [{"team_id": TEAM, "user_id": "UBOTAPP01", "is_bot": True}],
            "event": {"type": "message", "user": user, "channel": channel, "text": text, "ts": ts, "event_ts": ts,
                      "channel_type": "im"}}


class Plan:
    """What was sent, to check afterwards: DMs that must be answered, and how many customer turns each holds."""

    def __init__(self) -> None:
        self.turns: Dict[str, int] = {}  # DM channel -> messages that must be in its conversation
        self.lock = threading.Lock()

    def expect(self, channel: str) -> None:
        with self.lock:
            self.turns[channel] = self.turns.get(channel, 0) + 1


def _requests(rng: random.Random, count: int, secret: str, plan: Plan) -> List[Tuple[str, bytes, Dict[str, str], Optional[int]]]:
    """(label, body, headers, the status it must get or None for 'any 2xx/4xx')."""
    texts = odd_texts(rng)
    out: List[Tuple[str, bytes, Dict[str, str], Optional[int]]] = []
    now = lambda: int(time.time())  # noqa: E731 - stamps are taken when sent, see fuzz_slack
    json_headers = {"Content-Type": "application/json"}
    while len(out) < count:
        kind = rng.random()
        channel = "D" + uuid.uuid4().hex[:10].upper()
        label, text = next(texts)
        if not isinstance(text, str) or not text.strip():
            text = "hi"
        text = text[:9_000]  # within the limit: the over-limit kind below is its own case
        event = _event(rng.choice(USERS), channel, text, f"{time.time():.6f}", "Ev" + uuid.uuid4().hex[:12].upper())
        raw = json.dumps(event).encode()
        if kind < 0.35:  # a customer's message, signed
            plan.expect(channel)
            out.append((f"signed message ({label})", raw, {**json_headers, **_sign(secret, raw, now())}, 200))
        elif kind < 0.45:  # the same event delivered again: a retry, or a replay of a captured request
            plan.expect(channel)
            headers = {**json_headers, **_sign(secret, raw, now())}
            out.append(("signed message, first delivery", raw, headers, 200))
            retry = {**json_headers, **_sign(secret, raw, now()), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
            out.append(("the same event retried", raw, retry, 200))
            out.append(("the same request replayed", raw, headers, 200))
        elif kind < 0.5:  # two messages of one DM, the later one delivered first
            plan.expect(channel)
            plan.expect(channel)
            later = _event(event["event"]["user"], channel, "and where is my order", f"{time.time() + 5:.6f}", "Ev" + uuid.uuid4().hex[:12])
            later_raw = json.dumps(later).encode()
            out.append(("out of order: the later message first", later_raw, {**json_headers, **_sign(secret, later_raw, now())}, 200))
            out.append(("out of order: then the earlier one", raw, {**json_headers, **_sign(secret, raw, now())}, 200))
        elif kind < 0.6:
            out.append(("wrong signing secret", raw, {**json_headers, **_sign("not-the-secret", raw, now())}, 401))
        elif kind < 0.65:
            out.append(("no signature headers", raw, json_headers, 401))
        elif kind < 0.7:
            out.append(("stale timestamp (10 minutes)", raw, {**json_headers, **_sign(secret, raw, now() - 600)}, 401))
        elif kind < 0.73:
            out.append(("timestamp not a number", raw, {**json_headers, "X-Slack-Request-Timestamp": "soon",
                                                        "X-Slack-Signature": "v0=00"}, 401))
        elif kind < 0.78:
            other = json.dumps(_event("USTRANGER", channel, "refund me", "1.0", "EvOTHER")).encode()
            out.append(("another body's signature", raw, {**json_headers, **_sign(secret, other, now())}, 401))
        elif kind < 0.82:
            body = rng.choice([b"", b"{", b"[]", b"null", b'{"type": "event_callback"}', b'{"type": "event_callback", "event": 5}',
                               json.dumps({**event, "event": {**event["event"], "text": 42}}).encode(),
                               json.dumps({**event, "event": {**event["event"], "user": ["U1"]}}).encode()])
            out.append(("signed, malformed body", body, {**json_headers, **_sign(secret, body, now())}, None))
        elif kind < 0.85:
            body = rng.choice([b'{"message": "\xff\xfe"}', b"\xc0\xaf" * 10])
            out.append(("signed, invalid UTF-8", body, {**json_headers, **_sign(secret, body, now())}, None))
        elif kind < 0.88:
            body = json.dumps({"token": "x", "challenge": "c-" + uuid.uuid4().hex, "type": "url_verification"}).encode()
            out.append(("url_verification", body, {**json_headers, **_sign(secret, body, now())}, 200))
        elif kind < 0.92:
            payload = rng.choice(["{not json", json.dumps({"type": "block_actions", "actions": "x"}), json.dumps([1]),
                                  json.dumps({"type": "block_actions", "user": {"id": "UJANE0001"}, "actions": [
                                      {"action_id": rng.choice(["handoff_claim", "handoff_resolve", "handoff_reply", "choose"]),
                                       "value": rng.choice(["", "999999", "x" * 3000, "../1"]), "block_id": "b"}],
                                      "container": {"channel_id": channel, "message_ts": "1.0"}})])
            body = urlencode({"payload": payload}).encode()
            out.append(("signed, odd interaction", body, {"Content-Type": "application/x-www-form-urlencoded",
                                                          **_sign(secret, body, now())}, None))
        else:
            plan.expect(channel)  # too long: answered with "please shorten it"
            big = json.dumps(_event("UJANE0001", channel, "w" * 20_000, f"{time.time():.6f}", "Ev" + uuid.uuid4().hex[:12])).encode()
            out.append(("signed message over the length limit", big, {**json_headers, **_sign(secret, big, now())}, 200))
    return out[:count + 2]  # a replay group may run past the count by two


def fuzz_slack(product: Product, count: int, seed: int, paths: Sequence[str], workers: int = 4) -> Tally:
    tally = Tally("Slack events")
    url = f"{product.rasa_url}/webhooks/slack/events"
    plan = Plan()
    sent = _requests(random.Random(seed), count, product.slack_secret, plan)
    lock = threading.Lock()
    # requests of one DM go in order (retries and replays follow their first delivery), DMs in parallel
    by_channel: Dict[str, List[Tuple[str, bytes, Dict[str, str], Optional[int]]]] = {}
    for item in sent:
        channel = _channel_of(item[1]) or uuid.uuid4().hex
        by_channel.setdefault(channel, []).append(item)

    def send_all(items: List[Tuple[str, bytes, Dict[str, str], Optional[int]]]) -> None:
        for label, raw, headers, expected in items:
            try:
                answer = requests.post(url, data=raw, headers=headers, timeout=30)
                status, text = answer.status_code, answer.text
            except requests.RequestException as error:
                status, text = 599, f"no answer: {error}"
            with lock:
                if check_answer(tally, label, status, text, raw.decode("utf-8", errors="replace"), paths) and \
                        expected is not None and status != expected:
                    tally.fail(Finding("wrong answer", label, f"HTTP {status}, expected {expected}: {clip(text)}", clip(raw)))

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send_all, by_channel.values()))
    tally.figures["seconds to send"] = round(time.perf_counter() - started, 1)
    _every_message_answered_once(product, plan, tally)
    dead_processes(tally, product.processes)
    return tally


def _channel_of(raw: bytes) -> Optional[str]:
    try:
        return json.loads(raw)["event"]["channel"]
    except (ValueError, KeyError, TypeError):
        return None


def _every_message_answered_once(product: Product, plan: Plan, tally: Tally) -> None:
    """Each DM got an answer, and its conversation holds exactly the messages sent (a replay adds none)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    unanswered = set(plan.turns)
    while unanswered and time.monotonic() < deadline:
        answered = {call.args.get("channel") for call in list(product.slack.calls) if call.method == "chat.postMessage"}
        unanswered -= answered
        time.sleep(1)
    for channel in sorted(unanswered):
        tally.fail(Finding("no answer", "Slack DM", f"no answer posted in {channel} within {SETTLE_SECONDS} s"))
    token = product.settings.rasa_token
    wrong = 0
    for channel, turns in plan.turns.items():
        if channel in unanswered:
            continue
        tracker = requests.get(f"{product.rasa_url}/conversations/slack:{TEAM}:{channel}/tracker", params={"token": token}, timeout=30)
        users = customer_messages(tracker.json().get("events", [])) if tracker.ok else []
        over_limit = not users  # the too-long message is answered by the channel, never reaches the dialogue
        if len(users) != turns and not (over_limit and turns == 1):
            wrong += 1
            tally.fail(Finding("duplicated" if len(users) > turns else "lost", "Slack DM",
                               f"{channel}: {len(users)} customer messages in the conversation, {turns} sent",
                               clip(" | ".join(str(u.get("text"))[:60] for u in users), 300)))
    tally.figures["DMs answered"] = f"{len(plan.turns) - len(unanswered)}/{len(plan.turns)}"
    tally.figures["conversations with the wrong number of messages"] = wrong
