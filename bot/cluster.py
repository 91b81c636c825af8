"""Cluster mode: `bot run --workers N` (`make run-cluster WORKERS=N`), the same product on shared engines.

N Rasa servers and N action servers behind nginx, plus the web app, on PostgreSQL (conversations, the app
database, the demo store), Redis (Rasa's lock store, socket.io's rooms) and RabbitMQ (customer messages for the
desk). deploy/compose.yml describes the same topology for a real deployment.

Where an engine is not configured, the local default is taken (the services on their standard loopback ports,
databases created on first use); where one does not answer, `missing_services` says which and how to start it.
The public addresses do not change: Rasa's REST, socket.io and HTTP API on RASA_PORT (nginx), the action
servers behind ACTION_PORT (nginx), the web app on WEB_PORT. Worker i listens on RASA_PORT + 100 + i and
ACTION_PORT + 100 + i.
"""
from __future__ import annotations

import shutil
import socket
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional
from urllib.parse import urlparse

import sqlalchemy as sa

from bot import runner
from bot.settings import PROJECT_ROOT, Settings

POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"
DATABASES = {"TRACKER_STORE_URL": "support_conversations", "APP_DB_URL": "support_app", "STORE_DB_URL": "support_store"}
WORKER_OFFSET = 100
TEMPLATE = PROJECT_ROOT / "deploy" / "nginx.conf.template"
HOW_TO_START = {
    "PostgreSQL": "Debian: `service postgresql start`; Compose: `docker compose -f deploy/compose.yml up -d postgres`",
    "Redis": "Debian: `service redis-server start`; Compose: `docker compose -f deploy/compose.yml up -d redis`",
    "RabbitMQ": "Debian: `service rabbitmq-server start`; Compose: `docker compose -f deploy/compose.yml up -d rabbitmq`",
    "nginx": "Debian: `apt-get install nginx-light` (`make lb`)",
}


def cluster_environment(env: Mapping[str, str]) -> Dict[str, str]:
    """The variables cluster mode needs, the local defaults filled in where `env` leaves them unset or on SQLite."""
    out = dict(env)
    base = out.get("CLUSTER_POSTGRES_URL") or POSTGRES
    for variable, database in DATABASES.items():
        if not out.get(variable, "").startswith("postgresql"):
            out[variable] = sa.engine.make_url(base).set(database=database).render_as_string(hide_password=False)
    out.setdefault("REDIS_URL", REDIS)
    out.setdefault("RABBITMQ_URL", RABBITMQ)
    out["LOCK_STORE"] = "redis"
    out.setdefault("LOCK_STORE_HOST", urlparse(out["REDIS_URL"]).hostname or "127.0.0.1")
    return out


def missing_services(settings: Settings) -> List[str]:
    """One line per engine that does not answer: which, where, and how to start it."""
    problems: List[str] = []
    for url in sorted({settings.tracker_store_url, settings.app_db_url, settings.store_db_url}):
        problem = _postgres_problem(url)
        if problem:
            problems.append(f"PostgreSQL: {problem} ({HOW_TO_START['PostgreSQL']})")
            break
    for name, url, default_port in (("Redis", settings.redis_url, 6379), ("RabbitMQ", settings.rabbitmq_url, 5672)):
        parsed = urlparse(url)
        try:
            socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=3).close()
        except OSError as error:
            problems.append(f"{name} at {parsed.hostname}:{parsed.port or default_port} does not answer ({error}): "
                            f"{HOW_TO_START[name]}")
    if shutil.which("nginx") is None:
        problems.append(f"nginx (the load balancer) is not installed: {HOW_TO_START['nginx']}")
    return problems


def _postgres_problem(url: str) -> Optional[str]:
    """None when the database answers (created first if the server has no such database yet)."""
    target = sa.engine.make_url(url)
    try:
        engine = sa.create_engine(target, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except sa.exc.OperationalError as error:
        if f'database "{target.database}" does not exist' not in str(error):
            where = f"{target.host or 'localhost'}:{target.port or 5432}"
            return f"{where} does not answer: {str(error.orig).strip().splitlines()[0]}"
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    except sa.exc.SQLAlchemyError as error:
        return f"database {target.database} could not be created: {str(error).splitlines()[0]}"
    finally:
        admin.dispose()
    return None


def worker_ports(settings: Settings, workers: int) -> Dict[str, List[int]]:
    return {"rasa": [settings.rasa_port + WORKER_OFFSET + i for i in range(1, workers + 1)],
            "actions": [settings.action_port + WORKER_OFFSET + i for i in range(1, workers + 1)]}


def nginx_config(settings: Settings, workers: int) -> Path:
    """deploy/nginx.conf.template with this cluster's ports, written into the data folder."""
    run_dir = settings.data_dir / "cluster"
    run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    ports = worker_ports(settings, workers)

    def servers(kind: str) -> str:
        return "\n".join(f"        server {settings.host}:{port} max_fails=1 fail_timeout=3s;" for port in ports[kind])

    text = TEMPLATE.read_text()
    for key, value in {"RUN_DIR": str(run_dir), "LOG_DIR": str(settings.log_dir), "HOST": settings.host,
                       "RASA_PORT": str(settings.rasa_port), "ACTION_PORT": str(settings.action_port),
                       "RASA_SERVERS": servers("rasa"), "ACTION_SERVERS": servers("actions")}.items():
        text = text.replace("{{ " + key + " }}", value)
    path = run_dir / "nginx.conf"
    path.write_text(text)
    return path


def load_balancer(settings: Settings, workers: int, echo: bool = False) -> runner.ManagedProcess:
    conf = nginx_config(settings, workers)
    return runner.ManagedProcess(
        "lb", [shutil.which("nginx") or "nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
        runner.base_environment(settings), settings.log_dir,
        # through nginx to a Rasa worker: up only once a worker answers behind it
        f"{settings.rasa_url}/status?token={settings.rasa_token}", echo,
    )


def start_cluster(settings: Settings, model_dir: Path, workers: int, echo: bool = False) -> List[runner.ManagedProcess]:
    """Start the action servers, the Rasa workers, nginx and the web app; returns them once all are healthy."""
    ports = worker_ports(settings, workers)
    taken = [p for p in [settings.rasa_port, settings.action_port, settings.web_port, *ports["rasa"], *ports["actions"]]
             if runner.port_in_use(settings.host, p)]
    if taken:
        raise RuntimeError(f"port(s) {taken} on {settings.host} already in use; stop that process or choose other ports")
    makers = [lambda port=port, i=i: runner.action_server(replace(settings, action_port=port), echo, f"actions-{i}")
              for i, port in enumerate(ports["actions"], 1)]
    # each Rasa worker reaches the action servers through nginx (settings.action_port)
    makers += [lambda port=port, i=i: runner.rasa_server(replace(settings, rasa_port=port), model_dir, echo, f"rasa-{i}")
               for i, port in enumerate(ports["rasa"], 1)]
    makers += [lambda: load_balancer(settings, workers, echo), lambda: runner.web_app(settings, echo)]
    started: List[runner.ManagedProcess] = []
    try:
        for make in makers:
            started.append(make().start())
        for process in started:  # the Rasa workers load their models at the same time
            process.wait_healthy()
    except BaseException:
        runner.stop_all(started)
        raise
    return started
