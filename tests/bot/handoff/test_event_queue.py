"""Customer messages for the desk through the real RabbitMQ (127.0.0.1:5672): published by Rasa's Pika broker,
consumed into the handoff service, once each, and kept by the durable queue while no consumer runs."""
from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid

import pytest

from bot.handoff.event_queue import DeskEventConsumer, QueuedDeskEvents
from bot.handoff.models import CUSTOMER_REQUEST, QueuePlace
from bot.handoff.rules import load_rules
from bot.handoff.service import HandoffService
from bot.handoff.store import SqlHandoffStore
from tests.databases import sqlite_url
from tests.fakes import Clock, RecordingGateway

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def rabbitmq_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not rabbitmq_reachable(), reason="RabbitMQ is not running on 127.0.0.1:5672")


@pytest.fixture
def service(tmp_path):
    from datetime import datetime

    service = HandoffService(SqlHandoffStore.from_url(sqlite_url(tmp_path)), load_rules(), RecordingGateway(),
                             Clock(datetime(2026, 10, 6, 14, 0)))
    agent = service.create_agent("maya@brightwave.example", "Maya", "agent", "correct horse battery")
    service.heartbeat(agent)
    place = service.open_handoff(conversation_id="conv-1", channel="socketio", reason=CUSTOMER_REQUEST,
                                 reason_detail="asked", summary="", packet={}, customer_name="Jane")
    assert isinstance(place, QueuePlace)
    return service


@pytest.fixture
def names():
    tag = uuid.uuid4().hex[:8]
    return {"queue": f"test_desk_{tag}", "exchange": f"test_events_{tag}"}


def user(text: str, message_id: str, sender: str = "conv-1") -> dict:
    return {"event": "user", "sender_id": sender, "text": text, "message_id": message_id, "timestamp": time.time()}


def customer_texts(service) -> list:
    handoff = service.active_handoff("conv-1")
    return [m.text for m in service.messages(handoff.id) if m.author == "customer"]


async def publish(names, *events) -> None:
    broker = QueuedDeskEvents(RABBITMQ_URL, event_loop=asyncio.get_running_loop(), **names)
    await broker.connect()
    for event in events:
        broker.publish(event)
    while broker._background_tasks:  # Rasa's broker publishes from tasks of its own
        await asyncio.sleep(0.05)
    await broker.close()


def consume(service, names, until, timeout: float = 20.0) -> DeskEventConsumer:
    consumer = DeskEventConsumer(RABBITMQ_URL, service, **names)
    stopping = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(consumer.run(stopping)), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # anything more that would arrive
    stopping.set()
    thread.join(10)
    return consumer


def test_the_desk_gets_customers_words_once_and_nothing_else(service, names):
    consume(service, names, until=lambda: True, timeout=0)  # the queue exists before anything is published
    events = [user("is anyone there?", "m-1"), {"event": "bot", "sender_id": "conv-1", "text": "Hi"},
              user("/request_human", "m-2"), user("is anyone there?", "m-1"),  # redelivered: same message id
              user("hello?", "m-3"), user("another conversation", "m-4", sender="conv-2")]
    asyncio.run(publish(names, *events))
    consumer = consume(service, names, until=lambda: len(customer_texts(service)) >= 2)
    assert customer_texts(service) == ["is anyone there?", "hello?"]
    assert consumer.stored == 4  # the customers' words; the bot and the button were never published


def test_messages_wait_in_the_durable_queue_while_no_consumer_runs(service, names):
    consume(service, names, until=lambda: True, timeout=0)
    asyncio.run(publish(names, *[user(f"message {n}", f"w-{n}") for n in range(5)]))  # the web app is down
    consume(service, names, until=lambda: len(customer_texts(service)) == 5)
    assert customer_texts(service) == [f"message {n}" for n in range(5)]


def test_a_message_the_service_cannot_store_yet_goes_back_to_the_queue(service, names, monkeypatch):
    consume(service, names, until=lambda: True, timeout=0)
    asyncio.run(publish(names, user("still there?", "r-1")))
    real, failures = service.record_customer_message, []

    def flaky(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise RuntimeError("database is restarting (test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "record_customer_message", flaky)
    consume(service, names, until=lambda: customer_texts(service) == ["still there?"])
    assert len(failures) == 2 and customer_texts(service) == ["still there?"]


def test_rasa_gets_the_queue_broker_when_rabbitmq_is_configured(monkeypatch, tmp_path):
    from rasa.utils.endpoints import EndpointConfig

    from bot.channels.handoff_events import HandoffEventBroker

    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RASA_TOKEN", "t")
    monkeypatch.setenv("IDENTITY_SECRET", "s")

    async def broker_for(url: str):
        monkeypatch.setenv("RABBITMQ_URL", url)
        broker = await HandoffEventBroker.from_endpoint_config(EndpointConfig(), asyncio.get_running_loop())
        if isinstance(broker, QueuedDeskEvents):
            await broker.close()
        return type(broker)

    assert asyncio.run(broker_for(RABBITMQ_URL)) is QueuedDeskEvents
    assert asyncio.run(broker_for("")) is HandoffEventBroker


def test_the_key_names_the_message_not_its_words():
    from bot.channels.handoff_events import desk_words

    first = desk_words(user("hello?", "m-1"))
    assert first[:2] == ("conv-1", "hello?") and len(first[2]) == 64
    assert desk_words(user("hello?", "m-1"))[2] == first[2] != desk_words(user("hello?", "m-2"))[2]
    assert desk_words({"event": "bot", "text": "hi"}) is None and desk_words(user("/affirm", "m-3")) is None
