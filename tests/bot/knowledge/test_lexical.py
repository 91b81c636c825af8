"""Stored term counts and BM25 over several parts with superseded documents."""

from __future__ import annotations

import numpy as np
import pytest

from bot.knowledge.lexical import BM25, TermCounts, Tokenizer

DOCS = [
    "camera error e31 router restart",
    "camera error e12 password wifi",
    "camera offline help",
    "returns policy thirty days",
    "refund timelines for returns and exchanges",
    "pair the headphones with bluetooth",
]
QUERIES = ["camera e31", "returns refund", "bluetooth pairing headphones", "nothing matches this", "camera camera error"]


def counts(docs):
    tokenize = Tokenizer()
    return TermCounts.from_tokens([tokenize(d) for d in docs])


def test_two_parts_score_like_one_collection() -> None:
    whole = BM25.from_documents(DOCS)
    split = BM25([counts(DOCS[:4]), counts(DOCS[4:])])
    for query in QUERIES:
        assert np.allclose(split.scores(query), whole.scores(query))
        assert np.allclose(split.normalised_scores(query), whole.normalised_scores(query))
        assert split.query_terms(query) == whole.query_terms(query)


def test_superseded_documents_count_for_nothing() -> None:
    # rows 1 and 4 superseded: the scores of the others are those of a collection without them
    alive = [np.array([True, False, True, True]), np.array([False, True])]
    masked = BM25([counts(DOCS[:4]), counts(DOCS[4:])], alive)
    live = [0, 2, 3, 5]
    reference = BM25.from_documents([DOCS[i] for i in live])
    for query in QUERIES:
        scores = masked.scores(query)
        assert np.allclose(scores[live], reference.scores(query))
        assert scores[1] == scores[4] == 0.0
    # a term only a superseded document holds is unknown
    assert masked.query_terms("password refund") == []


def test_term_counts_take_and_concatenate() -> None:
    first, second = counts(DOCS[:3]), counts(DOCS[3:])
    merged = TermCounts.concatenate([first, second])
    assert merged.documents == len(DOCS) and merged.vocabulary[: len(first.vocabulary)] == first.vocabulary
    reference = counts(DOCS)
    for row in range(len(DOCS)):
        got = {merged.vocabulary[c]: v for c, v in zip(merged.counts[row].indices, merged.counts[row].data)}
        want = {reference.vocabulary[c]: v for c, v in zip(reference.counts[row].indices, reference.counts[row].data)}
        assert got == want
    taken = merged.take(np.array([4, 0]))
    assert taken.documents == 2 and np.allclose(taken.lengths, [reference.lengths[4], reference.lengths[0]])
    assert TermCounts.concatenate([]).documents == 0


def test_empty_collections() -> None:
    assert not BM25([]).scores("anything").any()
    assert BM25([TermCounts.empty()]).normalised_scores("anything").shape == (0,)


@pytest.mark.parametrize("query", QUERIES)
def test_normalised_scores_stay_within_one(query: str) -> None:
    scores = BM25.from_documents(DOCS).normalised_scores(query)
    assert scores.min() >= 0.0 and scores.max() <= 1.0


def test_scores_at_some_rows_equal_the_full_scores() -> None:
    alive = [np.array([True, False, True, True]), np.array([True, True])]
    for b in (0.0, 0.75):
        bm25 = BM25([counts(DOCS[:4]), counts(DOCS[4:])], alive, b=b)
        rows = np.array([5, 0, 1, 3, 4])
        for query in QUERIES:
            assert np.allclose(bm25.normalised_scores_at(query, rows), bm25.normalised_scores(query)[rows])
        assert bm25.normalised_scores_at("camera", np.array([], dtype=np.int64)).shape == (0,)
