"""Handoff-decision benchmark (issue 4): `python -m bot.bench.handoff [--json docs/bench-handoff.json]`.

Plays the scripted conversations of `bot/bench/handoff_conversations.yml` (written for this benchmark:
frustrated, confused, explicit requests for a person, happy, out-of-scope and policy topics, each with
the outcome a good support product should reach) and of `handoff_conversations_fresh.yml` and `_third.yml` to
`_tenth.yml` (`LATER_SETS`: sets written later by someone blind to the assistant's behaviour, each reported
apart) against the real product, and measures whether the assistant handed the conversation to a person and
with which reason.

1. Starts the action server, the Rasa server (the trained model in models/, trained first with
   `bot.runner.train`; Rasa's fingerprint skips training when nothing changed) and the web app through
   `bot.runner`, on ports of their own (18005 / 18055 / 18080), with a temporary data folder, the seeded
   demo store, the knowledge-base index built into it and a copy of handoff.yml whose business hours
   are always open (the result must not depend on the hour it runs at; the triggers are the shipped ones).
2. Creates a desk agent and signs it in through the web API (`POST /api/auth/login`), signing in again
   well within the presence window (handoff.yml `queue.agent_online_minutes`) so someone is always online
   and handoffs go to the queue.
3. Sends every conversation over the REST channel, one sender id per conversation, one customer message
   at a time, and stops at the first handoff. The outcome is read from the app database (the `handoffs`
   table); if nobody could take it and the offline form was offered, the form is filled and the ticket read.
4. Prints per-category results, precision / recall / F1 of "handed off", precision / recall per reason,
   recall on the frustrated and explicit-request conversations, every conversation whose outcome differs
   from its expectation (with the turn it happened at), and the verdict against the target:
   recall 100 % on frustrated and explicit-request conversations and precision >= 90 %.
   Writes the JSON (`--json`) and the section "## Handoff decisions (issue 4)" of docs/benchmarks.md.

Each conversation's trace (intent, confidence, per-message frustration score and cues of every customer
message, and the conversation-level frustration verdict after it, computed with the same functions the
policy uses) goes into the JSON, to find out why a trigger did or did not fire.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shlex
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from bot.handoff.models import REASONS

REPO_ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS_FILE = Path(__file__).resolve().parent / "handoff_conversations.yml"
# written later, blind to the assistant's behaviour: measured beside the first set, reported apart
FRESH_CONVERSATIONS_FILE = Path(__file__).resolve().parent / "handoff_conversations_fresh.yml"
# the third to the tenth set, each written blind once the one before had been read
LATER_SETS = ("third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
CONVERSATION_FILES = (CONVERSATIONS_FILE, FRESH_CONVERSATIONS_FILE) + tuple(
    CONVERSATIONS_FILE.parent / f"handoff_conversations_{name}.yml" for name in LATER_SETS
)
DOCS_FILE = REPO_ROOT / "docs" / "benchmarks.md"
SECTION_TITLE = "## Handoff decisions (issue 4)"
NOTES_START, NOTES_END = "<!-- notes -->", "<!-- /notes -->"

CATEGORIES = ("frustrated", "confused", "explicit_request", "happy", "out_of_scope", "policy_topic")
# the categories whose every conversation must be handed off (the target's recall part)
MUST_HAND_OFF = ("frustrated", "explicit_request")
TARGET_RECALL = 1.0
TARGET_PRECISION = 0.90
PORTS = {"RASA_PORT": "18005", "ACTION_PORT": "18055", "WEB_PORT": "18080"}
AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD = "bench-agent@bench.example", "Bench Agent", "bench agent password"
SIGN_IN_EVERY_SECONDS = 45.0  # well inside the 2-minute presence window
OFFLINE_EMAIL = "bench.customer@example.com"
ALWAYS_SHOWN = ("/request_human",)  # the widget's "Talk to a person" button
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# --------------------------------------------------------------------------------------------
# The conversations file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    id: str
    category: str
    turns: tuple[str, ...]
    handoff: bool
    reason: Optional[str] = None
    also_accept: tuple[str, ...] = ()
    note: str = ""

    def accepts(self, reason: Optional[str]) -> bool:
        """Whether a handoff with this reason is the expected one."""
        return self.handoff and reason is not None and (reason == self.reason or reason in self.also_accept)


class ConversationFileError(ValueError):
    """The conversations file is malformed; the message names the conversation and the field."""


def parse_conversations(data: Any, source: str = "conversations") -> list[Conversation]:
    """Validated conversations from the parsed YAML (a mapping with a `conversations` list)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("conversations"), list):
        raise ConversationFileError(f"{source}: expected a mapping with a 'conversations' list")
    known = {"id", "category", "turns", "handoff", "reason", "also_accept", "note"}
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for number, item in enumerate(data["conversations"], start=1):
        where = f"{source}: conversation {number}"
        if not isinstance(item, Mapping):
            raise ConversationFileError(f"{where}: expected a mapping")
        ident = item.get("id")
        if not isinstance(ident, str) or not _ID.match(ident):
            raise ConversationFileError(f"{where}: 'id' must be lower-case words and digits joined by '-', got {ident!r}")
        where = f"{source}: {ident}"
        if ident in seen:
            raise ConversationFileError(f"{where}: duplicate id")
        seen.add(ident)
        unknown = sorted(set(item) - known)
        if unknown:
            raise ConversationFileError(f"{where}: unknown field(s) {', '.join(unknown)}")
        category = item.get("category")
        if category not in CATEGORIES:
            raise ConversationFileError(f"{where}: 'category' must be one of {', '.join(CATEGORIES)}, got {category!r}")
        turns = item.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            raise ConversationFileError(f"{where}: 'turns' must be a non-empty list of non-empty messages")
        handoff = item.get("handoff")
        if not isinstance(handoff, bool):
            raise ConversationFileError(f"{where}: 'handoff' must be true or false, got {handoff!r}")
        reason = item.get("reason")
        also = item.get("also_accept") or []
        if handoff:
            if reason not in REASONS:
                raise ConversationFileError(f"{where}: a handoff needs a 'reason', one of {', '.join(REASONS)}; got {reason!r}")
            if not isinstance(also, list) or not all(r in REASONS and r != reason for r in also):
                raise ConversationFileError(f"{where}: 'also_accept' must list other reasons from {', '.join(REASONS)}")
        elif reason is not None or also:
            raise ConversationFileError(f"{where}: 'reason' and 'also_accept' are only for conversations that are handed off")
        note = item.get("note") or ""
        if not isinstance(note, str):
            raise ConversationFileError(f"{where}: 'note' must be text")
        conversations.append(Conversation(ident, category, tuple(t.strip() for t in turns), handoff, reason, tuple(also), note))
    if not conversations:
        raise ConversationFileError(f"{source}: no conversations")
    return conversations


