"""Customer messages that arrive while a person has the conversation reach the agent desk.

Rasa keeps parsing and storing messages while a conversation is paused, but predicts
nothing, so no action sees them. Rasa's event-broker hook does: this broker (registered in
endpoints.yml) hands every customer message to the handoff service, which keeps it only
when the conversation has an open handoff. The desk shows it from there within a second.

With RABBITMQ_URL set (more than one Rasa worker, issue 17) the broker is Rasa's own Pika event broker instead,
publishing the same customer messages to a durable RabbitMQ queue, and the web app's consumer
(bot/handoff/event_queue.py) hands them to the service there, out of Rasa's event loop; each carries a key, so
a message RabbitMQ delivers twice reaches the desk once.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Dict, Optional, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.handoff.service import HandoffService

logger = logging.getLogger(__name__)


class HandoffEventBroker(EventBroker):
    def __init__(self, handoff: Optional[HandoffService] = None) -> None:
        self._handoff = handoff

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: Optional[asyncio.AbstractEventLoop] = None) -> EventBroker:
        from bot.settings import Settings

        url = Settings.from_env().rabbitmq_url
        if url:
            from bot.handoff.event_queue import QueuedDeskEvents

            broker = QueuedDeskEvents(url, event_loop=event_loop)
            await broker.connect()
            return broker
        return cls()

    @property
    def handoff(self) -> HandoffService:
        if self._handoff is None:  # built on first use, from the same settings as the other processes
            from bot.container import build_handoff
            from bot.settings import Settings

            self._handoff = build_handoff(Settings.from_env())
        return self._handoff

    def publish(self, event: Dict[Text, Any]) -> None:
        words = desk_words(event)
        if words is None:
            return
        try:
            self.handoff.record_customer_message(*words)
        except Exception:  # noqa: BLE001 - a broker failure must never break the conversation; the cause is logged
            logger.exception("could not pass a customer message of %s to the agent desk", event.get("sender_id"))


def desk_words(event: Dict[Text, Any]) -> Optional[Tuple[str, str, str]]:
    """(conversation id, text, key) of a customer message an agent may need to read, or None for anything else.

    The key names the message (Rasa's message id, else its time and text), so it is recorded once however often
    the event arrives."""
    if event.get("event") != "user":
        return None
    text = str(event.get("text") or "")
    if not text or text.startswith("/"):  # button payloads are not words for the agent
        return None
    sender = str(event.get("sender_id"))
    name = event.get("message_id") or f"{event.get('timestamp')}\n{text}"
    return sender, text, hashlib.sha256(f"{sender}\n{name}".encode("utf-8", "replace")).hexdigest()
