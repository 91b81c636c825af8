from datetime import datetime, timedelta

import pytest

from bot.insights.log import ANSWERED, RATED, UNANSWERED, KnowledgeEvent, SqlInsightLog, summary
from tests.bot.store.test_directory_contract import _postgres_directory

NOW = datetime(2026, 10, 6, 12, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request, tmp_path):
    if request.param == "sqlite":
        yield SqlInsightLog.from_url(f"sqlite:///{tmp_path / 'app.db'}")
    else:
        directory, drop = _postgres_directory()  # skips when PostgreSQL is not reachable
        yield SqlInsightLog.from_url(str(directory._engine.url.render_as_string(hide_password=False)))
        drop()


def event(kind, conversation="c1", question="q", article=None, helpful=None, minutes=0):
    return KnowledgeEvent(conversation, kind, question, NOW + timedelta(minutes=minutes), article, 0.8, helpful)


def test_events_per_conversation_in_order(log):
    log.record(event(ANSWERED, article="a"))
    log.record(event(RATED, article="a", helpful=False, minutes=1))
    log.record(event(UNANSWERED, conversation="c2", question="lawnmowers?"))
    assert [e.kind for e in log.events("c1")] == [ANSWERED, RATED]
    assert log.events("c1")[1].helpful is False
    assert len(log.events()) == 3


def test_article_stats_and_summary(log):
    for helpful in (True, True, False):
        log.record(event(ANSWERED, article="a"))
        log.record(event(RATED, article="a", helpful=helpful))
    log.record(event(ANSWERED, article="b"))
    stats = {s.article_id: s for s in log.article_stats()}
    assert (stats["a"].answers, stats["a"].helpful, stats["a"].not_helpful) == (3, 2, 1)
    assert (stats["b"].answers, stats["b"].helpful) == (1, 0)
    assert summary(list(stats.values())) == {"answers": 4.0, "rated": 3.0, "helpful_share": pytest.approx(2 / 3)}


def test_unanswered_questions_grouped_most_frequent_first(log):
    for question in ("Do you sell lawnmowers", "do you sell lawnmowers ", "gift wrap?"):
        log.record(event(UNANSWERED, question=question))
    assert log.unanswered() == [("do you sell lawnmowers", 2), ("gift wrap?", 1)]
