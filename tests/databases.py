"""Fresh databases for contract tests: a temporary SQLite file, or a new database on the local PostgreSQL."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Tuple

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_postgres() -> Tuple[str, Callable[[], None]]:
    """(URL of a new empty database, function that drops it), or a skip saying why there is no server."""
    try:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
        name = f"support_test_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as error:  # noqa: BLE001 - any failure means: no server to test against
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.__class__.__name__}")
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        admin.dispose()  # the server may have restarted since (the cluster's fault tests): no stale connection
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return url, drop


def sqlite_url(folder: Path, name: str = "app.db") -> str:
    return f"sqlite:///{folder / name}"


def store_on(kind: str, folder: Path, from_url: Callable[[str], Any]) -> Iterator[Any]:
    """A store made by `from_url` on a fresh SQLite file ("sqlite") or PostgreSQL database ("postgresql");
    for fixtures parametrised over both: the PostgreSQL database is dropped afterwards."""
    if kind == "sqlite":
        yield from_url(sqlite_url(folder))
        return
    url, drop = fresh_postgres()
    store = from_url(url)
    yield store
    store._engine.dispose()
    drop()
