"""Rasa with its tracker store on PostgreSQL and its lock store on Redis, chosen by environment variables."""
import socket
import uuid

import pytest
import requests
import sqlalchemy as sa

from bot import runner
from bot.settings import Settings
from bot.store.directory import SqlCustomerDirectory
from bot.store.seed import seed
from bot.store.service import utcnow
from tests.e2e.conftest import TOKEN

pytestmark = pytest.mark.integration

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def reachable(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def postgres_database():
    if not reachable(5432):
        pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432")
    name = f"support_e2e_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield f"{POSTGRES}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_postgres_tracker_and_store_with_redis_lock_store(tmp_path, trained_model, postgres_database):
    if not reachable(6379):
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(tmp_path), "RASA_PORT": "15105", "ACTION_PORT": "15155", "WEB_PORT": "15180", "RASA_TOKEN": TOKEN,
        "TRACKER_STORE_URL": postgres_database, "STORE_DB_URL": postgres_database, "APP_DB_URL": postgres_database,
        "LOCK_STORE": "redis", "LOCK_STORE_HOST": "127.0.0.1",
    })
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    processes = runner.start_all(settings, trained_model)
    try:
        sender = f"pg-{uuid.uuid4().hex[:8]}"
        url = f"{settings.rasa_url}/webhooks/rest/webhook"
        requests.post(url, json={"sender": sender, "message": "where is my order 104512"}, timeout=60)
        reply = requests.post(url, json={"sender": sender, "message": "jane.doe@example.com"}, timeout=60).json()
        assert "on its way with UPS" in " ".join(m.get("text", "") for m in reply)
    finally:
        runner.stop_all(processes)
    engine = sa.create_engine(postgres_database, future=True)
    with engine.connect() as conn:
        texts = conn.execute(sa.text(
            "SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"), {"s": sender}
        ).scalars().all()
    engine.dispose()
    assert len(texts) == 2 and "104512" in texts[0]
