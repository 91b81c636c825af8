"""Unit tests of the handoff benchmark: the conversations file, its loader, the metrics and the report.

No servers: the outcomes are made up here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.bench.handoff import (
    CATEGORIES,
    CONVERSATION_FILES,
    CONVERSATIONS_FILE,
    FRESH_CONVERSATIONS_FILE,
    NOTES_END,
    NOTES_START,
    SECTION_TITLE,
    Conversation,
    ConversationFileError,
    Outcome,
    SetResult,
    always_open_handoff_config,
    docs_section,
    evaluate,
    existing_notes,
    is_correct,
    load_conversations,
    mismatch_lines,
    parse_conversations,
    replace_section,
    verdict_text,
)
from bot.handoff.models import REASONS
from bot.handoff.rules import HandoffRules
from bot.settings import PROJECT_ROOT

# ---------------------------------------------------------------------------- the shipped conversations


def test_the_shipped_conversations_load_and_cover_every_category() -> None:
    conversations = load_conversations()
    counts = Counter(c.category for c in conversations)
    assert len(conversations) >= 70
    assert set(counts) == set(CATEGORIES)
    minimum = {"frustrated": 15, "explicit_request": 12, "confused": 10, "happy": 15, "out_of_scope": 10, "policy_topic": 6}
    for category, least in minimum.items():
        assert counts[category] >= least, category


@pytest.mark.parametrize("path", CONVERSATION_FILES[1:], ids=lambda path: path.name)
def test_each_later_set_loads_with_enough_of_each_kind(path: Path) -> None:
    later = load_conversations(path)
    counts = Counter(c.category for c in later)
    assert len(later) >= 30 and counts["frustrated"] >= 10 and counts["explicit_request"] >= 8 and counts["happy"] >= 10


def test_every_set_is_played_and_no_id_is_in_two_sets() -> None:
    assert CONVERSATION_FILES[:2] == (CONVERSATIONS_FILE, FRESH_CONVERSATIONS_FILE)
    assert set(CONVERSATION_FILES) == set(CONVERSATIONS_FILE.parent.glob("handoff_conversations*.yml"))
    ids = [c.id for path in CONVERSATION_FILES for c in load_conversations(path)]
    assert len(ids) == len(set(ids))


def _every_shipped_conversation() -> list:
    return [c for path in CONVERSATION_FILES for c in load_conversations(path)]


def test_the_shipped_expectations_agree_with_their_category() -> None:
    expected_reason = {"frustrated": "frustrated", "explicit_request": "customer_request", "policy_topic": "policy_topic"}
    for c in _every_shipped_conversation():
        if c.category in ("happy", "out_of_scope"):
            assert not c.handoff, c.id
        else:
            assert c.handoff and c.reason in REASONS, c.id
        if c.category in expected_reason:
            assert c.reason == expected_reason[c.category], c.id
        assert c.reason not in c.also_accept and all(reason in REASONS for reason in c.also_accept), c.id
        if c.category == "confused":
            assert c.reason in ("not_confident", "kb_no_answer", "not_helpful"), c.id
    reasons = Counter(c.reason for c in load_conversations() if c.category == "confused")
    assert all(reasons[r] >= 3 for r in ("not_confident", "kb_no_answer", "not_helpful"))


def test_the_shipped_turns_are_customer_messages_or_known_payloads() -> None:
    payloads = {"/answer_not_helpful", "/answer_helped", "/request_human", "/out_of_scope"}
    for c in _every_shipped_conversation():
        for turn in c.turns:
            assert not turn.startswith("/") or turn in payloads, (c.id, turn)


# ---------------------------------------------------------------------------- the loader


def _file(*conversations: dict) -> dict:
    return {"conversations": list(conversations)}


GOOD = {"id": "a-one", "category": "frustrated", "turns": ["WHERE IS IT"], "handoff": True, "reason": "frustrated"}


def test_parse_reads_a_conversation() -> None:
    [c] = parse_conversations(_file({**GOOD, "turns": ["  hi  ", "no"], "also_accept": ["not_helpful"], "note": "n"}))
    assert c == Conversation("a-one", "frustrated", ("hi", "no"), True, "frustrated", ("not_helpful",), "n")


@pytest.mark.parametrize("change, message", [
    ({"category": "angry"}, "'category' must be one of"),
    ({"reason": None}, "needs a 'reason'"),
    ({"reason": "because"}, "needs a 'reason'"),
    ({"handoff": "yes"}, "'handoff' must be true or false"),
    ({"turns": []}, "'turns' must be a non-empty list"),
    ({"turns": ["ok", ""]}, "'turns' must be a non-empty list"),
    ({"id": "Has Spaces"}, "'id' must be"),
    ({"also_accept": ["frustrated"]}, "'also_accept'"),
    ({"mood": "bad"}, "unknown field(s) mood"),
])
def test_parse_rejects_malformed_conversations(change: dict, message: str) -> None:
    with pytest.raises(ConversationFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_conversations(_file({**GOOD, **change}))


def test_parse_rejects_a_reason_without_a_handoff_and_duplicates() -> None:
    with pytest.raises(ConversationFileError, match="only for conversations that are handed off"):
        parse_conversations(_file({**GOOD, "handoff": False}))
    with pytest.raises(ConversationFileError, match="duplicate id"):
        parse_conversations(_file(GOOD, GOOD))
    with pytest.raises(ConversationFileError, match="'conversations' list"):
        parse_conversations({"items": []})


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(_file({**GOOD, "category": "x"})))
    with pytest.raises(ConversationFileError, match=str(path)):
        load_conversations(path)


# ---------------------------------------------------------------------------- metrics


def _c(ident: str, category: str, handoff: bool, reason: str | None = None, also: tuple = (), turns: int = 2) -> Conversation:
    return Conversation(ident, category, tuple(f"{ident} message {n}" for n in range(1, turns + 1)), handoff, reason, also)


CONVERSATIONS = [
    _c("f1", "frustrated", True, "frustrated"),
    _c("f2", "frustrated", True, "frustrated"),
    _c("e1", "explicit_request", True, "customer_request"),
    _c("c1", "confused", True, "not_helpful", ("kb_no_answer",)),
    _c("c2", "confused", True, "not_confident"),
    _c("h1", "happy", False),
    _c("h2", "happy", False),
    _c("o1", "out_of_scope", False),
]


def _outcomes(**given: tuple) -> dict[str, Outcome]:
    outcomes = {c.id: Outcome(c.id, handed_off=False) for c in CONVERSATIONS}
    for ident, (reason, turn) in given.items():
        outcomes[ident] = Outcome(ident, handed_off=True, reason=reason, turn=turn)
    return outcomes


def test_evaluate_counts_handoffs_reasons_and_the_target() -> None:
    outcomes = _outcomes(f1=("frustrated", 2), f2=("not_confident", 1), e1=("customer_request", 1),
                         c1=("kb_no_answer", 2), h1=("frustrated", 2))
    m = evaluate(CONVERSATIONS, outcomes)
    h = m["handed_off"]
    assert (h["tp"], h["fp"], h["fn"], h["tn"]) == (4, 1, 1, 2)
    assert h["precision"] == pytest.approx(0.8) and h["recall"] == pytest.approx(0.8) and h["f1"] == pytest.approx(0.8)
    # frustrated: given to f1 (right) and h1 (wrong); expected f1, f2
    assert m["per_reason"]["frustrated"] == {"expected": 2, "predicted": 2, "correct": 1, "precision": 0.5, "recall": 0.5,
                                             "f1": 0.5}
    # c1's kb_no_answer is accepted, so it counts as the expected not_helpful
    assert m["per_reason"]["not_helpful"]["correct"] == 1 and m["per_reason"]["kb_no_answer"]["predicted"] == 0
    assert m["per_reason"]["not_confident"] == {"expected": 1, "predicted": 1, "correct": 0, "precision": 0.0, "recall": 0.0,
                                                "f1": 0.0}
    assert m["per_reason"]["policy_topic"]["precision"] is None and m["per_reason"]["policy_topic"]["recall"] is None
    assert m["reason_accuracy_of_right_handoffs"] == pytest.approx(3 / 4)
    assert m["reason_accuracy_of_right_handoffs_strict"] == pytest.approx(2 / 4)
    # f2 was handed off (wrong reason): recall on the must-hand-off categories is still 100 %
    t = m["target"]
    assert t["recall_frustrated_and_explicit"] == 1.0 and t["recall_met"]
    assert t["recall_frustrated_and_explicit_with_right_reason"] == pytest.approx(2 / 3)
    assert not t["precision_met"] and not t["met"]
    assert m["per_category"]["happy"] == {"conversations": 2, "expected_handoffs": 0, "handed_off": 1, "recall": None,
                                          "false_handoffs": 1, "right_reason": 0, "correct": 1,
                                          "reasons": {"frustrated": 1}, "errors": 0}
    kinds = {x["id"]: (x["kind"], x["turn"], x["turn_text"]) for x in m["mismatches"]}
    assert kinds == {"f2": ("wrong reason", 1, "f2 message 1"), "c2": ("missed handoff", None, None),
                     "h1": ("unwanted handoff", 2, "h1 message 2")}
    outcomes["c2"].unoffered_clicks = [2]
    lines = mismatch_lines(evaluate(CONVERSATIONS, outcomes))
    assert "- `h1` (happy, unwanted handoff): expected no handoff, got handoff (frustrated) at turn 2 of 2 after \"h1 message 2\"" in lines
    assert any(line.startswith("- `c2`") and line.endswith("(turn(s) 2 click a button the bot had not shown)") for line in lines)


def test_the_target_is_met_only_with_full_recall_and_enough_precision() -> None:
    everything = _outcomes(f1=("frustrated", 1), f2=("frustrated", 1), e1=("customer_request", 1),
                           c1=("not_helpful", 2), c2=("not_confident", 2))
    m = evaluate(CONVERSATIONS, everything)
    assert m["target"]["met"] and m["handed_off"]["precision"] == 1.0 and not m["mismatches"]
    assert verdict_text(m).startswith("**Target met.**")
    missed_one = _outcomes(f1=("frustrated", 1), e1=("customer_request", 1), c1=("not_helpful", 2), c2=("not_confident", 2))
    m = evaluate(CONVERSATIONS, missed_one)
    assert m["target"]["recall_by_category"] == {"frustrated": 0.5, "explicit_request": 1.0}
    assert m["target"]["precision_met"] and not m["target"]["recall_met"] and not m["target"]["met"]
    assert verdict_text(m).startswith("**Target missed.**")


def test_is_correct_and_missing_outcomes() -> None:
    c = _c("c1", "confused", True, "not_helpful", ("kb_no_answer",))
    assert is_correct(c, Outcome("c1", True, "kb_no_answer", 2)) and not is_correct(c, Outcome("c1", True, "frustrated", 2))
    assert not is_correct(c, Outcome("c1", False)) and is_correct(_c("h", "happy", False), Outcome("h", False))
    with pytest.raises(ValueError, match="no outcome for"):
        evaluate(CONVERSATIONS, {})


# ---------------------------------------------------------------------------- docs and configuration


def test_the_docs_section_is_replaced_and_keeps_hand_written_notes() -> None:
    m = evaluate(CONVERSATIONS, _outcomes(f1=("frustrated", 2)))
    run = {"started_at_text": "2026-11-23 19:00", "finished_at_text": "19:05", "duration_s": 300.0}
    document = f"# Benchmarks\n\n## NLU\n\ntext\n\n{SECTION_TITLE}\n\nold numbers\n{NOTES_START}\nwhy it missed\n{NOTES_END}\n\n## Later\n\nmore\n"
    notes = existing_notes(document)
    assert notes == "why it missed"
    updated = replace_section(document, docs_section([SetResult(CONVERSATIONS_FILE, m)], m, run, notes))
    assert "old numbers" not in updated and updated.count(SECTION_TITLE) == 1
    assert "## NLU\n\ntext" in updated and updated.rstrip().endswith("## Later\n\nmore")
    assert "why it missed" in updated and "2026-11-23 19:00–19:05 UTC" in updated and "**Target missed.**" in updated
    assert "`c2` (confused, missed handoff)" in updated
    appended = replace_section("# Benchmarks\n", docs_section([SetResult(CONVERSATIONS_FILE, m)], m, run))
    assert appended.startswith("# Benchmarks\n\n" + SECTION_TITLE) and NOTES_START not in appended


def test_the_docs_section_reports_each_set_apart_and_both_together() -> None:
    first = evaluate(CONVERSATIONS, _outcomes(f1=("frustrated", 2)))
    run = {"started_at_text": "2026-12-03 09:00", "finished_at_text": "09:05", "duration_s": 300.0}
    section = docs_section([SetResult(CONVERSATIONS_FILE, first), SetResult(FRESH_CONVERSATIONS_FILE, first)], first, run)
    assert "### `handoff_conversations.yml`" in section and "### `handoff_conversations_fresh.yml`" in section
    assert "No longer unseen" in section and "had not seen the assistant run" in section
    assert "all 2 sets together: **Target missed.**" in section


def test_the_always_open_configuration_keeps_the_shipped_triggers(tmp_path: Path) -> None:
    path = always_open_handoff_config(tmp_path, PROJECT_ROOT / "handoff.yml")
    written, shipped = yaml.safe_load(path.read_text()), yaml.safe_load((PROJECT_ROOT / "handoff.yml").read_text())
    assert written["triggers"] == shipped["triggers"] and written["queue"] == shipped["queue"]
    rules = HandoffRules.from_mapping(written)
    from datetime import datetime

    assert all(rules.hours.is_open(datetime(2026, 12, 25, hour, 30)) for hour in (0, 3, 12, 23))