def load_conversations(path: Path = CONVERSATIONS_FILE) -> list[Conversation]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConversationFileError(f"{path}: cannot read: {error}") from None
    return parse_conversations(data, str(path))


# --------------------------------------------------------------------------------------------
# Outcomes and metrics (pure)
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the product did with one conversation."""

    conversation_id: str
    handed_off: bool
    reason: Optional[str] = None
    turn: Optional[int] = None  # 1-based index of the customer message after which it happened
    via: Optional[str] = None  # "queue" | "offline" (the form was offered and a ticket made)
    detail: str = ""  # the handoff's reason detail, as the agent sees it
    error: Optional[str] = None  # the conversation could not be played to the end
    turns_played: int = 0
    replies: list[list[str]] = field(default_factory=list)  # the bot's texts after each customer message
    # turns that click a button the bot had not just shown (the widget's "Talk to a person" is always there):
    # the script and the assistant's path parted ways, which the reader of a mismatch should know
    unoffered_clicks: list[int] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)


def _ratio(numerator: int, denominator: int) -> Optional[float]:
    return numerator / denominator if denominator else None


def _f1(precision: Optional[float], recall: Optional[float]) -> Optional[float]:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def effective_reason(conversation: Conversation, outcome: Outcome) -> Optional[str]:
    """The handoff's reason, counted as the expected one when the conversation accepts it too."""
    if not outcome.handed_off:
        return None
    return conversation.reason if conversation.accepts(outcome.reason) else outcome.reason


def is_correct(conversation: Conversation, outcome: Outcome) -> bool:
    """Right outcome: no handoff when none was expected, or a handoff with an accepted reason."""
    if outcome.handed_off != conversation.handoff:
        return False
    return not conversation.handoff or conversation.accepts(outcome.reason)


