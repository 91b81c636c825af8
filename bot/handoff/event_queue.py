"""Customer messages for the agent desk through RabbitMQ (RABBITMQ_URL): Rasa publishes, the web app consumes.

With several Rasa workers the desk must not depend on which worker took a message, and the app database should
not be written from inside Rasa's event loop. Rasa's own Pika event broker publishes each customer message to a
durable queue (`QueuedDeskEvents`, chosen by bot/channels/handoff_events.py); `DeskEventConsumer`, run by the web
app, hands each to the handoff service and acknowledges it only once it is stored. RabbitMQ delivers at least
once (a consumer that dies before its acknowledgement gets the message again), so each message carries a key and
the service records it once (handoff_event_keys). A message that cannot be stored now (the app database
restarting) goes back to the queue; one that can never be read is logged and dropped.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any, Dict, Optional, Text
from urllib.parse import unquote, urlparse

import aio_pika
import rasa.shared.core.events  # noqa: F401 - Rasa's broker uses it by attribute, without importing it
from rasa.core.brokers.pika import PikaEventBroker

from bot.channels.handoff_events import desk_words
from bot.handoff.service import HandoffService

logger = logging.getLogger(__name__)
QUEUE = "support_desk_events"
EXCHANGE = "support_events"
RETRY_SECONDS = 1.0  # a message the service could not store waits this long before it goes back to the queue


def _parts(url: str) -> Dict[str, Any]:
    parsed = urlparse(url)
    return {"host": url, "username": unquote(parsed.username or "guest"), "password": unquote(parsed.password or "guest"),
            "port": parsed.port or 5672}


class QueuedDeskEvents(PikaEventBroker):
    """Rasa's Pika event broker (robust connection, unpublished messages kept and sent on reconnection,
    persistent messages on a durable queue), publishing only what the desk needs: customers' words."""

    def __init__(self, url: str, queue: str = QUEUE, exchange: str = EXCHANGE,
                 event_loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        super().__init__(queues=[queue], exchange_name=exchange, event_loop=event_loop, **_parts(url))

    def publish(self, event: Dict[Text, Any], headers: Optional[Dict[Text, Text]] = None) -> None:
        if desk_words(event) is not None:
            super().publish(event, headers)


class DeskEventConsumer:
    def __init__(self, url: str, handoff: HandoffService, queue: str = QUEUE, exchange: str = EXCHANGE) -> None:
        self.url, self.handoff, self.queue, self.exchange = url, handoff, queue, exchange
        self.stored = 0  # messages handed to the service (recorded, or known already)

    async def run(self, stopping: threading.Event) -> None:
        """Consume until `stopping` is set; reconnects by itself when RabbitMQ restarts (aio-pika's robust connection)."""
        connection = await self._connect(stopping)
        if connection is None:
            return
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=16)
            # declared as Rasa's broker declares them, so either may start first without losing a message
            exchange = await channel.declare_exchange(self.exchange, type=aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "")
            # one at a time, in the queue's order: a customer's messages must reach the agent in the order written
            arrived: "asyncio.Queue[aio_pika.abc.AbstractIncomingMessage]" = asyncio.Queue()
            await queue.consume(arrived.put)
            logger.info("consuming the desk's customer messages from RabbitMQ queue %s", self.queue)
            while not stopping.is_set():
                try:
                    message = await asyncio.wait_for(arrived.get(), 0.2)
                except asyncio.TimeoutError:
                    continue
                await self._handle(message)

    async def _connect(self, stopping: threading.Event) -> Optional[aio_pika.abc.AbstractRobustConnection]:
        delay = 1.0
        while not stopping.is_set():
            try:
                return await aio_pika.connect_robust(self.url)
            except Exception as error:  # noqa: BLE001 - RabbitMQ not up yet: say so, keep trying
                logger.error("RabbitMQ at %s is not answering (%s); trying again in %.0f s", _safe(self.url), error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)
        return None

    async def _handle(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
            words = desk_words(event) if isinstance(event, dict) else None
        except (ValueError, UnicodeDecodeError) as error:
            logger.error("dropped an unreadable message from queue %s: %s", self.queue, error)
            await message.reject(requeue=False)
            return
        try:
            if words is not None:
                await asyncio.get_running_loop().run_in_executor(None, lambda: self.handoff.record_customer_message(*words))
        except Exception:  # noqa: BLE001 - e.g. the app database restarting: the message goes back to the queue
            logger.exception("could not pass a customer message of %s to the desk; it stays queued", words[0] if words else "?")
            await asyncio.sleep(RETRY_SECONDS)
            await message.nack(requeue=True)
            return
        await message.ack()
        self.stored += 1


def _safe(url: str) -> str:
    """The URL without its password, for the log."""
    parsed = urlparse(url)
    return parsed._replace(netloc=parsed.hostname + (f":{parsed.port}" if parsed.port else "")).geturl() if parsed.hostname else url


def consume_in_background(url: str, handoff: HandoffService, stopping: threading.Event) -> threading.Thread:
    """The web app's consumer, on a thread of its own with its own event loop."""
    consumer = DeskEventConsumer(url, handoff)
    thread = threading.Thread(target=lambda: asyncio.run(consumer.run(stopping)), name="desk-events", daemon=True)
    thread.start()
    return thread
