"""Cluster mode against the real engines: two Rasa workers and two action servers behind nginx, on PostgreSQL,
Redis and RabbitMQ (bot/cluster.py), started as `make run-cluster WORKERS=2` starts them. Skipped with the
reason when one of the engines does not answer."""
from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
import requests
import socketio

from bot import cluster, migrations, runner
from bot.__main__ import MODEL_DIR, build_knowledge_base
from bot.container import build_handoff
from bot.settings import PROJECT_ROOT, Settings
from bot.store.directory import SqlCustomerDirectory
from bot.store.seed import seed
from bot.store.service import utcnow
from tests.databases import fresh_postgres
from tests.e2e.conftest import PORT_BASE, always_open_handoff_config, text_of

pytestmark = pytest.mark.integration
TOKEN = "e2e-cluster-token"
AGENT = ("cluster-agent@brightwave.example", "Cluster Agent", "cluster agent password")
WORKERS = 2


class Cluster:
    def __init__(self, settings: Settings, processes: List[runner.ManagedProcess]) -> None:
        self.settings, self.processes = settings, processes
        self.http = requests.Session()
        self.handoff = build_handoff(settings)
        self.agent = self.handoff.ensure_agent(AGENT[0], AGENT[1], "agent", AGENT[2])

    def agent_online(self) -> None:
        """As the desk's open page does: the agent counts as online, so a customer can be handed over."""
        self.handoff.heartbeat(self.agent)

    def process(self, name: str) -> runner.ManagedProcess:
        return next(p for p in self.processes if p.name == name)

    def worker_url(self, number: int) -> str:
        return f"http://{self.settings.host}:{cluster.worker_ports(self.settings, WORKERS)['rasa'][number - 1]}"

    def say(self, sender: str, text: str) -> list:
        answer = self.http.post(f"{self.settings.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                timeout=90)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def events(self, sender: str) -> list:
        answer = self.http.get(f"{self.settings.rasa_url}/conversations/{sender}/tracker", params={"token": TOKEN}, timeout=30)
        answer.raise_for_status()
        return answer.json()["events"]

    def handled_by(self, number: int) -> int:
        """REST messages nginx passed to worker `number` so far (its access log names the upstream)."""
        port = cluster.worker_ports(self.settings, WORKERS)["rasa"][number - 1]
        log = self.settings.log_dir / "nginx-access.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return sum(1 for line in lines if "/webhooks/rest/webhook" in line and line.endswith(f":{port}"))


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> Iterator[dict]:
    """Fresh PostgreSQL databases; Redis, RabbitMQ and nginx as they are on the machine (or a skip)."""
    urls, drops = {}, []
    for variable in cluster.DATABASES:
        url, drop = fresh_postgres()  # skips when PostgreSQL is not there
        urls[variable] = url
        drops.append(drop)
    yield urls
    for drop in drops:
        drop()


@pytest.fixture(scope="module")
def running(tmp_path_factory, trained_model: Path, engines: dict) -> Iterator[Cluster]:
    data_dir: Path = tmp_path_factory.mktemp("cluster-data")
    articles = data_dir / "articles"
    shutil.copytree(PROJECT_ROOT / "knowledge_base" / "articles", articles)
    env = cluster.cluster_environment({
        **engines, "SUPPORT_DATA_DIR": str(data_dir), "RASA_PORT": str(PORT_BASE + 505), "ACTION_PORT": str(PORT_BASE + 555),
        "WEB_PORT": str(PORT_BASE + 580), "RASA_TOKEN": TOKEN, "IDENTITY_SECRET": "e2e-cluster-identity",
        "KB_ARTICLES_DIR": str(articles), "HANDOFF_CONFIG": str(always_open_handoff_config(data_dir)),
    })
    settings = Settings.from_env(env)
    missing = cluster.missing_services(settings)
    if missing:
        pytest.skip("; ".join(missing))
    migrations.upgrade(settings.app_db_url)
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    build_knowledge_base(settings)
    started = Cluster(settings, cluster.start_cluster(settings, MODEL_DIR, WORKERS))
    yield started
    runner.stop_all(started.processes)


class Website:
    """A widget's socket.io connection to one Rasa worker (not through nginx: the test picks the worker)."""

    def __init__(self, url: str, session_id: str) -> None:
        self.session_id, self.received = session_id, queue.Queue()
        joined = threading.Event()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", lambda _s: joined.set())
        self.sio.on("bot_uttered", lambda data: self.received.put(data))
        self.sio.connect(url, transports=["websocket"], wait_timeout=20)
        self.sio.emit("session_request", {"session_id": session_id})
        assert joined.wait(20), "the session was not confirmed"

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def wait_for(self, fragment: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.received.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if fragment in (data.get("text") or ""):
                return data
        raise AssertionError(f"{fragment!r} never reached the customer")

    def close(self) -> None:
        self.sio.disconnect()


def desk(running: Cluster) -> dict:
    token = running.http.post(f"{running.settings.web_url}/api/auth/login",
                              json={"email": AGENT[0], "password": AGENT[2]}, timeout=30).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_one_conversation_is_served_by_both_workers_in_turn(running):
    sender = f"cluster-{uuid.uuid4().hex[:8]}"
    before = [running.handled_by(n) for n in (1, 2)]
    for line in ("hi", "how long does shipping take", "what payment methods do you accept", "thanks"):
        assert text_of(running.say(sender, line)), f"no answer to {line!r}"
    after = [running.handled_by(n) for n in (1, 2)]
    assert all(a > b for a, b in zip(after, before)), f"nginx sent every message to one worker: {before} → {after}"
    users = [e for e in running.events(sender) if e["event"] == "user"]
    assert len(users) >= 4  # one conversation in PostgreSQL, whichever worker wrote


def test_widget_websockets_through_the_load_balancer_spread_over_the_workers(running):
    """Customers behind one address (an office's NAT; here all of them) are not all put on one worker: a WebSocket
    is one connection, so nginx gives it the worker with the fewest (deploy/nginx.conf.template)."""
    customers = [Website(running.settings.rasa_url, f"cluster-ws-{uuid.uuid4().hex[:8]}") for _ in range(4)]
    try:
        for customer in customers:
            customer.say("how long does shipping take")
        for customer in customers:
            customer.wait_for("")
    finally:
        for customer in customers:
            customer.close()
    ports = {str(port): number for number, port in enumerate(cluster.worker_ports(running.settings, WORKERS)["rasa"], 1)}
    log = running.settings.log_dir / "nginx-access.log"
    deadline, used = time.monotonic() + 20, set()
    while time.monotonic() < deadline and len(used) < WORKERS:  # nginx logs a WebSocket when it closes
        time.sleep(0.5)
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if "/socket.io/" in line and "transport=websocket" in line and " 101 " in line]
        used = {ports.get(line.rsplit(":", 1)[-1]) for line in lines[-len(customers):]}
    assert used == {1, 2}, f"the customers' WebSockets went to workers {used}"


def test_an_agents_replies_reach_a_customer_on_the_other_worker_and_the_desk_sees_the_customer(running):
    session = f"cluster-web-{uuid.uuid4().hex[:8]}"
    customer = Website(running.worker_url(2), session)
    try:
        running.agent_online()
        customer.say("/request_human")
        customer.wait_for("")  # the bot's answer: queued for a person
        headers = desk(running)
        web = running.settings.web_url
        deadline, found = time.monotonic() + 30, []
        while not found and time.monotonic() < deadline:
            time.sleep(0.5)
            found = [h["id"] for h in running.http.get(f"{web}/api/queue", headers=headers, timeout=30).json()["handoffs"]
                     if h["conversation_id"] == session]
        assert found, "the handoff never reached the queue"
        handoff_id = found[0]
        assert running.http.post(f"{web}/api/handoffs/{handoff_id}/claim", headers=headers, timeout=30).status_code == 200
        # the desk calls Rasa's API through nginx, round robin: some replies go out through worker 1
        for number in range(1, 5):
            reply = f"Agent reply {number}: looking at it now."
            assert running.http.post(f"{web}/api/handoffs/{handoff_id}/reply", json={"text": reply}, headers=headers,
                                     timeout=60).status_code == 200
            customer.wait_for(reply)
        customer.say("thanks, is it the blue one?")  # through RabbitMQ to the desk
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            messages = running.http.get(f"{web}/api/handoffs/{handoff_id}", headers=headers, timeout=30).json()["messages"]
            mine = [m for m in messages if m["author"] == "customer" and "blue one" in m["text"]]
            if mine:
                break
            time.sleep(0.5)
        assert len(mine) == 1, "the customer's message reached the desk not exactly once"
        assert running.http.post(f"{web}/api/handoffs/{handoff_id}/resolve", headers=headers, timeout=60).status_code == 200
        customer.wait_for("How would you rate")
    finally:
        customer.close()
    # a reconnection that lands on the other worker carries on the same conversation
    again = Website(running.worker_url(1), session)
    try:
        again.say('/csat_rating{"rating": "5"}')
        again.wait_for("")
    finally:
        again.close()
    ratings = [e for e in running.events(session) if e["event"] == "user" and "csat_rating" in (e.get("text") or "")]
    assert len(ratings) == 1


def test_a_killed_worker_is_routed_around_and_restarted(running):
    worker = running.process("rasa-1")
    worker.kill()
    sender = f"cluster-kill-{uuid.uuid4().hex[:8]}"
    for line in ("hi", "how long does shipping take", "thanks"):
        assert running.say(sender, line), "nginx did not pass the message to the live worker"
    worker.start()
    worker.wait_healthy()
    assert running.say(sender, "what payment methods do you accept")


# --- the engines restarting under traffic ---------------------------------------------------------

def restart_postgresql() -> None:
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["pg_ctlcluster", clusters[0], clusters[1], "restart"], check=True, timeout=120)