def evaluate(conversations: Sequence[Conversation], outcomes: Mapping[str, Outcome]) -> dict[str, Any]:
    """Every metric of the benchmark from the expectations and the outcomes (keyed by conversation id)."""
    missing = [c.id for c in conversations if c.id not in outcomes]
    if missing:
        raise ValueError(f"no outcome for {', '.join(missing)}")
    pairs = [(c, outcomes[c.id]) for c in conversations]

    tp = sum(1 for c, o in pairs if c.handoff and o.handed_off)
    fp = sum(1 for c, o in pairs if not c.handoff and o.handed_off)
    fn = sum(1 for c, o in pairs if c.handoff and not o.handed_off)
    tn = sum(1 for c, o in pairs if not c.handoff and not o.handed_off)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    handed_off = {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall,
                  "f1": _f1(precision, recall), "accuracy": _ratio(tp + tn, len(pairs))}

    per_reason: dict[str, dict[str, Any]] = {}
    for reason in REASONS:
        expected = {c.id for c, _ in pairs if c.handoff and c.reason == reason}
        predicted = {c.id for c, o in pairs if effective_reason(c, o) == reason}
        hits = len(expected & predicted)
        p, r = _ratio(hits, len(predicted)), _ratio(hits, len(expected))
        per_reason[reason] = {"expected": len(expected), "predicted": len(predicted), "correct": hits,
                              "precision": p, "recall": r, "f1": _f1(p, r)}
    # reason right among the conversations that were rightly handed off
    right_reason = sum(1 for c, o in pairs if c.handoff and o.handed_off and c.accepts(o.reason))
    strict_reason = sum(1 for c, o in pairs if c.handoff and o.handed_off and o.reason == c.reason)

    per_category: dict[str, dict[str, Any]] = {}
    for category in CATEGORIES:
        group = [(c, o) for c, o in pairs if c.category == category]
        if not group:
            continue
        expected = sum(1 for c, _ in group if c.handoff)
        handed = sum(1 for _, o in group if o.handed_off)
        caught = sum(1 for c, o in group if c.handoff and o.handed_off)
        reasons: dict[str, int] = {}
        for _, o in group:
            if o.handed_off:
                reasons[str(o.reason)] = reasons.get(str(o.reason), 0) + 1
        per_category[category] = {
            "conversations": len(group), "expected_handoffs": expected, "handed_off": handed,
            "recall": _ratio(caught, expected),
            "false_handoffs": sum(1 for c, o in group if not c.handoff and o.handed_off),
            "right_reason": sum(1 for c, o in group if c.handoff and o.handed_off and c.accepts(o.reason)),
            "correct": sum(1 for c, o in group if is_correct(c, o)),
            "reasons": dict(sorted(reasons.items())),
            "errors": sum(1 for _, o in group if o.error),
        }

    must = [(c, o) for c, o in pairs if c.category in MUST_HAND_OFF]
    must_expected = [(c, o) for c, o in must if c.handoff]
    target_recall = _ratio(sum(1 for _, o in must_expected if o.handed_off), len(must_expected))
    target_recall_reason = _ratio(sum(1 for c, o in must_expected if o.handed_off and c.accepts(o.reason)), len(must_expected))
    recall_by_category = {cat: per_category[cat]["recall"] for cat in MUST_HAND_OFF if cat in per_category}
    recall_met = all(value is not None and value >= TARGET_RECALL - 1e-12 for value in recall_by_category.values()) \
        and bool(recall_by_category)
    precision_met = precision is not None and precision >= TARGET_PRECISION - 1e-12
    target = {
        "recall_required": TARGET_RECALL, "precision_required": TARGET_PRECISION,
        "recall_frustrated_and_explicit": target_recall, "recall_by_category": recall_by_category,
        "recall_frustrated_and_explicit_with_right_reason": target_recall_reason,
        "precision": precision, "recall_met": recall_met, "precision_met": precision_met,
        "met": recall_met and precision_met,
    }

    mismatches = []
    for c, o in pairs:
        if is_correct(c, o) and not o.error:
            continue
        turn_text = c.turns[o.turn - 1] if o.turn and 0 < o.turn <= len(c.turns) else None
        mismatches.append({
            "id": c.id, "category": c.category, "expected_handoff": c.handoff, "expected_reason": c.reason,
            "handed_off": o.handed_off, "reason": o.reason, "turn": o.turn, "turn_text": turn_text,
            "turns": len(c.turns), "detail": o.detail, "error": o.error, "unoffered_clicks": list(o.unoffered_clicks),
            "kind": _mismatch_kind(c, o),
        })

    return {
        "conversations": len(pairs),
        "by_category_count": {cat: sum(1 for c in conversations if c.category == cat) for cat in CATEGORIES},
        "handed_off": handed_off,
        "per_reason": per_reason,
        "reason_accuracy_of_right_handoffs": _ratio(right_reason, tp),
        "reason_accuracy_of_right_handoffs_strict": _ratio(strict_reason, tp),
        "per_category": per_category,
        "target": target,
        "mismatches": mismatches,
    }


