"""`KnowledgeBase`: the facade actions use (fake embedder), plus integration tests with the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.embeddings import share_vector
from bot.errors import NotFound
from bot.knowledge.articles import load_articles
from bot.knowledge.errors import IndexMismatch, IndexNotFound
from bot.knowledge.index import build_index
from bot.knowledge.search import ANSWER, NO_ANSWER, SearchConfig
from bot.knowledge.service import MAX_QUERY_CHARS, KnowledgeBase, clean_query
from tests.bot.knowledge.conftest import FakeEmbedder, write_article

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def kb(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> KnowledgeBase:
    articles, _ = load_articles(articles_dir)
    build_index(articles, embedder, tmp_path / "index")
    return KnowledgeBase.open(tmp_path / "index", embedder)


def test_search_returns_one_hit_per_article(kb: KnowledgeBase) -> None:
    hits = kb.search("how do I reset my headphones", k=3)
    assert len(hits) == 3 and len({h.article_id for h in hits}) == 3
    assert all(h.url.startswith("https://help.example/articles/") for h in hits)
    assert kb.search("anything", k=10)[-1].article_id  # k larger than the KB: all 4 articles
    assert len(kb.search("anything", k=10)) == 4


def test_a_question_equal_to_a_title_is_answered(kb: KnowledgeBase) -> None:
    decision = kb.decide("Our returns policy")
    assert decision.action == ANSWER and decision.answer.article_id == "returns-policy"


def test_unrelated_question_gets_no_answer(kb: KnowledgeBase) -> None:
    # random fake vectors: cosine ~0 with everything, no shared words
    decision = kb.decide("weather forecast paris tomorrow")
    assert decision.action == NO_ANSWER and decision.hits == ()


def test_blank_and_huge_queries(kb: KnowledgeBase, embedder: FakeEmbedder) -> None:
    assert kb.search("   ") == []
    assert kb.decide("\n\t").action == NO_ANSWER
    kb.search("word " * 10_000)
    assert len(embedder.calls[-1][0]) <= MAX_QUERY_CHARS
    assert clean_query("  a \n b ") == "a b"


def test_article_lookup_serves_published_articles_only(kb: KnowledgeBase) -> None:
    assert kb.article("returns-policy").title == "Our returns policy"
    with pytest.raises(NotFound):
        kb.article("holiday-returns")  # a draft
    with pytest.raises(NotFound):
        kb.article("no-such-article")
    assert {a.id for a in kb.articles()} == {"camera-offline", "pair-headphones", "reset-pulse-700", "returns-policy"}


def test_a_rebuild_reaches_a_running_service(
    kb: KnowledgeBase, articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder
) -> None:
    old_version = kb.version
    write_article(articles_dir, "gift-cards", title="Gift cards", body="Gift cards never expire.")
    articles, _ = load_articles(articles_dir)
    build_index(articles, embedder, tmp_path / "index")
    assert kb.decide("Gift cards").answer.article_id == "gift-cards"
    assert kb.version != old_version and kb.article("gift-cards")


def test_open_errors(tmp_path: Path, articles_dir: Path, embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexNotFound):
        KnowledgeBase.open(tmp_path / "missing", embedder)
    articles, _ = load_articles(articles_dir)
    build_index(articles, embedder, tmp_path / "index")
    with pytest.raises(IndexMismatch):
        KnowledgeBase.open(tmp_path / "index", FakeEmbedder(name="all-MiniLM-L6-v2"))


def test_config_is_used(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    articles, _ = load_articles(articles_dir)
    build_index(articles, embedder, tmp_path / "index")
    never = KnowledgeBase.open(tmp_path / "index", embedder, SearchConfig(answer_threshold=10.0))
    assert never.decide("Our returns policy").action != ANSWER


# ---------------------------------------------------------------------------------------------
# with the real model (bundled all-MiniLM-L6-v2): about 10-30 s, most of it embedding the KB


@pytest.fixture(scope="module")
def real_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    from bot.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    articles, problems = load_articles(REPO / "knowledge_base" / "articles")
    folder = tmp_path_factory.mktemp("kb") / "index"
    build_index(articles, embedder, folder, problems=problems, progress=False)
    return KnowledgeBase.open(folder, embedder)


# Five golden questions (knowledge_base/eval/golden-*.yml), from different areas of the help centre.
GOLDEN = [
    ("factory reset pulse 700", "reset-pulse-700"),
    ("halo speaker wont connect to wifi", "halo-home-wifi-setup"),
    ("whats your return policy", "returns-policy"),
    ("how do i turn on 2fa", "two-factor-authentication"),
    ("think my package got stolen off my porch", "package-not-received"),
]


@pytest.mark.integration
@pytest.mark.parametrize("question, article_id", GOLDEN)
def test_golden_questions_rank_their_article_first(real_kb: KnowledgeBase, question: str, article_id: str) -> None:
    hits = real_kb.search(question, k=3)
    assert hits[0].article_id == article_id, [h.article_id for h in hits]


@pytest.mark.integration
def test_out_of_scope_question_gets_no_answer(real_kb: KnowledgeBase) -> None:
    decision = real_kb.decide("what's the weather in Paris")
    assert decision.action == NO_ANSWER, decision.reason


@pytest.mark.integration
def test_drafts_are_not_served(real_kb: KnowledgeBase) -> None:
    hits = real_kb.search("holiday returns 2026 extended window christmas gifts", k=10)
    assert "holiday-returns" not in {h.article_id for h in hits}
    with pytest.raises(NotFound):
        real_kb.article("holiday-returns")


@pytest.mark.integration
@pytest.mark.parametrize("question", ["camera error E31", "what does E45 mean on the sentry cam"])
def test_error_codes_find_their_article(real_kb: KnowledgeBase, question: str) -> None:
    hits = real_kb.search(question, k=3)
    assert hits[0].article_id == "sentry-cam-2k-offline" and hits[0].lexical > 0


def test_the_nlus_vector_is_used_instead_of_embedding_again(kb: KnowledgeBase, embedder: FakeEmbedder) -> None:
    question = "how do I return headphones?"
    shared = share_vector(embedder.vector(question), embedder.name)
    before = len(embedder.calls)
    vector = kb.embed_query(question, shared)
    assert len(embedder.calls) == before
    assert np.array_equal(vector, embedder.vector(question))
    assert kb.decide(question, vector=vector).hits == kb.decide(question).hits


@pytest.mark.parametrize("shared", [
    share_vector(np.ones(384, dtype=np.float32) / np.sqrt(384), "another-model"),  # another model's space
    share_vector(np.ones(12, dtype=np.float32), "fake-sha256"),  # wrong dimension
    {"model": "fake-sha256", "vector": "not base64!"},
    "a string",
])
def test_a_shared_vector_that_does_not_fit_is_ignored(kb: KnowledgeBase, embedder: FakeEmbedder, shared) -> None:
    question = "how do I return headphones?"
    assert np.array_equal(kb.embed_query(question, shared), embedder.vector(question))
    assert embedder.calls[-1] == [question]


def test_a_shared_vector_of_a_longer_text_than_searched_is_ignored(kb: KnowledgeBase, embedder: FakeEmbedder) -> None:
    # the search reads only the first MAX_QUERY_CHARS characters; the NLU embedded the whole message
    question = "word " * 1000
    kb.embed_query(question, share_vector(embedder.vector(question), embedder.name))
    assert embedder.calls[-1] == [clean_query(question)]
