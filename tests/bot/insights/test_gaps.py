"""Content gaps: missed questions grouped by meaning, incrementally, on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import pytest

from bot.errors import NotAllowed, NotFound
from bot.handoff.models import AGENT, KB_NO_ANSWER, LEAD, Agent
from bot.insights import gaps as gaps_module
from bot.insights.gaps import ContentGaps, cluster_vectors, merge_into
from bot.insights.log import ANSWERED, CLARIFIED, RATED, UNANSWERED
from tests.bot.insights.conftest import NOW, by_topic

LEE = Agent(id=3, email="lee@example.com", name="Lee", role=LEAD)
MAYA = Agent(id=1, email="maya@example.com", name="Maya", role=AGENT)

GIFT = ["do gift cards expire", "can I use a gift card online", "gift card balance?", "my gift card code does not work"]
WARRANTY = ["how long is the warranty", "is the warranty international", "warranty for refurbished items"]


@pytest.fixture
def gaps(app_db, embedder) -> ContentGaps:
    return ContentGaps.from_url(app_db.url, embedder, clock=lambda: NOW)


def record_topics(app_db) -> None:
    for n, question in enumerate(GIFT):
        app_db.miss(UNANSWERED, question, conversation=f"web-{n}", minutes=60 + n)
    for n, question in enumerate(WARRANTY):
        app_db.miss(CLARIFIED, question, conversation=f"slack:T1:D{n}", minutes=30 + n)
    app_db.miss(RATED, "warranty on my 104512 order please", conversation="web-x", helpful=False, article="warranty", minutes=5)


def test_misses_are_grouped_by_meaning_biggest_first(app_db, gaps):
    record_topics(app_db)
    app_db.miss(ANSWERED, "do gift cards expire", article="gift-cards")  # answered: not a gap
    app_db.miss(RATED, "gift card balance", helpful=True, article="gift-cards")  # it helped: not a gap
    assert gaps.refresh() == 8
    clusters = gaps.clusters(days=30)
    topics = by_topic(clusters)
    assert set(topics) == {"gift", "warranty"}
    assert clusters[0] is topics["gift"] or clusters[0].conversations >= clusters[1].conversations
    gift, warranty = topics["gift"], topics["warranty"]
    assert (gift.questions, gift.conversations, gift.channels, gift.kinds) == (4, 4, {"website": 4}, {"no answer": 4})
    assert warranty.channels == {"slack": 3, "website": 1}
    assert warranty.kinds == {"unsure": 3, "did not help": 1}
    assert warranty.examples[0] == "warranty on my [order number] order please"  # newest first, masked


def test_clustering_is_incremental(app_db, gaps, embedder):
    record_topics(app_db)
    gaps.refresh()
    first = {topic: cluster.id for topic, cluster in by_topic(gaps.clusters()).items()}
    app_db.miss(UNANSWERED, "gift cards for christmas", conversation="web-9")
    app_db.miss(UNANSWERED, "do you deliver on sunday", conversation="web-10")
    app_db.miss(UNANSWERED, "sunday delivery possible?", conversation="web-11")
    assert gaps.refresh() == 3
    assert gaps.refresh() == 0
    after = by_topic(gaps.clusters())
    assert after["gift"].id == first["gift"] and after["gift"].questions == 5
    assert after["sunday"].questions == 2 and after["sunday"].id not in first.values()


def test_batches_join_the_clusters_earlier_batches_made(app_db, gaps, monkeypatch):
    monkeypatch.setattr(gaps_module, "BATCH", 3)
    record_topics(app_db)
    assert gaps.refresh() == 8
    assert {t: c.questions for t, c in by_topic(gaps.clusters()).items()} == {"gift": 4, "warranty": 4}


def test_a_vector_kept_with_the_question_is_not_embedded_again(app_db, gaps, embedder):
    vector = embedder.vector("do gift cards expire")
    app_db.miss(UNANSWERED, "do gift cards expire", vector=vector, model=embedder.name)
    app_db.miss(UNANSWERED, "gift card balance?", vector=np.ones(8), model="another-model")  # another model: unusable
    gaps.refresh()
    assert embedder.embedded == ["gift card balance?"]
    gaps.refresh()
    assert embedder.embedded == ["gift card balance?"]  # kept after the first time


def test_trend_compares_with_the_period_before(app_db, gaps):
    for n in range(2):
        app_db.miss(UNANSWERED, f"gift card question {n}", conversation=f"old-{n}", minutes=60 * 24 * 10)
    for n in range(6):
        app_db.miss(UNANSWERED, f"gift card question {n} again", conversation=f"new-{n}", minutes=60 * n)
    gaps.refresh()
    (cluster,) = gaps.clusters(days=7)
    assert (cluster.questions, cluster.previous, cluster.trend) == (6, 2, "rising")


def test_a_help_centre_handoff_soon_after_is_counted(app_db, gaps):
    record_topics(app_db)
    app_db.handoff("web-0", KB_NO_ANSWER, minutes=58)  # two minutes after its miss
    app_db.handoff("web-1", KB_NO_ANSWER, minutes=0)  # an hour after: not caused by it
    app_db.handoff("web-2", "frustrated", minutes=60)  # another reason
    gaps.refresh()
    assert by_topic(gaps.clusters())["gift"].handed_off == 1


def test_channel_and_period_filters(app_db, gaps):
    record_topics(app_db)
    gaps.refresh()
    assert set(by_topic(gaps.clusters(channel="slack"))) == {"warranty"}
    assert by_topic(gaps.clusters(channel="website"))["warranty"].questions == 1
    app_db.miss(UNANSWERED, "do you take crypto", conversation="web-40", minutes=60 * 24 * 40)
    gaps.refresh()
    assert "crypto" not in by_topic(gaps.clusters(days=30))
    assert by_topic(gaps.clusters(days=90))["crypto"].questions == 1


def test_dismissed_clusters_leave_the_list_with_what_joins_them_later(app_db, gaps):
    record_topics(app_db)
    gaps.refresh()
    gift = by_topic(gaps.clusters())["gift"]
    with pytest.raises(NotAllowed):
        gaps.dismiss(MAYA, gift.id)
    gaps.dismiss(LEE, gift.id)
    app_db.miss(UNANSWERED, "gift cards again", conversation="web-20")
    gaps.refresh()
    assert "gift" not in by_topic(gaps.clusters())
    assert by_topic(gaps.clusters(dismissed=True))["gift"].questions == 5
    gaps.dismiss(LEE, gift.id, dismissed=False)
    assert "gift" in by_topic(gaps.clusters())
    with pytest.raises(NotFound):
        gaps.dismiss(LEE, 9999)


def test_wordings_for_an_article_have_no_placeholders_and_no_repeats(app_db, gaps):
    app_db.miss(UNANSWERED, "Do gift cards expire", conversation="a")
    app_db.miss(UNANSWERED, "do gift cards expire", conversation="b")
    app_db.miss(UNANSWERED, "gift card for jane.doe@example.com", conversation="c")
    gaps.refresh()
    (cluster,) = gaps.clusters()
    assert [w.lower() for w in gaps.wordings(cluster.id)] == ["do gift cards expire"]
    assert "gift card for [email]" in [q.text for q in gaps.questions(cluster.id)]


@dataclass
class Decision:
    action: str
    hits: Tuple = ()


@dataclass
class Hit:
    article_id: str


class AnswersGiftQuestions:
    """A knowledge base that now has a gift-card article."""

    version = "v2"

    def __init__(self, embedder) -> None:  # noqa: ANN001
        self.embedder = embedder
        self.vectors = []

    def decide(self, question, vector=None):  # noqa: ANN001, ANN201
        self.vectors.append(vector)
        return Decision("answer", (Hit("gift-cards"),)) if "gift" in question.lower() else Decision("no_answer")


def test_recheck_and_fix_show_how_many_would_now_be_answered(app_db, gaps, embedder):
    record_topics(app_db)
    app_db.miss(UNANSWERED, "my gift and also something else entirely", conversation="web-30")
    gaps.refresh()
    gift = by_topic(gaps.clusters())["gift"]
    kb = AnswersGiftQuestions(embedder)
    result = gaps.recheck(gift.id, kb)
    assert (result.questions, result.answered, result.unanswered, result.by_article) == (
        gift.questions, gift.questions, 0, {"gift-cards": gift.questions})
    assert all(v is not None for v in kb.vectors)  # the kept vectors, no embedding
    gaps.mark_fixed(LEE, gift.id, "gift-cards")
    fixed = by_topic(gaps.clusters())["gift"]
    assert (fixed.fixed_article, fixed.asked_since_fix) == ("gift-cards", 0)


def test_cluster_vectors_average_linkage():
    a, b = np.eye(4)[0], np.eye(4)[1]
    vectors = np.stack([a, a * 0.99 + b * 0.14, b, b * 0.98 + a * 0.2])
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = cluster_vectors(vectors, 0.55)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert list(cluster_vectors(vectors[:1])) == [0] and len(cluster_vectors(np.zeros((0, 4)))) == 0


def test_merge_uses_the_average_similarity_of_the_two_groups():
    sums = np.stack([np.eye(3)[0] * 2, np.eye(3)[1]])
    sizes = np.array([2.0, 1.0])
    groups = np.stack([np.eye(3)[0], np.eye(3)[2]])
    assert list(merge_into(sums, sizes, groups, np.array([1.0, 1.0]), 0.55)) == [0, -1]
