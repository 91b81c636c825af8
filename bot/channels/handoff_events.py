"""Customer messages that arrive while a person has the conversation reach the agent desk.

Rasa keeps parsing and storing messages while a conversation is paused, but predicts
nothing, so no action sees them. Rasa's event-broker hook does: this broker (registered in
endpoints.yml) hands every customer message to the handoff service, which keeps it only
when the conversation has an open handoff. The desk shows it from there within a second.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.handoff.service import HandoffService

logger = logging.getLogger(__name__)


class HandoffEventBroker(EventBroker):
    def __init__(self, handoff: Optional[HandoffService] = None) -> None:
        self._handoff = handoff

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: Optional[asyncio.AbstractEventLoop] = None) -> "HandoffEventBroker":
        return cls()

    @property
    def handoff(self) -> HandoffService:
        if self._handoff is None:  # built on first use, from the same settings as the other processes
            from bot.container import build_handoff
            from bot.settings import Settings

            self._handoff = build_handoff(Settings.from_env())
        return self._handoff

    def publish(self, event: Dict[Text, Any]) -> None:
        if event.get("event") != "user":
            return
        text = str(event.get("text") or "")
        if not text or text.startswith("/"):  # button payloads are not words for the agent
            return
        try:
            self.handoff.record_customer_message(str(event.get("sender_id")), text)
        except Exception:  # noqa: BLE001 - a broker failure must never break the conversation; the cause is logged
            logger.exception("could not pass a customer message of %s to the agent desk", event.get("sender_id"))
