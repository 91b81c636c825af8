"""Golden files and metrics."""

from __future__ import annotations

import math
from pathlib import Path

from bot.knowledge.evaluation import DecisionMetrics, RankingMetrics, load_golden, rank_of
from bot.knowledge.passages import Passage
from bot.knowledge.search import ANSWER, CLARIFY, NO_ANSWER, AnswerDecision, SearchHit

REPO = Path(__file__).resolve().parents[3]


def test_golden_files_load_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "golden.yml"
    path.write_text(
        'version: 1\nquestions:\n  - question: "q one"\n    article: a\n  - question: "q two"\n'
        "  - just a string\n  - question: q three\n    article: b\n",
        encoding="utf-8",
    )
    questions, problems = load_golden([path])
    assert [(q.question, q.article, q.line) for q in questions] == [("q one", "a", 3), ("q three", "b", 7)]
    assert [(p.line, p.message) for p in problems] == [
        (5, "entry needs both 'question' and 'article'"),
        (6, "each question must be a mapping with 'question' and 'article'"),
    ]


def test_bad_golden_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("questions: [unclosed\n", encoding="utf-8")
    (tmp_path / "list.yml").write_text("- a\n", encoding="utf-8")
    _, problems = load_golden([tmp_path / "bad.yml", tmp_path / "list.yml", tmp_path / "missing.yml"])
    assert [Path(p.file).name for p in problems] == ["bad.yml", "list.yml", "missing.yml"]
    assert "malformed YAML" in problems[0].message and problems[0].line == 2


def test_shipped_golden_files_only_name_published_articles() -> None:
    from bot.knowledge.articles import load_articles

    questions, problems = load_golden(sorted((REPO / "knowledge_base" / "eval").glob("golden-*.yml")))
    articles, _ = load_articles(REPO / "knowledge_base" / "articles")
    published = {a.id for a in articles if a.published}
    assert problems == [] and len(questions) > 150
    assert [f"{q.file}:{q.line} {q.article}" for q in questions if q.article not in published] == []


def test_ranking_metrics() -> None:
    assert rank_of("b", ["a", "b", "c"]) == 2 and rank_of("z", ["a"]) is None
    metrics = RankingMetrics.from_ranks([1, 2, None, 11])
    assert metrics.recall_at_1 == 0.25 and metrics.recall_at_3 == 0.5
    assert metrics.mrr_at_10 == (1 + 0.5) / 4
    assert math.isnan(RankingMetrics.from_ranks([]).recall_at_1)


def _decision(action: str, *ids: str) -> AnswerDecision:
    hits = tuple(SearchHit(i, i, "", Passage("p", i, i, "", "", 0, ""), 0.9) for i in ids)
    return AnswerDecision(action, hits, 0.9, 0.1, 1.0, "")


def test_decision_metrics() -> None:
    metrics = DecisionMetrics.from_decisions(
        [
            (_decision(ANSWER, "a"), "a"),
            (_decision(ANSWER, "b"), "a"),
            (_decision(CLARIFY, "x", "a"), "a"),
            (_decision(NO_ANSWER), "a"),
            (_decision(ANSWER, "a"), None),  # answered a question the KB cannot answer: wrong
            (_decision(NO_ANSWER), None),
        ]
    )
    assert metrics.answers == 3 and metrics.correct_answers == 1
    assert metrics.precision == 1 / 3 and metrics.answered == 2 / 4
    assert metrics.clarified == 1 / 4 and metrics.clarify_hit == 1.0
    assert metrics.unanswerable_declined == 0.5 and metrics.unanswerable_no_answer == 0.5
