"""`bot kb stats` reports what customers asked: answers, ratings per article, unanswered questions."""
from datetime import datetime
from pathlib import Path

from bot.insights.log import ANSWERED, RATED, UNANSWERED, KnowledgeEvent, SqlInsightLog
from tests.bot.knowledge.test_cli import run

NOW = datetime(2026, 10, 6, 12, 0)


def test_stats_lists_article_ratings_and_unanswered_questions(articles_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    log = SqlInsightLog.from_url(url)
    log.record(KnowledgeEvent("c1", ANSWERED, "reset pulse", NOW, "reset-pulse-700", 0.9))
    log.record(KnowledgeEvent("c1", RATED, "reset pulse", NOW, "reset-pulse-700", None, True))
    for conversation in ("c2", "c3"):
        log.record(KnowledgeEvent(conversation, UNANSWERED, "Do you sell lawnmowers?", NOW))
    code, out, _ = run("stats", "--articles", str(articles_dir), "--index", str(tmp_path / "none"), "--app-db", url)
    assert code == 0
    assert "1 answers, 1 rated, 100% of ratings helpful" in out
    assert "| reset-pulse-700 | 1 | 1 | 0 |" in out
    assert "2  do you sell lawnmowers?" in out


def test_stats_without_conversations(articles_dir: Path, tmp_path: Path) -> None:
    code, out, _ = run("stats", "--articles", str(articles_dir), "--index", str(tmp_path / "none"),
                       "--app-db", f"sqlite:///{tmp_path / 'missing.db'}")
    assert code == 0 and "none recorded yet" in out
