"""Cluster mode's plumbing (bot/cluster.py): the engines' defaults, the load balancer's config, missing services."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from bot import cluster
from bot.settings import Settings


def settings_for(tmp_path, **extra) -> Settings:
    return Settings.from_env(cluster.cluster_environment({
        "SUPPORT_DATA_DIR": str(tmp_path), "RASA_TOKEN": "t", "IDENTITY_SECRET": "s", "RASA_PORT": "17005",
        "ACTION_PORT": "17055", **extra}))


def test_unset_or_sqlite_engines_become_the_local_services(tmp_path):
    settings = settings_for(tmp_path, APP_DB_URL="sqlite:////tmp/app.db",
                            TRACKER_STORE_URL="postgresql://me:pw@db.example:5433/conversations")
    assert settings.app_db_url == "postgresql://postgres@127.0.0.1:5432/support_app"
    assert settings.store_db_url == "postgresql://postgres@127.0.0.1:5432/support_store"
    assert settings.tracker_store_url == "postgresql://me:pw@db.example:5433/conversations"  # the operator's stays
    assert settings.lock_store_type == "redis" and settings.redis_url == cluster.REDIS
    assert settings.rabbitmq_url == cluster.RABBITMQ


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (make lb)")
def test_the_load_balancer_config_lists_every_worker_and_nginx_accepts_it(tmp_path):
    settings = settings_for(tmp_path)
    path = cluster.nginx_config(settings, 3)
    text = path.read_text()
    for port in (17106, 17107, 17108, 17156, 17157, 17158):
        assert f"127.0.0.1:{port} " in text
    assert "{{" not in text and "hash $binary_remote_addr consistent" in text
    checked = subprocess.run(["nginx", "-t", "-p", str(path.parent), "-c", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_a_service_that_does_not_answer_is_named_with_how_to_start_it(tmp_path):
    settings = settings_for(tmp_path, REDIS_URL="redis://127.0.0.1:1/0", RABBITMQ_URL="amqp://guest:guest@127.0.0.1:2/",
                            APP_DB_URL="postgresql://postgres@127.0.0.1:3/support_app")
    problems = "\n".join(cluster.missing_services(settings))
    assert "Redis at 127.0.0.1:1 does not answer" in problems and "service redis-server start" in problems
    assert "RabbitMQ at 127.0.0.1:2 does not answer" in problems
    assert "PostgreSQL: 127.0.0.1:3 does not answer" in problems and "service postgresql start" in problems
