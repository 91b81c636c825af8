"""BM25, hybrid ranking (lexical boost of exact terms), and the answer / clarify / no-answer decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.knowledge.articles import load_articles
from bot.knowledge.index import build_index, load_snapshot
from bot.knowledge.passages import Passage, SplitConfig
from bot.knowledge.search import (
    ANSWER,
    BM25,
    CLARIFY,
    NO_ANSWER,
    HybridRetriever,
    SearchConfig,
    SearchHit,
    Tokenizer,
    decide,
)
from tests.bot.knowledge.conftest import FakeEmbedder, write_article


def test_tokenizer_keeps_codes_and_model_numbers() -> None:
    tokens = Tokenizer()("Error E31 on my Pulse 700 (2.4 GHz), the chargers won't work")
    assert tokens == ["error", "e31", "pulse", "700", "2.4", "ghz", "charger", "wont", "work"]


def test_bm25_prefers_rare_exact_terms() -> None:
    bm25 = BM25.from_documents(["camera error e31 router", "camera error e12 password", "camera offline help", "returns policy"])
    scores = bm25.scores("what is e31")
    assert np.argmax(scores) == 0 and scores[1] == scores[2] == scores[3] == 0
    normalised = bm25.normalised_scores("camera e31")
    assert normalised.max() <= 1.0 and np.argmax(normalised) == 0
    assert not bm25.scores("completely unrelated words").any()
    assert not BM25.from_documents([]).scores("anything").any()


def one_article_per_code(folder: Path) -> None:
    # identical wording except the code: only the lexical signal can tell them apart
    folder.mkdir(parents=True, exist_ok=True)
    for code in ("e12", "e21", "e31", "e45"):
        write_article(
            folder,
            f"camera-error-{code}",
            title=f"Camera error {code.upper()}",
            tags=f"[camera, {code}]",
            body=f"The camera shows error {code.upper()} during setup. Restart it and try again.",
        )


@pytest.fixture
def code_snapshot(tmp_path: Path, embedder: FakeEmbedder):
    one_article_per_code(tmp_path / "articles")
    articles, _ = load_articles(tmp_path / "articles")
    build_index(articles, embedder, tmp_path / "index")
    return load_snapshot(tmp_path / "index", embedder)


def test_lexical_signal_boosts_the_exact_code(code_snapshot, embedder: FakeEmbedder) -> None:
    query = "my camera says E31 what now"
    vector = embedder.vector(query)
    retriever = HybridRetriever(code_snapshot, SearchConfig(lexical_weight=1.0))
    hits = retriever.rank(query, vector, k=4)
    assert hits[0].article_id == "camera-error-e31"
    assert hits[0].lexical > max(h.lexical for h in hits[1:])
    assert hits[0].score == pytest.approx(hits[0].dense + 1.0 * hits[0].lexical)
    # with the lexical weight at zero the (random, fake) dense scores alone decide
    dense_only = retriever.rank(query, vector, k=4, lexical_weight=0.0)
    assert [h.score for h in dense_only] == sorted((h.dense for h in dense_only), reverse=True)


def test_the_passage_holding_the_exact_code_is_shown(tmp_path: Path, embedder: FakeEmbedder) -> None:
    rows = "\n".join(
        f"| E{n} | Something about problem number {n} and how to fix it quickly |" for n in (12, 21, 31, 45)
    )
    (tmp_path / "articles").mkdir()
    write_article(
        tmp_path / "articles",
        "camera-offline",
        title="Camera offline (E12, E21, E31, E45)",
        tags="[camera, e12, e21, e31, e45]",
        body="The error code tells you what to fix.\n\n## Codes\n| Code | Fix |\n|---|---|\n" + rows,
    )
    articles, _ = load_articles(tmp_path / "articles")
    build_index(articles, embedder, tmp_path / "index", split=SplitConfig(max_words=30, min_words=5))
    snapshot = load_snapshot(tmp_path / "index", embedder)
    assert len(snapshot.passages) >= 3
    for code in ("E21", "E45"):
        (best,) = HybridRetriever(snapshot).rank(f"what does error {code} mean", embedder.vector(code), k=1)
        assert f"| {code} |" in best.passage.text


def test_results_are_one_per_article_with_its_best_passage(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder
) -> None:
    articles, _ = load_articles(articles_dir)
    build_index(articles, embedder, tmp_path / "index")
    snapshot = load_snapshot(tmp_path / "index", embedder)
    retriever = HybridRetriever(snapshot)
    # a query identical to a chunk's embedded text has cosine 1 with it
    target = next(p for p in snapshot.passages if p.section == "Factory reset")
    hits = retriever.rank("factory reset", embedder.vector(target.embed_text), k=10)
    assert len({h.article_id for h in hits}) == len(hits) == 4
    assert hits[0].article_id == "reset-pulse-700" and hits[0].passage == target
    assert hits[0].dense == pytest.approx(1.0, abs=1e-5)
    assert hits[0].url == "https://help.example/articles/reset-pulse-700"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_title_vector_counts_for_the_article(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    articles, _ = load_articles(articles_dir)
    build_index(articles, embedder, tmp_path / "index")
    retriever = HybridRetriever(load_snapshot(tmp_path / "index", embedder))
    hits = retriever.rank("q", embedder.vector("Our returns policy"), k=1)
    assert hits[0].article_id == "returns-policy" and hits[0].dense == pytest.approx(1.0, abs=1e-5)


def hit(article_id: str, score: float) -> SearchHit:
    passage = Passage(f"p-{article_id}", article_id, article_id.title(), "", "text", 0, "text")
    return SearchHit(article_id, article_id.title(), f"https://x/{article_id}", passage, score)


# answer when score + 1.0 * margin >= 0.8 and margin >= 0.05; no answer below 0.4
CONFIG = SearchConfig(answer_threshold=0.8, margin_weight=1.0, min_margin=0.05, clarify_threshold=0.4, max_options=3)


@pytest.mark.parametrize(
    "scores, action, offered",
    [
        ([0.7, 0.5, 0.3], ANSWER, ["a"]),  # confidence 0.9
        ([0.625, 0.375, 0.3], ANSWER, ["a"]),  # confidence 0.875: a modest score with a clear lead
        ([0.75, 0.72, 0.3], CLARIFY, ["a", "b"]),  # high score, no clear lead (confidence 0.78); c implausible
        ([0.79, 0.76, 0.75], CLARIFY, ["a", "b", "c"]),  # three plausible candidates
        ([0.95, 0.92, 0.3], CLARIFY, ["a", "b"]),  # confidence 0.98 but a lead of 0.03 < min_margin
        ([0.5, 0.45, 0.1], CLARIFY, ["a", "b"]),  # grey zone: the top two are offered
        ([0.39, 0.1, 0.0], NO_ANSWER, []),
        ([0.45], ANSWER, ["a"]),  # a lone hit leads a runner-up at 0: confidence 0.9
        ([0.35], NO_ANSWER, []),  # confidence 0.7
    ],
)
def test_decision_thresholds(scores, action: str, offered) -> None:
    hits = [hit(name, score) for name, score in zip("abc", scores)]
    decision = decide(hits, CONFIG)
    assert decision.action == action, decision.reason
    assert [h.article_id for h in decision.hits] == offered
    assert decision.top_score == scores[0]
    assert decision.confidence == pytest.approx(scores[0] + decision.margin)
    assert (decision.answer is not None) == (action == ANSWER)
    assert decision.reason


def test_no_hits_is_no_answer() -> None:
    decision = decide([], CONFIG)
    assert decision.action == NO_ANSWER and decision.hits == () and decision.answer is None


def test_margin_weight_zero_is_a_plain_score_threshold() -> None:
    plain = SearchConfig(answer_threshold=0.7, margin_weight=0.0, min_margin=0.0, clarify_threshold=0.4)
    assert decide([hit("a", 0.71), hit("b", 0.70)], plain).action == ANSWER
    assert decide([hit("a", 0.69), hit("b", 0.10)], plain).action == CLARIFY


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        SearchConfig(lexical_weight=-0.1)
    with pytest.raises(ValueError, match="max_options"):
        SearchConfig(max_options=1)


def test_shipped_defaults_are_sane() -> None:
    config = SearchConfig()
    assert 0 < config.clarify_threshold < 1 < config.answer_threshold / config.clarify_threshold
    assert 0 <= config.lexical_weight <= 1


def test_an_example_question_lifts_its_article_and_is_never_shown(tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    write_article(folder, "start-a-return", title="Start a return", body="Open your order and choose Return.",
                  extra='questions: ["how do i send my headphones back", "  want to return   stuff "]\n')
    write_article(folder, "reset-headphones", title="Reset your headphones", body="Hold the power button for 10 s.")
    articles, problems = load_articles(folder)
    assert not problems
    returns = next(a for a in articles if a.id == "start-a-return")
    assert returns.questions == ("how do i send my headphones back", "want to return stuff")
    report = build_index(articles, embedder, tmp_path / "index")
    assert "how do i send my headphones back" in embedder.texts  # embedded on its own, without the title
    retriever = HybridRetriever(load_snapshot(tmp_path / "index", embedder))
    (hit,) = retriever.rank("how do i send my headphones back", embedder.vector("how do i send my headphones back"), k=1)
    assert hit.article_id == "start-a-return" and hit.dense == pytest.approx(1.0, abs=1e-5)
    assert hit.passage.text == "Open your order and choose Return."  # the article's passage, not the question
    assert report.chunks == 4 and report.passages == 3  # a chunk per article body, one per question; their passage
