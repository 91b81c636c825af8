"""The battery's own pieces: what counts as showing internals, seeded inputs, the report."""
import json
import random

from bot.bench.reliability.inputs import socket_frames, webhook_bodies
from bot.bench.reliability.report import render
from bot.bench.reliability.verdicts import Tally, check_answer, internal_paths, leaks

PATHS = internal_paths()


def test_a_stack_trace_or_a_server_path_is_a_leak():
    assert leaks('Traceback (most recent call last):\n  File "x.py", line 3', "", PATHS)
    assert leaks("KeyError: 'sender'", "", PATHS)
    assert leaks(f"cannot open {PATHS[0]}/var/app.db", "", PATHS)
    assert leaks('{"error": "the body is not valid JSON"}', "", PATHS) is None


def test_what_the_request_carried_is_not_held_against_the_answer():
    typed = "my ValueError: thing"
    assert leaks(f"You said: {typed}", typed, PATHS) is None


def test_answers_are_tallied_and_5xx_fail():
    tally = Tally("x")
    assert check_answer(tally, "a", 400, '{"error": "no"}', "", PATHS)
    assert not check_answer(tally, "b", 503, "busy", "", PATHS)
    assert tally.tried == 2 and tally.failures["5xx"] == 1 and tally.outcomes == {"400": 1, "503": 1}


def test_inputs_are_seeded_and_varied():
    first = list(webhook_bodies(random.Random(3), 300, {"customer_id": "C1", "email": "a@b.example", "signature": "s"}))
    again = list(webhook_bodies(random.Random(3), 300, {"customer_id": "C1", "email": "a@b.example", "signature": "s"}))
    assert first == again and len(first) == 300
    kinds = {"body:invalid" if label.startswith("body:invalid") else label.split(" ")[0] for label, _ in first}
    assert {"body:invalid", "body:empty", "sender:valid"} <= kinds
    frames = list(socket_frames(random.Random(3), 200, {}, "S"))
    assert any(isinstance(f, bytes) for _, f in frames) and any(isinstance(f, dict) for _, f in frames)


def test_the_report_has_a_row_per_part_and_the_fixes():
    tally = Tally("REST webhook", tried=5)
    tally.outcomes["200"] = 5
    text = render({"date": "2026-12-06", "quick": True, "seed": 1, "seconds": 9, "command": "make bench-reliability",
                   "parts": [json.loads(json.dumps(tally.as_dict()))]})
    assert "| REST webhook | 5 | 0 | 200: 5 |" in text and "## Found by the battery and fixed" in text
    assert "None." in text
