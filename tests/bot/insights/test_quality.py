"""Per-article quality over a period, in SQL, on SQLite and PostgreSQL."""
from __future__ import annotations

from bot.handoff.models import FRUSTRATED, KB_NO_ANSWER
from bot.insights.log import ANSWERED, RATED, UNANSWERED
from bot.insights.quality import ArticleQualityReport, QualityRules
from tests.bot.insights.conftest import NOW


def report(app_db, **rules) -> dict:
    found = ArticleQualityReport(app_db.log._engine, clock=lambda: NOW, rules=QualityRules(**rules)).articles(days=30)
    return {q.article_id: q for q in found}


def answer(app_db, article, conversation, minutes, helpful=None):
    app_db.miss(ANSWERED, "q", conversation=conversation, minutes=minutes, article=article)
    if helpful is not None:
        app_db.miss(RATED, "q", conversation=conversation, minutes=minutes - 0.5, article=article, helpful=helpful)


def test_shown_and_rated_per_article(app_db):
    answer(app_db, "returns", "c1", 100, helpful=True)
    answer(app_db, "returns", "c2", 90, helpful=False)
    answer(app_db, "returns", "c3", 80)
    answer(app_db, "pairing", "c4", 70, helpful=True)
    answer(app_db, "pairing", "c5", 60 * 24 * 45, helpful=False)  # before the period
    app_db.miss(UNANSWERED, "lawnmowers?", conversation="c6")
    found = report(app_db)
    assert set(found) == {"returns", "pairing"}
    assert (found["returns"].shown, found["returns"].helpful, found["returns"].not_helpful) == (3, 1, 1)
    assert found["returns"].helpful_share == 0.5
    assert (found["pairing"].shown, found["pairing"].rated) == (1, 1)


def test_a_handoff_before_the_next_answer_and_soon_counts_against_the_answer(app_db):
    answer(app_db, "returns", "c1", 30)
    app_db.handoff("c1", KB_NO_ANSWER, minutes=28)  # two minutes later
    answer(app_db, "returns", "c2", 30)
    answer(app_db, "pairing", "c2", 20)  # another answer came first:
    app_db.handoff("c2", FRUSTRATED, minutes=19)  # the handoff follows pairing, not returns
    answer(app_db, "returns", "c3", 60)
    app_db.handoff("c3", KB_NO_ANSWER, minutes=0)  # an hour later: not the answer's doing
    found = report(app_db)
    assert found["returns"].handoffs_after == 1
    assert found["pairing"].handoffs_after == 1


def test_often_shown_rarely_helpful_articles_are_flagged(app_db):
    for n in range(4):
        answer(app_db, "returns", f"r{n}", 50 + n, helpful=n == 0)
    for n in range(4):
        answer(app_db, "pairing", f"p{n}", 50 + n, helpful=True)
    found = report(app_db, min_shown=4, min_rated=3)
    assert found["returns"].flagged and found["returns"].why == "1 of 4 ratings helpful"
    assert not found["pairing"].flagged and found["pairing"].why == ""
    assert not report(app_db, min_shown=5, min_rated=3)["returns"].flagged  # not shown often enough
