"""Generated customer input for the battery: odd texts, malformed bodies and frames, hostile ids.

Seeded (`random.Random`), so a failure found once is found again with the same seed. Each generator
yields (label, what to send); the label names the kind of input in the report ("text:control
characters", "body:invalid UTF-8", ...), so a failure says what provoked it.
"""
from __future__ import annotations

import json
import random
import string
from typing import Any, Dict, Iterator, List, Tuple

MEGABYTE = 1024 * 1024

ORDINARY = ("where is my order", "I want to return my headphones", "cancel order 104512", "talk to a person",
            "how do I reset my Pulse 700", "my card was charged twice", "change my address to 12 Oak Street",
            "this is useless!!!", "hi", "thanks, bye", "what are your opening hours", "is order 104519 shipped")


def _hex(rng: random.Random, digits: int) -> str:
    """A random id from the seeded generator (uuid4 would make a run unrepeatable)."""
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _codepoints(rng: random.Random, count: int, planes: Tuple[Tuple[int, int], ...]) -> str:
    out: List[str] = []
    while len(out) < count:
        low, high = rng.choice(planes)
        point = rng.randint(low, high)
        if 0xD800 <= point <= 0xDFFF:  # surrogates are not characters; the invalid-UTF-8 kind covers them
            continue
        out.append(chr(point))
    return "".join(out)


