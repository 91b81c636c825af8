"""Alembic's environment for the app database: the URL comes from `bot.migrations.config`, never a file."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from bot.migrations import metadata

url = context.config.get_main_option("sqlalchemy.url")
# SQLite cannot ALTER most things in place: batch mode copies the table, so one migration works on both engines
options = {"target_metadata": metadata(), "render_as_batch": True, "compare_type": True}

if context.is_offline_mode():
    context.configure(url=url, literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
