"""The battery's own pieces: what counts as showing internals, seeded inputs, the report."""
import json
import random

from bot.bench.reliability.inputs import socket_frames, webhook_bodies
from bot.bench.reliability.report import render
from bot.bench.reliability.verdicts import Finding, Tally, check_answer, internal_paths, leaks

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


def test_the_report_has_a_table_per_part_with_its_fixes():
    tally = Tally("REST webhook", tried=5)
    tally.outcomes["200"] = 5
    tally.figures["seconds"] = 1.5
    broken = Tally("disk full", tried=2)
    broken.fail(Finding("lost", "disk-rest-1", "message m1 is in the conversation 0 times"))
    text = render({"date": "2026-12-06", "quick": True, "seed": 1, "seconds": 9, "command": "make bench-reliability",
                   "parts": [json.loads(json.dumps(t.as_dict())) for t in (tally, broken)]})
    assert "| [REST webhook](#rest-webhook) | 5 | 0 | 2 |" in text
    assert "## REST webhook" in text and "| inputs tried | 5 |" in text and "| seconds | 1.5 |" in text
    assert "| failures in this run | 1 (lost × 1) |" in text and "- lost at `disk-rest-1`" in text
    assert text.count("Found by the battery and fixed") == 2 and "tests/bot/test_rasa_durability.py" in text


def test_the_copy_rasas_two_stage_fallback_adds_is_not_counted_as_a_second_customer_message():
    from rasa.core.actions.two_stage_fallback import _message_clarification
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUtteranceReverted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.bench.reliability.verdicts import customer_messages

    said = UserUttered("and where is my order", {"name": "nlu_fallback", "confidence": 0.3}, metadata={"id": "m1"})
    tracker = DialogueStateTracker.from_events("c1", [ActionExecuted("action_listen"), said], slots=Domain.empty().slots)
    # what Rasa appends when its two-stage fallback ends: a revert, then a copy of the customer's message
    events = [ActionExecuted("action_listen"), said, BotUttered("Did you mean order status?"),
              UserUtteranceReverted(), *_message_clarification(tracker), BotUttered("Order 104512 shipped.")]
    serialised = [e.as_dict() for e in events]
    assert [e["event"] for e in serialised].count("user") == 2
    assert [e["text"] for e in customer_messages(serialised)] == ["and where is my order"]
    # a message the customer really sent twice still counts twice
    twice = serialised[:3] + [ActionExecuted("action_listen").as_dict(), said.as_dict()]
    assert len(customer_messages(twice)) == 2


def test_a_failed_run_keeps_its_logs_and_databases(tmp_path):
    from types import SimpleNamespace

    from bot.bench.reliability.__main__ import _keep_evidence

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "rasa.log").write_text("the cause")
    (tmp_path / "conversations.db").write_bytes(b"SQLite format 3")
    product = SimpleNamespace(settings=SimpleNamespace(log_dir=tmp_path / "logs"))
    kept = _keep_evidence(tmp_path, product)
    assert (kept / "logs" / "rasa.log").read_text() == "the cause" and (kept / "conversations.db").exists()
    assert not str(kept).startswith(str(tmp_path))  # outside the folder the run deletes
