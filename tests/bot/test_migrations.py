"""The app database's migrations (bot/migrations): a blank database, one of the release before migrations, both
engines, and no table changed without a migration."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot import migrations
from bot.handoff.store import SqlHandoffStore
from bot.insights.log import SqlInsightLog
from bot.settings import PROJECT_ROOT
from tests.databases import fresh_postgres, sqlite_url

BEFORE_MIGRATIONS = Path(__file__).parent.parent / "fixtures" / "app_db_2026_12_06.sql"


def tables(url: str) -> set:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def differences(url: str) -> list:
    """What the tables in the database lack or have beyond what the code's tables say."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            combined = sa.MetaData()
            for part in migrations.metadata():
                for table in part.sorted_tables:
                    table.to_metadata(combined)
            return compare_metadata(context, combined)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    url, drop = fresh_postgres()
    yield url
    drop()


def test_a_blank_database_gets_every_table_of_the_code_exactly(blank_url):
    assert migrations.upgrade(blank_url) == migrations.head()
    ours = {t.name for m in migrations.metadata() for t in m.sorted_tables}
    assert ours <= tables(blank_url) and len(ours) >= 16
    assert differences(blank_url) == [], "a table changed without a migration: write one with `bot db revision -m '...'`"
    assert migrations.upgrade(blank_url) == migrations.head()  # again: nothing to do


def test_the_database_of_the_release_before_migrations_is_stamped_and_keeps_its_rows(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE_MIGRATIONS.read_text())
    url = f"sqlite:///{path}"
    assert migrations.current(url) is None
    assert migrations.upgrade(url) == migrations.head()
    assert differences(url) == []
    # the stores read what the old release wrote
    assert [a.email for a in SqlHandoffStore.from_url(url).list_agents()] == ["maya@brightwave.example"]
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("select question from knowledge_events")).scalar() == "how do I reset my headphones"
    SqlInsightLog.from_url(url)  # and may still create what is missing: nothing


def test_bot_db_upgrade_reports_the_revision(tmp_path):
    env = {"SUPPORT_DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", "IDENTITY_SECRET": "s", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"revision {migrations.head()}, newest {migrations.head()}" in done.stdout
    assert "alembic_version" in tables(f"sqlite:///{tmp_path / 'app.db'}")


def test_a_new_revision_follows_the_newest(tmp_path, monkeypatch):
    """`bot db revision` writes the next file; with the code's tables unchanged it changes nothing."""
    import shutil

    scripts = tmp_path / "migrations"
    shutil.copytree(migrations.HERE, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "HERE", scripts)
    newest = migrations.head()
    written = migrations.new_revision("nothing changed")
    assert written.parent == scripts / "versions" and written.name.startswith(f"{int(newest) + 1:04d}_")
    text = written.read_text()
    assert f"down_revision: Union[str, Sequence[str], None] = '{newest}'" in text
    assert "op." not in text.split("def upgrade")[1].split("def downgrade")[0]


def test_a_database_the_stores_made_without_migrations_is_taken_as_it_is(tmp_path):
    url = sqlite_url(tmp_path)
    SqlHandoffStore.from_url(url)
    SqlInsightLog.from_url(url)
    from bot.knowledge.revisions import SqlRevisionStore
    from bot.slack.store import SlackStore
    from bot.store.guessing import SqlGuessingLimiter

    SqlRevisionStore.from_url(url), SlackStore.from_url(url), SqlGuessingLimiter.from_url(url)
    from bot.insights.feedback import SqlFeedbackStore

    SqlFeedbackStore.from_url(url)
    from bot.proactive.store import SqlProactiveStore

    SqlProactiveStore.from_url(url)
    assert migrations.upgrade(url) == migrations.head() and differences(url) == []
