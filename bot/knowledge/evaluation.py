"""Golden questions and retrieval metrics, shared by `cli eval` and the benchmark.

Golden files (`knowledge_base/eval/golden-*.yml`)::

    version: 1
    questions:
      - question: "do u take amex"
        article: place-an-order

Problems name the file and the line of the offending entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import yaml

from bot.knowledge.articles import PathLike, Problem
from bot.knowledge.search import ANSWER, CLARIFY, NO_ANSWER, AnswerDecision


@dataclass(frozen=True)
class GoldenQuestion:
    question: str
    article: str
    file: str
    line: int


def load_golden(paths: Iterable[PathLike]) -> Tuple[List[GoldenQuestion], List[Problem]]:
    """The questions of the golden files plus problems (bad YAML, missing fields) with lines."""
    questions: List[GoldenQuestion] = []
    problems: List[Problem] = []
    for path in paths:
        file = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
            # compose() keeps the line of every node, which safe_load throws away
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except OSError as error:
            problems.append(Problem(file, None, f"cannot read the file: {error.strerror or error}"))
            continue
        except UnicodeDecodeError:
            problems.append(Problem(file, None, "not valid UTF-8"))
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problems.append(
                Problem(file, mark.line + 1 if mark else None, f"malformed YAML: {getattr(error, 'problem', error)}")
            )
            continue
        if not isinstance(root, yaml.MappingNode):
            problems.append(Problem(file, 1, "expected a mapping with a 'questions' list"))
            continue
        top = {key.value: value for key, value in root.value}
        entries = top.get("questions")
        if not isinstance(entries, yaml.SequenceNode):
            problems.append(Problem(file, 1, "missing 'questions' list"))
            continue
        for entry in entries.value:
            line = entry.start_mark.line + 1
            if not isinstance(entry, yaml.MappingNode):
                problems.append(Problem(file, line, "each question must be a mapping with 'question' and 'article'"))
                continue
            fields = {key.value: value.value for key, value in entry.value if isinstance(value, yaml.ScalarNode)}
            question, article = str(fields.get("question") or "").strip(), str(fields.get("article") or "").strip()
            if not question or not article:
                problems.append(Problem(file, line, "entry needs both 'question' and 'article'"))
                continue
            questions.append(GoldenQuestion(question, article, file, line))
    return questions, problems


def rank_of(expected: str, ranked_ids: Sequence[str]) -> Optional[int]:
    """1-based rank of the expected article in a ranking, None when absent."""
    try:
        return list(ranked_ids).index(expected) + 1
    except ValueError:
        return None


@dataclass(frozen=True)
class RankingMetrics:
    queries: int
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float

    @classmethod
    def from_ranks(cls, ranks: Sequence[Optional[int]]) -> "RankingMetrics":
        n = len(ranks)
        if not n:
            return cls(0, math.nan, math.nan, math.nan)
        return cls(
            n,
            sum(1 for r in ranks if r is not None and r <= 1) / n,
            sum(1 for r in ranks if r is not None and r <= 3) / n,
            sum(1.0 / r for r in ranks if r is not None and r <= 10) / n,
        )


@dataclass(frozen=True)
class DecisionMetrics:
    """How the answer / clarify / no-answer decision did.

    precision: share of given answers that are the right article (an answer to a question the
    KB cannot answer is wrong); answered: share of answerable questions that got an answer.
    """

    queries: int
    answerable: int
    answers: int
    correct_answers: int
    precision: float
    answered: float
    clarified: float  # share of answerable questions that got a clarify
    clarify_hit: float  # share of those clarifies that offered the right article
    unanswerable_declined: float  # share of unanswerable questions that got no answer (no_answer or clarify)
    unanswerable_no_answer: float  # share of unanswerable questions that got no_answer

    @classmethod
    def from_decisions(cls, outcomes: Sequence[Tuple[AnswerDecision, Optional[str]]]) -> "DecisionMetrics":
        """`outcomes`: (decision, expected article id or None when unanswerable)."""
        answerable = [(d, e) for d, e in outcomes if e is not None]
        unanswerable = [d for d, e in outcomes if e is None]
        answers = [(d, e) for d, e in outcomes if d.action == ANSWER]
        correct = sum(1 for d, e in answers if e is not None and d.hits[0].article_id == e)
        clarifies = [(d, e) for d, e in answerable if d.action == CLARIFY]
        clarify_hits = sum(1 for d, e in clarifies if e in {h.article_id for h in d.hits})
        nan = math.nan
        return cls(
            queries=len(outcomes),
            answerable=len(answerable),
            answers=len(answers),
            correct_answers=correct,
            precision=correct / len(answers) if answers else nan,
            answered=sum(1 for d, _ in answerable if d.action == ANSWER) / len(answerable) if answerable else nan,
            clarified=len(clarifies) / len(answerable) if answerable else nan,
            clarify_hit=clarify_hits / len(clarifies) if clarifies else nan,
            unanswerable_declined=(
                sum(1 for d in unanswerable if d.action != ANSWER) / len(unanswerable) if unanswerable else nan
            ),
            unanswerable_no_answer=(
                sum(1 for d in unanswerable if d.action == NO_ANSWER) / len(unanswerable) if unanswerable else nan
            ),
        )