def odd_texts(rng: random.Random) -> Iterator[Tuple[str, str]]:
    """Endless (label, text): the customer messages a chat box can carry, from plain to hostile."""
    kinds = [
        ("ordinary", lambda: rng.choice(ORDINARY)),
        ("control characters", lambda: rng.choice(ORDINARY) + "".join(chr(rng.randint(0, 31)) for _ in range(rng.randint(1, 40)))),
        ("NUL and DEL", lambda: "\x00" * rng.randint(1, 5) + rng.choice(ORDINARY) + "\x7f"),
        ("unicode", lambda: _codepoints(rng, rng.randint(1, 300), ((0x20, 0x7E), (0xA0, 0x2FFF), (0x3000, 0x9FFF),
                                                                    (0x1F300, 0x1FAFF), (0xE000, 0xF8FF), (0x10000, 0x10FFFF)))),
        ("right-to-left and zero-width", lambda: "\u202e" + rng.choice(ORDINARY) + "\u200b\u200d\ufeff\u2066"),
        ("combining marks", lambda: "o" + "\u0301\u0336\u0489" * rng.randint(10, 400)),
        ("whitespace only", lambda: rng.choice([" ", "\t\n", "\u00a0\u2003", "\r\n" * 50])),
        ("markup", lambda: rng.choice(['<script>window.__xss=1</script>', '"><img src=x onerror=alert(1)>', "{{7*7}}",
                                       "${jndi:ldap://x}", "' OR 1=1 --", "[link](javascript:alert(1))", "%s%s%n", "/restart",
                                       '/inform{"order_number": "104512"}', "/session_start", "/nlu_fallback"])),
        ("long", lambda: (rng.choice(ORDINARY) + " ") * rng.randint(100, 900)),
        ("at the limit", lambda: "x" * rng.choice([9_999, 10_000])),
        ("over the limit", lambda: "x" * rng.choice([10_001, 50_000])),
        ("personal details", lambda: rng.choice(["my email is jane.doe@example.com", "card 4111 1111 1111 1111 please",
                                                  "call me on +1 (555) 010-2030", "I live at 12 Oak Street, Apt 4"])),
        ("random printable", lambda: "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 500)))),
    ]
    while True:
        label, make = rng.choice(kinds)
        yield label, make()


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def senders(rng: random.Random) -> Iterator[Tuple[str, Any]]:
    """(label, sender): a fresh valid id mostly, and the ids a hostile client would try."""
    kinds = [
        ("valid", lambda: f"rel-{_hex(rng, 12)}"),
        ("valid", lambda: f"rel-{_hex(rng, 12)}"),
        ("valid", lambda: f"rel-{_hex(rng, 12)}"),
        ("huge", lambda: "s" * rng.choice([129, 10_000, 200_000])),
        ("path tricks", lambda: rng.choice(["../../etc/passwd", "a/b", "%2e%2e%2f", "a?b=c", "a#b", "a b", "default"])),
        ("reserved for Slack", lambda: "slack:D0123ABC"),
        ("unicode", lambda: "séssion-" + _hex(rng, 6)),
        ("wrong type", lambda: rng.choice([None, 12345, 1.5, True, [], {"id": "x"}, ""])),
    ]
    while True:
        label, make = rng.choice(kinds)
        yield label, make()


def metadatas(rng: random.Random, identity_claim: Dict[str, str]) -> Iterator[Tuple[str, Any]]:
    """(label, metadata): absent, plain, nested, huge, wrongly typed and forged identities."""
    kinds = [
        ("none", lambda: None), ("none", lambda: None),
        ("plain", lambda: {"page": "/orders", "locale": "en-GB"}),
        ("nested", lambda: _deep(rng.choice([50, 500]), "deep")),
        ("big", lambda: {"blob": "m" * rng.choice([100_000, 900_000])}),
        ("wrong type", lambda: rng.choice(["{not json", 7, [1, 2], True, "null"])),
        ("forged customer", lambda: {"customer": rng.choice([
            {"customer_id": "C1001", "email": "jane.doe@example.com"},  # no signature
            {"customer_id": "C1001", "email": "jane.doe@example.com", "signature": "0" * 64},
            {**identity_claim, "customer_id": "C1002"},  # a real signature, replayed for another customer
            {"customer_id": ["C1001"], "email": {"x": 1}, "signature": 5},
            "C1001"])}),
    ]
    while True:
        label, make = rng.choice(kinds)
        yield label, make()


def webhook_bodies(rng: random.Random, count: int, identity_claim: Dict[str, str]) -> Iterator[Tuple[str, bytes]]:
    """`count` (label, raw body) for Rasa's REST webhook."""
    texts, ids, metas = odd_texts(rng), senders(rng), metadatas(rng, identity_claim)
    raw_kinds = [
        ("body:empty", lambda: b""),
        ("body:not an object", lambda: rng.choice([b"null", b"[]", b"123", b'"hello"', b"true", b'[{"sender": "a", "message": "hi"}]'])),
        ("body:invalid JSON", lambda: rng.choice([b"{", b'{"sender": "a", "message": "hi"', b'{"sender": "a"} trailing', b"{'a': 1}",
                                                  b'{"message": NaN}', b"\x00\x01\x02"])),
        ("body:invalid UTF-8", lambda: rng.choice([b'{"sender": "rel-a", "message": "\xff\xfe"}', b'{"sender": "rel-a", "message": "\xc0\xaf"}',
                                                   b'{"sender": "rel-a", "message": "\xed\xa0\x80"}', b"\xff" * 100])),
        ("body:deeply nested JSON", lambda: b"[" * rng.choice([1_000, 100_000]) + b"]" * rng.choice([0, 1_000])),
        ("body:1 MB", lambda: json.dumps({"sender": f"rel-{_hex(rng, 8)}", "message": "y" * MEGABYTE}).encode()),
        ("body:metadata nested 5,000 deep", lambda: b'{"sender": "rel-deep", "message": "hi", "metadata": '
                                                   + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}"),
        ("body:duplicate keys", lambda: b'{"sender": "rel-dup", "sender": ["x"], "message": "hi"}'),
    ]
    for _ in range(count):
        if rng.random() < 0.3:
            label, make = rng.choice(raw_kinds)
            yield label, make()
            continue
        text_label, text = next(texts)
        sender_label, sender = next(ids)
        meta_label, meta = next(metas)
        body: Dict[str, Any] = {"sender": sender, "message": text}
        if rng.random() < 0.1:
            body["message"] = rng.choice([None, 42, ["hi"], {"text": "hi"}, True])
            text_label = "wrong type"
        if meta is not None:
            body["metadata"] = meta
        yield f"sender:{sender_label} text:{text_label} metadata:{meta_label}", json.dumps(body).encode()


def socket_frames(rng: random.Random, count: int, identity_claim: Dict[str, str], session_id: str) -> Iterator[Tuple[str, Any]]:
    """`count` (label, frame) for the socket.io channel: a dict is a `user_uttered` payload sent as a proper
    event; str or bytes is a raw WebSocket frame (engine.io/socket.io packets, malformed ones too)."""
    texts, metas = odd_texts(rng), metadatas(rng, identity_claim)
    raw_kinds = [
        ("frame:malformed socket.io packet", lambda: rng.choice(['42[', '42{}', '42["user_uttered"', '4', '9', '42["user_uttered",]',
                                                                  '42[null, {}]', '43', '41', '42[1,2,3]'])),
        ("frame:event without data", lambda: '42["user_uttered"]'),
        ("frame:other event names", lambda: '42' + json.dumps([rng.choice(["session_request", "disconnect", "connect", "x" * 1000,
                                                                          "bot_uttered", "error"]), {"session_id": session_id}])),
        ("frame:invalid UTF-8", lambda: b'42["user_uttered", {"message": "\xff\xfe"}]'),
        ("frame:binary", lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))),
        ("frame:over 1 MB", lambda: '42' + json.dumps(["user_uttered", {"message": "z" * (MEGABYTE + 10), "session_id": session_id}])),
        ("frame:deeply nested", lambda: '42["user_uttered", ' + "[" * 50_000 + "]" * 50_000 + "]"),
    ]
    for _ in range(count):
        if rng.random() < 0.2:
            label, make = rng.choice(raw_kinds)
            yield label, make()
            continue
        text_label, text = next(texts)
        meta_label, meta = next(metas)
        payload: Any = {"message": text, "session_id": session_id}
        choice = rng.random()
        if choice < 0.05:
            payload = rng.choice([None, "hi", 42, ["hi"]])
            text_label = "payload of the wrong type"
        elif choice < 0.12:
            payload["session_id"] = rng.choice([None, 7, "", "x" * 10_000, "slack:D0123ABC", "../x", _hex(rng, 32)])
            text_label += " with a session id not its own"
        elif choice < 0.17:
            payload["message"] = rng.choice([None, 42, ["hi"], {"text": "hi"}])
            text_label = "message of the wrong type"
        if meta is not None and isinstance(payload, dict):
            payload["metadata"] = meta
        yield f"text:{text_label} metadata:{meta_label}", payload