def restart_rabbitmq(down_seconds: float = 3.0) -> None:
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120, capture_output=True)
    time.sleep(down_seconds)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120, capture_output=True)


def restart_redis() -> None:
    """Redis keeps nothing on disk here: a restart loses every lock and subscription, as in production."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    config = {key: client.config_get(key)[key] for key in ("bind", "port", "dir", "save", "appendonly")}
    try:
        client.shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass  # the server hung up on us while going down
    subprocess.run(["redis-server", "--daemonize", "yes", *[part for key, value in config.items()
                                                           for part in (f"--{key}", value)]], check=True, timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if redis.Redis(host="127.0.0.1", port=6379).ping():
                return
        except redis.exceptions.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError("Redis did not come back")


def traffic_during(running: Cluster, fault, seconds_after: float = 5.0) -> dict:
    """REST conversations sending while `fault` runs; every answer is a 200 or a clear 503 "send it again"."""
    from bot.channels.rest import NOT_HANDLED

    outcomes = {"answered": [], "refused": [], "wrong": []}
    stop = threading.Event()

    questions = ["how long does shipping take", "what payment methods do you accept", "do you ship to Canada",
                 "how do I reset my sentry cam"]

    def customer(number: int) -> None:
        turn = 0
        while not stop.is_set():
            # a new conversation every few questions, each question different: the same one asked again and again
            # is a frustrated customer, whom the assistant rightly hands to a person (and then stays silent)
            if turn % len(questions) == 0:
                sender = f"cluster-fault-{uuid.uuid4().hex[:6]}-{number}"
            text = f"{questions[turn % len(questions)]} ({turn})"
            turn += 1
            try:
                answer = running.http.post(f"{running.settings.rasa_url}/webhooks/rest/webhook",
                                           json={"sender": sender, "message": text}, timeout=90)
                body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else None
            except requests.RequestException as error:
                outcomes["wrong"].append((sender, text, f"no answer: {error}"))
                continue
            if answer.status_code == 200 and body:
                outcomes["answered"].append((sender, text))
            elif answer.status_code == 503 and isinstance(body, dict) and body.get("error") == NOT_HANDLED:
                outcomes["refused"].append((sender, text))
                time.sleep(0.5)
            else:
                outcomes["wrong"].append((sender, text, f"HTTP {answer.status_code}: {answer.text[:200]}"))
            time.sleep(0.2)

    threads = [threading.Thread(target=customer, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    fault()
    time.sleep(seconds_after)
    stop.set()
    for thread in threads:
        thread.join(120)
    return outcomes


def assert_nothing_silently_dropped(running: Cluster, outcomes: dict) -> None:
    assert not outcomes["wrong"], outcomes["wrong"][:5]
    assert len(outcomes["answered"]) > 8
    by_sender: dict = {}
    for sender, text in outcomes["answered"]:
        by_sender.setdefault(sender, []).append(text)
    for sender, texts in by_sender.items():
        recorded = [e.get("text") for e in running.events(sender) if e["event"] == "user"]
        for text in texts:
            assert recorded.count(text) == 1, f"{text!r} answered but recorded {recorded.count(text)} times"


def test_a_postgresql_restart_is_met_with_try_again_and_recovered_from(running):
    outcomes = traffic_during(running, restart_postgresql)
    assert_nothing_silently_dropped(running, outcomes)
    assert running.say(f"cluster-after-pg-{uuid.uuid4().hex[:6]}", "hi")  # no operator needed


def test_a_redis_restart_loses_no_conversation(running):
    outcomes = traffic_during(running, restart_redis)
    assert_nothing_silently_dropped(running, outcomes)


def test_a_rabbitmq_restart_loses_no_customer_message_for_the_desk(running):
    session = f"cluster-mq-{uuid.uuid4().hex[:8]}"
    customer = Website(running.worker_url(1), session)
    headers = desk(running)
    web = running.settings.web_url
    try:
        running.agent_online()
        customer.say("/request_human")
        customer.wait_for("")
        deadline, found = time.monotonic() + 30, []
        while not found and time.monotonic() < deadline:
            time.sleep(0.5)
            found = [h["id"] for h in running.http.get(f"{web}/api/queue", headers=headers, timeout=30).json()["handoffs"]
                     if h["conversation_id"] == session]
        assert found
        stopped = threading.Thread(target=restart_rabbitmq, kwargs={"down_seconds": 6.0})
        stopped.start()
        time.sleep(2)  # RabbitMQ is down
        for number in range(3):
            customer.say(f"hello? message {number} while the queue is down")
            time.sleep(0.5)
        stopped.join(180)
        deadline, mine = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            messages = running.http.get(f"{web}/api/handoffs/{found[0]}", headers=headers, timeout=30).json()["messages"]
            mine = [m["text"] for m in messages if m["author"] == "customer" and "while the queue is down" in m["text"]]
            if len(mine) >= 3:
                break
            time.sleep(1)
        assert sorted(mine) == [f"hello? message {n} while the queue is down" for n in range(3)]
    finally:
        customer.close()