def _mismatch_kind(conversation: Conversation, outcome: Outcome) -> str:
    if outcome.error and outcome.handed_off == conversation.handoff and is_correct(conversation, outcome):
        return "error"
    if conversation.handoff and not outcome.handed_off:
        return "missed handoff"
    if not conversation.handoff and outcome.handed_off:
        return "unwanted handoff"
    return "wrong reason"


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def pct(value: Optional[float], digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def verdict_text(metrics: Mapping[str, Any]) -> str:
    target = metrics["target"]
    recall = ", ".join(f"{cat.replace('_', ' ')} {pct(value)}" for cat, value in target["recall_by_category"].items())
    parts = [
        f"recall on frustrated and explicit-request conversations {pct(target['recall_frustrated_and_explicit'])} "
        f"({recall}; required 100 %) — **{'met' if target['recall_met'] else 'missed'}**",
        f"precision of \"handed off\" {pct(target['precision'])} (required ≥ {pct(TARGET_PRECISION, 0)}) — "
        f"**{'met' if target['precision_met'] else 'missed'}**",
    ]
    overall = "**Target met.**" if target["met"] else "**Target missed.**"
    return f"{overall} " + "; ".join(parts) + "."


def markdown_tables(metrics: Mapping[str, Any]) -> str:
    lines = ["| category | conversations | should be handed off | handed off | recall | unwanted handoffs | right reason | "
             "right outcome | reasons given |",
             "|---|---|---|---|---|---|---|---|---|"]
    for category, row in metrics["per_category"].items():
        reasons = ", ".join(f"{name} {count}" for name, count in row["reasons"].items()) or "–"
        lines.append(f"| {category} | {row['conversations']} | {row['expected_handoffs']} | {row['handed_off']} | "
                     f"{pct(row['recall'], 0)} | {row['false_handoffs']} | {row['right_reason']} | "
                     f"{row['correct']} of {row['conversations']} | {reasons} |")
    h = metrics["handed_off"]
    lines += ["", "| \"handed off\" | precision | recall | F1 | TP | FP | FN | TN |", "|---|---|---|---|---|---|---|---|",
              f"| all {metrics['conversations']} conversations | {pct(h['precision'])} | {pct(h['recall'])} | "
              f"{pct(h['f1'])} | {h['tp']} | {h['fp']} | {h['fn']} | {h['tn']} |"]
    lines += ["", "| reason | expected | given | correct | precision | recall |", "|---|---|---|---|---|---|"]
    for reason, row in metrics["per_reason"].items():
        lines.append(f"| {reason} | {row['expected']} | {row['predicted']} | {row['correct']} | {pct(row['precision'])} | "
                     f"{pct(row['recall'])} |")
    lines += ["", f"Reason right on {pct(metrics['reason_accuracy_of_right_handoffs'])} of the conversations rightly "
                  f"handed off ({pct(metrics['reason_accuracy_of_right_handoffs_strict'])} counting only each "
                  "conversation's first-named reason)."]
    return "\n".join(lines)


def mismatch_lines(metrics: Mapping[str, Any]) -> list[str]:
    lines = []
    for m in metrics["mismatches"]:
        expected = f"handoff ({m['expected_reason']})" if m["expected_handoff"] else "no handoff"
        got = f"handoff ({m['reason']}) at turn {m['turn']} of {m['turns']}" if m["handed_off"] else "no handoff"
        line = f"- `{m['id']}` ({m['category']}, {m['kind']}): expected {expected}, got {got}"
        if m["handed_off"] and m["turn_text"]:
            line += f" after \"{m['turn_text']}\""
        if m["detail"]:
            line += f" — {m['detail']}"
        if m["error"]:
            line += f" — error: {m['error']}"
        if m.get("unoffered_clicks"):
            line += f" (turn(s) {', '.join(map(str, m['unoffered_clicks']))} click a button the bot had not shown)"
        lines.append(line)
    return lines


def print_report(metrics: Mapping[str, Any], out=sys.stdout) -> None:
    print("\n# Handoff decisions (issue 4)\n", file=out)
    print(markdown_tables(metrics), file=out)
    t = metrics["target"]
    print(f"\nRecall on frustrated and explicit-request conversations: {pct(t['recall_frustrated_and_explicit'])} "
          f"(with the right reason: {pct(t['recall_frustrated_and_explicit_with_right_reason'])})", file=out)
    print(f"\n{len(metrics['mismatches'])} conversation(s) whose outcome differs from the expectation:", file=out)
    for line in mismatch_lines(metrics) or ["- none"]:
        print(line, file=out)
    print("\n" + verdict_text(metrics), file=out)


# What each set of conversations is, for the reader of the numbers (keyed by file name).
SET_DESCRIPTIONS = {
    "handoff_conversations.yml": (
        "Written for this benchmark before it was first run. **No longer unseen.** The first run (2026-11-23: "
        "precision 95.1 %, recall on frustrated and explicit 81.2 %) was followed by changes made after reading its "
        "misses: more wordings of asking for a person (supervisor, live agent, \"a human about my order\"), fraud and "
        "consumer-agency phrases as policy topics, a handoff that can interrupt a form, and a late \"yes thanks\" no "
        "longer counted as a miss. The changes are general, but these numbers are optimistic for conversations nobody "
        "has read."
    ),
    "handoff_conversations_fresh.yml": (
        "A second set, written on 2026-12-03 by someone who had not seen the assistant run, its code's behaviour or "
        "the first set's results, to measure on conversations nobody tuned against (frustrated, explicit requests, "
        "happy and out of scope only). Its header says so; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_third.yml": (
        "A third set, written on 2026-12-03 (evening) by a helper who read only the demo store's description and "
        "seed data, after the second set had been read and tuned against. Its first run is kept apart in "
        "`docs/bench-handoff-third-blind.json`; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_fourth.yml": (
        "A fourth set, written on 2026-12-03 (evening) the same way, after the changes made for the third set's misses, "
        "to measure whether those changes carry to conversations nobody had read. Its first run is kept apart in "
        "`docs/bench-handoff-fourth-blind.json`; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_fifth.yml": (
        "A fifth set, written on 2026-12-03 (evening) the same way, after the changes made for the fourth set's misses. "
        "Its first run is kept apart in `docs/bench-handoff-fifth-blind.json`; whether it has been read since is in "
        "the notes below."
    ),
    "handoff_conversations_sixth.yml": (
        "A sixth set, written on 2026-12-03 (evening) the same way, after the changes made for the fifth set's misses "
        "(including the loose form of a request for a person). Its first run is kept apart in "
        "`docs/bench-handoff-sixth-blind.json`; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_seventh.yml": (
        "A seventh set, written on 2026-12-03 (night) the same way, while the sixth set's misses were being read; "
        "played first after the changes made for them. Its first run is kept apart in "
        "`docs/bench-handoff-seventh-blind.json`; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_eighth.yml": (
        "An eighth set, written on 2026-12-03 (night) the same way, after the changes made for the seventh set's misses, "
        "to measure the assistant as it stands at the end of that session. Its first run is kept apart in "
        "`docs/bench-handoff-eighth-blind.json`; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_ninth.yml": (
        "A ninth set, written on 2026-12-04 (just after midnight UTC) the same way, while the eighth set's last misses "
        "were being fixed; played first after the conversation threshold was re-chosen from the blind runs. Its first "
        "run is kept apart in `docs/bench-handoff-ninth-blind.json`; whether it has been read since is in the notes below."
    ),
    "handoff_conversations_tenth.yml": (
        "A tenth set, written on 2026-12-04 the same way, while the ninth set's misses were being fixed; played first "
        "after those fixes. Its first run is kept apart in `docs/bench-handoff-tenth-blind.json`; whether it has been "
        "read since is in the notes below."
    ),
}


@dataclass(frozen=True)
class SetResult:
    """The metrics of one file of conversations."""

    path: Path
    metrics: Mapping[str, Any]


def set_section(result: SetResult) -> list[str]:
    m = result.metrics
    counts = ", ".join(f"{n} {cat.replace('_', ' ')}" for cat, n in m["by_category_count"].items() if n)
    name = result.path.name
    return [
        f"### `{name}` ({m['conversations']} conversations: {counts})", "",
        SET_DESCRIPTIONS.get(name, "Scripted conversations given with `--conversations`."), "",
        markdown_tables(m), "",
        f"Recall on frustrated and explicit-request conversations: {pct(m['target']['recall_frustrated_and_explicit'])} "
        f"(with the right reason: {pct(m['target']['recall_frustrated_and_explicit_with_right_reason'])}).", "",
        "Conversations whose outcome differs from the expectation (the turn is the customer message after which the "
        "handoff happened):", "",
        *(mismatch_lines(m) or ["- none"]), "",
        "Against the target: " + verdict_text(m), "",
    ]


def docs_section(results: Sequence[SetResult], combined: Mapping[str, Any], run: Mapping[str, Any],
                 notes: str = "") -> str:
    files = " and ".join(f"`bot/bench/{r.path.name}`" for r in results)
    body = [
        SECTION_TITLE, "",
        f"Command: `make bench-handoff` (= `python -m bot.bench.handoff --json docs/bench-handoff.json`), run "
        f"{run['started_at_text']}–{run['finished_at_text']} UTC, {run['duration_s']:.0f} s. The real action server, Rasa "
        "server (the trained model in `models/`) and web app on ports of their own, a temporary data folder with the seeded "
        "demo store and the knowledge-base index, handoff.yml's triggers as shipped (only the business hours opened round "
        "the clock), and a desk agent signed in, so handoffs go to the queue. Each conversation is sent message by message "
        "over the REST channel and stops at the first handoff; the outcome is read from the app database.",
        "",
        f"{combined['conversations']} scripted conversations in {files}, each with the outcome a good support product "
        "should reach — written before measuring, not from what the assistant does. A handoff counts as right when its "
        "reason is the expected one (three confused conversations also accept `kb_no_answer` for `not_helpful`: "
        "clicking \"None of these\" on an offer of articles and \"No\" on an answer look the same to the customer).",
        "",
    ]
    for result in results:
        body += set_section(result)
    if len(results) > 1:
        t = combined["target"]
        body += [f"All {combined['conversations']} conversations together: \"handed off\" precision "
                 f"{pct(combined['handed_off']['precision'])}, recall {pct(combined['handed_off']['recall'])}; recall on "
                 f"frustrated and explicit-request conversations {pct(t['recall_frustrated_and_explicit'])}.", "",
                 "Against the target of issue 4 (recall 100 % on frustrated and explicit-request conversations, "
                 f"precision ≥ 90 %), all {len(results)} sets together: " + verdict_text(combined)]
    else:
        body += ["Against the target of issue 4 (recall 100 % on frustrated and explicit-request conversations, "
                 "precision ≥ 90 %): " + verdict_text(combined)]
    if notes.strip():
        body += ["", NOTES_START, notes.strip(), NOTES_END]
    return "\n".join(body) + "\n"


def replace_section(document: str, section: str) -> str:
    """The document with its handoff section replaced by `section` (added at the end when absent)."""
    start = document.find(SECTION_TITLE)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + section
    following = re.search(r"^## ", document[start + len(SECTION_TITLE):], flags=re.MULTILINE)
    end = start + len(SECTION_TITLE) + following.start() if following else len(document)
    rest = document[end:]
    return document[:start] + section + ("\n" + rest if rest else "")


def existing_notes(document: str) -> str:
    """Hand-written notes kept between the markers inside the section (they survive a re-run)."""
    start = document.find(SECTION_TITLE)
    if start < 0:
        return ""
    section = document[start:]
    following = re.search(r"^## ", section[len(SECTION_TITLE):], flags=re.MULTILINE)
    if following:
        section = section[: len(SECTION_TITLE) + following.start()]
    inside = re.search(re.escape(NOTES_START) + r"(.*?)" + re.escape(NOTES_END), section, flags=re.DOTALL)
    return inside.group(1).strip() if inside else ""


# --------------------------------------------------------------------------------------------
# Playing the conversations against the real servers
# --------------------------------------------------------------------------------------------


def always_open_handoff_config(folder: Path, source: Path) -> Path:
    """The shipped handoff.yml with the team on duty around the clock (its triggers untouched)."""
    from bot.handoff.hours import DAYS

    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["hours"] = {"timezone": "UTC", "weekly": {day: "00:00-24:00" for day in DAYS}, "holidays": []}
    path = folder / "handoff.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def frustration_in_config(config_path: Path) -> bool:
    """Whether config.yml's NLU pipeline has a frustration component (without it that trigger cannot fire)."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    return any("frustration" in str(step.get("name", "")).lower() for step in config.get("pipeline") or [])


class Desk:
    """The web app's API as the agent's desk uses it: signed in, and signed in again to stay online."""

    def __init__(self, web_url: str, email: str, password: str) -> None:
        self.web_url, self.email, self.password = web_url, email, password
        self.signed_in_at = 0.0
        self.headers: dict[str, str] = {}

    def sign_in(self) -> None:
        import requests

        reply = requests.post(f"{self.web_url}/api/auth/login", json={"email": self.email, "password": self.password}, timeout=30)
        if reply.status_code != 200:
            raise RuntimeError(f"the desk agent could not sign in: {reply.status_code} {reply.text}")
        self.headers = {"Authorization": f"Bearer {reply.json()['token']}"}
        self.signed_in_at = time.monotonic()

    def keep_online(self) -> None:
        if time.monotonic() - self.signed_in_at >= SIGN_IN_EVERY_SECONDS:
            self.sign_in()

    def agents_online(self) -> int:
        import requests

        reply = requests.get(f"{self.web_url}/api/agents/online", headers=self.headers, timeout=30)
        reply.raise_for_status()
        body = reply.json()
        agents = body.get("agents") if isinstance(body, dict) else body
        return len(agents) if isinstance(agents, list) else int(bool(agents))


class Player:
    """Sends the scripted messages and reads what the product decided."""

    def __init__(self, settings, handoff_service, desk: Desk, run_tag: str) -> None:
        self.settings = settings
        self.handoff = handoff_service
        self.desk = desk
        self.run_tag = run_tag

    def sender_for(self, conversation: Conversation) -> str:
        return f"bench-{self.run_tag}-{conversation.id}"

    def say(self, sender: str, text: str, timeout: float = 120) -> list[dict[str, Any]]:
        import requests

        reply = requests.post(f"{self.settings.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                              timeout=timeout)
        reply.raise_for_status()
        return reply.json()

    def tracker(self, sender: str) -> dict[str, Any]:
        import requests

        reply = requests.get(f"{self.settings.rasa_url}/conversations/{sender}/tracker",
                             params={"token": self.settings.rasa_token}, timeout=60)
        reply.raise_for_status()
        return reply.json()

    def play(self, conversation: Conversation) -> Outcome:
        sender = self.sender_for(conversation)
        outcome = Outcome(conversation.id, handed_off=False)
        shown: set[str] = set()
        try:
            for number, text in enumerate(conversation.turns, start=1):
                self.desk.keep_online()
                if text.startswith("/") and text not in shown and text not in ALWAYS_SHOWN:
                    outcome.unoffered_clicks.append(number)
                messages = self.say(sender, text)
                shown = {str(b.get("payload")) for m in messages for b in (m.get("buttons") or [])}
                outcome.turns_played = number
                outcome.replies.append([m.get("text") or _describe(m) for m in messages])
                offline = any(((m.get("custom") or {}).get("handoff") or {}).get("state") == "offline" for m in messages)
                if offline:
                    self._fill_offline_form(sender, conversation, outcome)
                found = self.handoff.store.latest_handoff(sender)
                if found is not None:
                    outcome.handed_off, outcome.reason, outcome.detail = True, found.reason, found.reason_detail
                    outcome.turn, outcome.via = number, "queue"
                    break
                ticket = self._ticket(sender)
                if offline or ticket is not None:
                    outcome.handed_off, outcome.turn, outcome.via = True, number, "offline"
                    outcome.reason = ticket.reason if ticket is not None else self._offline_reason(sender)
                    outcome.detail = "offline form (nobody online)"
                    break
        except Exception as error:  # noqa: BLE001 - one broken conversation must not stop the benchmark
            outcome.error = f"{type(error).__name__}: {error}"
        try:
            outcome.trace = self._trace(sender)
        except Exception as error:  # noqa: BLE001
            outcome.error = outcome.error or f"trace: {type(error).__name__}: {error}"
        return outcome

    def _fill_offline_form(self, sender: str, conversation: Conversation, outcome: Outcome) -> None:
        for text in (OFFLINE_EMAIL, f"benchmark conversation {conversation.id}"):
            messages = self.say(sender, text)
            outcome.replies.append([m.get("text") or _describe(m) for m in messages])

    def _ticket(self, sender: str):
        return next((t for t in self.handoff.store.list_tickets() if t.conversation_id == sender), None)

    def _offline_reason(self, sender: str) -> Optional[str]:
        slots = self.tracker(sender).get("slots") or {}
        return slots.get("offline_reason")

    def _trace(self, sender: str) -> list[dict[str, Any]]:
        """Each customer message with its intent, confidence and frustration, and the conversation's level after it."""
        from bot.handoff.triggers import conversation_turns, frustration_of

        events = self.tracker(sender).get("events") or []
        trace = []
        for index, event in enumerate(events):
            if event.get("event") != "user":
                continue
            parse = event.get("parse_data") or {}
            frustration = parse.get("frustration") if isinstance(parse.get("frustration"), dict) else None
            verdict = frustration_of(conversation_turns(events[: index + 1]), self.handoff.rules)
            following = [e.get("name") for e in events[index + 1:] if e.get("event") == "action"]
            following = following[: following.index("action_listen") + 1] if "action_listen" in following else following
            trace.append({
                "text": event.get("text"),
                "intent": (parse.get("intent") or {}).get("name"),
                "confidence": round(float((parse.get("intent") or {}).get("confidence") or 0.0), 3),
                "frustration": None if frustration is None else {
                    "score": round(float(frustration.get("score") or 0.0), 3), "signals": list(frustration.get("signals") or [])},
                "conversation_frustration": {"score": verdict.score, "frustrated": verdict.frustrated,
                                             "reasons": list(verdict.reasons)},
                "actions": [name for name in following if name != "action_listen"],
            })
        return trace


def _describe(message: Mapping[str, Any]) -> str:
    if message.get("custom"):
        return "[custom] " + json.dumps(message["custom"], sort_keys=True)
    if message.get("image"):
        return "[image]"
    return "[message]"


def run_benchmark(conversations: Sequence[Conversation], *, train: bool = True, echo: bool = False,
                  keep_data: bool = False) -> tuple[dict[str, Outcome], dict[str, Any]]:
    """Start the servers, play every conversation, stop the servers; (outcomes by id, run information)."""
    from bot import runner
    from bot.__main__ import MODEL_DIR, build_knowledge_base
    from bot.container import build_handoff
    from bot.settings import PROJECT_ROOT, Settings
    from bot.store.directory import SqlCustomerDirectory
    from bot.store.seed import seed
    from bot.store.service import utcnow

    info: dict[str, Any] = {"frustration_in_config": frustration_in_config(PROJECT_ROOT / "config.yml")}
    if not info["frustration_in_config"]:
        print("WARNING: config.yml's pipeline has no frustration component: the frustration trigger cannot fire.",
              file=sys.stderr)
    if train:
        print("Training the model if data, domain or config changed (Rasa's fingerprint) ...", file=sys.stderr, flush=True)
        runner.train(Settings.from_env(), MODEL_DIR)
    models = sorted(MODEL_DIR.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"no trained model in {MODEL_DIR}; run without --no-train")
    info["model"] = models[-1].name

    data_dir = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    processes: list = []
    try:
        env = {"SUPPORT_DATA_DIR": str(data_dir), **PORTS, "RASA_TOKEN": secrets.token_hex(16),
               "IDENTITY_SECRET": secrets.token_hex(16),
               "KB_ARTICLES_DIR": str(PROJECT_ROOT / "knowledge_base" / "articles"),
               "HANDOFF_CONFIG": str(always_open_handoff_config(data_dir, PROJECT_ROOT / "handoff.yml"))}
        settings = Settings.from_env(env)
        for port in (settings.action_port, settings.rasa_port, settings.web_port):
            if runner.port_in_use(settings.host, port):
                raise SystemExit(f"port {port} is in use; the benchmark needs 18005, 18055 and 18080 free")
        seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
        build_knowledge_base(settings)
        print(f"Starting the servers (data folder {data_dir}) ...", file=sys.stderr, flush=True)
        processes = runner.start_all(settings, MODEL_DIR, echo=echo)
        handoff = build_handoff(settings)
        info["frustration_settings"] = dict(handoff.rules.frustration)
        handoff.ensure_agent(AGENT_EMAIL, AGENT_NAME, "agent", AGENT_PASSWORD)
        desk = Desk(settings.web_url, AGENT_EMAIL, AGENT_PASSWORD)
        desk.sign_in()
        info["agents_online_at_start"] = desk.agents_online()
        if handoff.availability() is not None:
            print(f"WARNING: nobody can take a handoff: {handoff.availability()}", file=sys.stderr)
        player = Player(settings, handoff, desk, uuid.uuid4().hex[:6])
        # the first message loads the NLU's models lazily: not inside a conversation's time limit
        player.say(f"bench-{player.run_tag}-warm-up", "hello", timeout=600)
        outcomes: dict[str, Outcome] = {}
        for number, conversation in enumerate(conversations, start=1):
            outcome = player.play(conversation)
            outcomes[conversation.id] = outcome
            state = (f"handed off ({outcome.reason}) at turn {outcome.turn}" if outcome.handed_off else "not handed off")
            mark = "ok " if is_correct(conversation, outcome) and not outcome.error else "XX "
            print(f"{mark}[{number:>2}/{len(conversations)}] {conversation.category:<16} {conversation.id}: {state}"
                  + (f" — ERROR {outcome.error}" if outcome.error else ""), file=sys.stderr, flush=True)
        info["data_dir"] = str(data_dir) if keep_data else None
        return outcomes, info
    finally:
        runner.stop_all(processes)
        if not keep_data:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.handoff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the metrics and every conversation's outcome and trace here")
    parser.add_argument("--conversations", type=Path, action="append",
                        help="a file of scripted conversations (repeatable; default: both shipped sets)")
    parser.add_argument("--only", action="append", default=[], help="play only these conversation ids or categories")
    parser.add_argument("--no-train", action="store_true", help="use the newest model in models/ as it is")
    parser.add_argument("--docs", type=Path, default=DOCS_FILE, help="the benchmarks page whose section is rewritten")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data folder (logs, databases)")
    parser.add_argument("--echo", action="store_true", help="show the servers' output")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    for name, value in (("RASA_TELEMETRY_ENABLED", "false"), ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")):
        os.environ.setdefault(name, value)
    files = args.conversations or list(CONVERSATION_FILES)
    sets = [(path, load_conversations(path)) for path in files]
    conversations = [c for _, group in sets for c in group]
    duplicates = sorted(ident for ident, count in Counter(c.id for c in conversations).items() if count > 1)
    if duplicates:
        raise SystemExit(f"conversation ids used in more than one file: {', '.join(duplicates)}")
    if args.only:
        conversations = [c for c in conversations if c.id in args.only or c.category in args.only]
        if not conversations:
            raise SystemExit(f"no conversation matches {', '.join(args.only)}")
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.monotonic()
    outcomes, info = run_benchmark(conversations, train=not args.no_train, echo=args.echo, keep_data=args.keep_data)
    finished = dt.datetime.now(dt.timezone.utc)
    metrics = evaluate(conversations, outcomes)
    played = {c.id for c in conversations}
    results = [SetResult(path, evaluate([c for c in group if c.id in played], outcomes))
               for path, group in sets if any(c.id in played for c in group)]
    run = {"command": "python -m bot.bench.handoff " + shlex.join(list(argv) if argv is not None else sys.argv[1:]),
           "started_at": started.isoformat(timespec="seconds"), "finished_at": finished.isoformat(timespec="seconds"),
           "started_at_text": started.strftime("%Y-%m-%d %H:%M"), "finished_at_text": finished.strftime("%H:%M"),
           "duration_s": round(time.monotonic() - clock, 1), "load_average": _load(), **info}
    for result in results:
        print(f"\n## {result.path.name}", file=sys.stdout)
        print_report(result.metrics)
    if len(results) > 1:
        print("\n## all sets together", file=sys.stdout)
        print_report(metrics)
    if args.json:
        by_id = {c.id: c for c in conversations}
        file_of = {c.id: path.name for path, group in sets for c in group}
        report = {"run": run, "metrics": metrics,
                  "metrics_by_file": {r.path.name: r.metrics for r in results}, "conversations": [
            {"id": c.id, "file": file_of[c.id], "category": c.category, "note": c.note,
             "turns": list(c.turns),
             "expected": {"handoff": c.handoff, "reason": c.reason, "also_accept": list(c.also_accept)},
             "correct": is_correct(c, outcomes[c.id]),
             "outcome": {k: v for k, v in asdict(outcomes[c.id]).items() if k not in ("conversation_id",)}}
            for c in (by_id[i] for i in outcomes)]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nWrote {args.json}", file=sys.stderr)
    if not args.no_docs and not args.only:
        document = args.docs.read_text(encoding="utf-8") if args.docs.exists() else "# Benchmarks\n"
        section = docs_section(results, metrics, run, existing_notes(document))
        args.docs.write_text(replace_section(document, section), encoding="utf-8")
        print(f"Updated the section \"{SECTION_TITLE[3:]}\" of {args.docs}", file=sys.stderr)
    return 0  # a missed target is a result, not a failure of the command (as bench-nlu and bench-kb)


def _load() -> Optional[list[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
