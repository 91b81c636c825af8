"""The app database's schema, owned by Alembic migrations (`bot db upgrade`, run by `make run` before the servers).

The app database holds the desk (agents, sessions, handoffs, tickets, ratings), the insights log, the content
gaps, the article revisions, Slack's delivery records and the verification limiter: every table of the
`METADATA` below. Rasa's conversations (its tracker store) and the demo store are not in it.

A database made by a release before the migrations (each store created its tables itself) has the tables and no
`alembic_version`: it is stamped as the first revision, whose tables it has, and upgraded from there (or as the
newest, when it has every table of the code: a process of this release made it without `make run`). The stores
still create missing tables themselves (tests, a blank embedded database); `tests/bot/test_migrations.py` fails
when a table changes without a migration.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
FIRST = "0001"  # the tables as the releases before migrations made them


def metadata() -> List[sa.MetaData]:
    """Every table of the app database, by the module that owns it."""
    from bot.handoff import store as handoff
    from bot.insights import feedback, gaps  # noqa: F401 - they add their tables to the insights metadata
    from bot.insights import log as insights  # gaps.py adds its tables to this metadata
    from bot.knowledge import revisions
    from bot.proactive import store as proactive
    from bot.slack import store as slack
    from bot.store import guessing

    return [handoff.metadata, insights.metadata, revisions.metadata, slack.metadata, guessing.metadata, proactive.metadata]


def config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return cfg


def current(url: str) -> Optional[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    return ScriptDirectory.from_config(config("sqlite://")).get_current_head() or FIRST


def upgrade(url: str) -> str:
    """Bring the app database at `url` to the newest revision; the revision it is at afterwards."""
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    ours = {t.name for m in metadata() for t in m.sorted_tables}
    cfg = config(url)
    if "alembic_version" not in tables and tables & ours:
        # made by the stores themselves (a release before migrations, or a process started without `make run`):
        # with every table of the code it is the code's schema, otherwise the first revision's
        stamp = "head" if ours <= tables else FIRST
        logger.info("the app database has %d of our tables and no revision: stamped as %s", len(tables & ours), stamp)
        command.stamp(cfg, stamp)
    before = current(url)
    command.upgrade(cfg, "head")
    after = current(url) or ""
    if before != after:
        logger.info("app database upgraded from %s to %s", before or "nothing", after)
    return after


def new_revision(message: str) -> Path:
    """Write the next migration: what the code's tables differ by from a database at the newest revision
    (Alembic's autogenerate, against a scratch SQLite file); review it before committing."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'head.db'}"
        upgrade(url)
        script = command.revision(config(url), message=message, autogenerate=True, rev_id=f"{int(head()) + 1:04d}")
    written = script[0] if isinstance(script, list) else script
    return Path(written.path)
