"""Unit tests of the scale benchmark's helpers: the synthetic help centre, the stand-in
embedder and the statistics (small sizes, no real model)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from bot.bench.kb_scale import (
    SECTIONS,
    HashingEmbedder,
    RenamedEmbedder,
    WordDistribution,
    article_file,
    edited,
    percentiles,
    pseudo_words,
    synthetic_articles,
    synthetic_queries,
)
from bot.knowledge.articles import Article, parse_article_text
from bot.knowledge.passages import split_article


@pytest.fixture(scope="module")
def words() -> WordDistribution:
    article = Article(
        "a", "Return an order", "c", (), "published", date(2026, 1, 1), "https://x/a",
        "You can return your order within thirty days. The order must be complete. Returns are free.", "a.md", "h",
    )
    return WordDistribution.from_articles([article])


def test_word_distribution_follows_the_counts(words: WordDistribution) -> None:
    drawn = words.sample(np.random.default_rng(0), 5000)
    assert set(drawn) <= set(words.words)
    assert drawn.count("order") > drawn.count("thirty")  # 3 occurrences against 1
    assert words.words[0] in {"order", "return"}


def test_pseudo_words_are_distinct_and_deterministic() -> None:
    assert pseudo_words(50, 1) == pseudo_words(50, 1) and len(set(pseudo_words(50, 1))) == 50


def test_synthetic_articles_have_one_passage_per_section(words: WordDistribution) -> None:
    articles = synthetic_articles(6, words, seed=3)
    assert articles == synthetic_articles(6, words, seed=3)
    assert len({a.id for a in articles}) == 6 and len({a.content_hash for a in articles}) == 6
    for article in articles:
        passages = split_article(article)
        assert len(passages) == SECTIONS
        assert article.tags[1] in article.body.lower() or article.tags[0] in article.body.lower()


def test_article_files_parse_back(words: WordDistribution) -> None:
    for article in synthetic_articles(3, words, seed=5):
        parsed, warnings = parse_article_text(article_file(article), f"{article.id}.md")
        assert warnings == []
        assert (parsed.id, parsed.title, parsed.tags, parsed.body, parsed.url) == (
            article.id, article.title, article.tags, article.body, article.url,
        )


def test_an_edit_changes_two_passages(words: WordDistribution) -> None:
    article = synthetic_articles(1, words)[0]
    before = {p.passage_id for p in split_article(article)}
    after = {p.passage_id for p in split_article(edited(article, 1))}
    assert len(after - before) == len(before - after) == 2  # the rewritten section and the last one
    assert edited(article, 1).content_hash != article.content_hash


def test_synthetic_queries_quote_the_articles(words: WordDistribution) -> None:
    articles = synthetic_articles(4, words)
    queries = synthetic_queries(articles, 20)
    assert queries == synthetic_queries(articles, 20) and len(queries) == 20
    text = " ".join(a.body.lower() for a in articles)
    assert all(" ".join(q.split()[-2:]) in text for q in queries)


def test_hashing_embedder_is_normalised_deterministic_and_word_based() -> None:
    embedder = HashingEmbedder()
    vectors = embedder.embed(["reset the headphones", "reset the headphones", "headphones reset now", "refund timelines", ""])
    assert vectors.shape == (5, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[1]) and np.allclose(vectors[0], HashingEmbedder().embed(["reset the headphones"])[0])
    assert vectors[0] @ vectors[2] > 0.7 > abs(vectors[0] @ vectors[3])
    assert embedder.embed([]).shape == (0, 384)


def test_renamed_embedder_counts_and_passes_through() -> None:
    inner = HashingEmbedder()
    renamed = RenamedEmbedder(inner, "other", 384)
    assert renamed.name == "other" and np.allclose(renamed.embed(["a b"]), inner.embed(["a b"])) and renamed.texts == 1


def test_percentiles() -> None:
    stats = percentiles([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["n"] == 5 and stats["p50"] == 3.0 and stats["max"] == 100.0 and stats["p95"] > 4.0
    assert percentiles([])["n"] == 0
