"""What counts as a failure in the battery, and the tally each part keeps.

A response fails when it is a 5xx, or when it shows the server's insides: a stack trace, an exception
name, or a path on the server's disk (the project, the virtualenv, the data folder). Text the request
itself carried is not held against the response: the assistant may quote a customer's words back.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from bot.settings import PROJECT_ROOT

SAMPLES_KEPT = 5  # per kind of failure: enough to reproduce, not a wall of text in the report
_TRACE_MARKERS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+", line \d+'),
    re.compile(r"\b(?:[A-Z][a-z]+)+(?:Error|Exception): "),
    re.compile(r"site-packages|dist-packages|\.venv/"),
)


@dataclass
class Finding:
    kind: str  # "5xx", "internals shown", "process died", "no answer", "wrong answer"
    where: str
    detail: str
    sample: str = ""

    def as_dict(self) -> Dict[str, str]:
        return {"kind": self.kind, "where": self.where, "detail": self.detail, "sample": self.sample}


@dataclass
class Tally:
    """One part's inputs and outcomes: how many were tried, the answers' statuses, and what failed."""

    part: str
    tried: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    samples: List[Finding] = field(default_factory=list)
    figures: Dict[str, Any] = field(default_factory=dict)

    def fail(self, finding: Finding) -> None:
        self.failures[finding.kind] += 1
        if sum(1 for s in self.samples if s.kind == finding.kind) < SAMPLES_KEPT:
            self.samples.append(finding)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def as_dict(self) -> Dict[str, Any]:
        return {"part": self.part, "tried": self.tried, "outcomes": dict(self.outcomes), "failures": dict(self.failures),
                "samples": [s.as_dict() for s in self.samples], "figures": self.figures}


def internal_paths(extra: Iterable[Path] = ()) -> List[str]:
    """Folders whose names must never appear in an answer: the project, the interpreter's, the data folder."""
    import sys

    paths = {str(PROJECT_ROOT), str(Path(sys.prefix)), str(Path(sys.base_prefix)), *map(str, extra)}
    return sorted(p for p in paths if len(p) > 4)


def leaks(answer: str, request: str, paths: Sequence[str]) -> Optional[str]:
    """What in `answer` shows the server's insides (and was not in the request), or None."""
    for marker in _TRACE_MARKERS:
        found = marker.search(answer)
        if found and found.group(0) not in request:
            return f"shows {found.group(0)!r}"
    for path in paths:
        if path in answer and path not in request:
            return f"shows the server path {path!r}"
    return None


def check_answer(tally: Tally, where: str, status: int, answer: str, request: str, paths: Sequence[str]) -> bool:
    """Count one HTTP answer; record a failure when it is a 5xx or shows internals. True when it passed."""
    tally.tried += 1
    tally.outcomes[str(status)] += 1
    ok = True
    if status >= 500:
        tally.fail(Finding("5xx", where, f"HTTP {status}: {clip(answer)}", clip(request)))
        ok = False
    problem = leaks(answer, request, paths)
    if problem:
        tally.fail(Finding("internals shown", where, problem, clip(request)))
        ok = False
    return ok


def dead_processes(tally: Tally, processes: Sequence[Any]) -> List[str]:
    """Record every product process that is no longer running (a crash is a failure of the part that caused it)."""
    dead = [p.name for p in processes if not p.running()]
    for name in dead:
        tally.fail(Finding("process died", name, f"the {name} process exited during this part"))
    return dead


def clip(text: Any, limit: int = 160) -> str:
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} chars)"


def customer_messages(events: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A tracker's user events without the copies Rasa itself adds: when its two-stage fallback ends (the customer
    affirmed or rephrased), it reverts the turn and appends a deep copy of the latest message with a new timestamp
    (rasa/core/actions/two_stage_fallback.py `_message_clarification`: a `rewind`, an `action_listen`, the copy).
    Counted raw, such a conversation looks as if the customer's message had been handled twice."""
    kept = []
    for index, event in enumerate(events):
        if event.get("event") != "user":
            continue
        if index >= 2 and events[index - 2].get("event") == "rewind" and events[index - 1].get("event") == "action" \
                and events[index - 1].get("name") == "action_listen":
            continue
        kept.append(event)
    return kept
