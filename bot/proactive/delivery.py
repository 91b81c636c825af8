"""How proactive messages reach a conversation: Rasa's external events over its HTTP API (token-protected).

`trigger_intent` with `output_channel=latest` runs the assistant's turn for the intent as if the customer had
written, on the channel the customer last wrote on: the website's socket.io room (a widget open on the conversation
shows it at once, and it is in the conversation's history) or the Slack DM. What the assistant says is in the
transcript like any turn, and the next customer message continues from it. The trigger carries the message's
`delivery_id`, so a trigger sent again after a timeout is not run again (bot/rasa_durability.py triggering_once).
Rasa ignores a trigger while the conversation is paused for a person, and a form that is asking a question would
take the trigger for the answer: the state is read first and such a conversation is tried again later.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

from bot.handoff.rasa_gateway import DELIVERY_ID, RasaHttpGateway, _path_id

PROACTIVE_INTENT = "proactive_message"  # domain.yml; never typed by a customer (bot/channels/rest.py INTERNAL_INTENTS)


@dataclass(frozen=True)
class ConversationState:
    paused: bool  # a person has the conversation
    active_loop: Optional[str]  # a form is asking the customer something
    customer_id: Optional[str]  # the verified customer of the current session, if any
    verified: bool


class ProactiveGateway(Protocol):
    def conversation_state(self, conversation_id: str) -> ConversationState:
        """The conversation as it stands; GatewayError when the conversation server cannot say."""

    def trigger(self, conversation_id: str, delivery_id: str) -> None:
        """Run the proactive turn in the conversation, on the customer's latest channel, once per `delivery_id`."""


class RasaProactiveGateway(RasaHttpGateway):
    """`ProactiveGateway` over the same HTTP client and error handling as the desk's gateway."""

    def conversation_state(self, conversation_id: str) -> ConversationState:
        tracker = self._request("GET", f"/conversations/{_path_id(conversation_id)}/tracker", None,
                                include_events="NONE").json()
        slots = tracker.get("slots") or {}
        loop = (tracker.get("active_loop") or {}).get("name")
        return ConversationState(paused=bool(tracker.get("paused")), active_loop=loop or None,
                                 customer_id=slots.get("customer_id"), verified=slots.get("customer_verified") is True)

    def trigger(self, conversation_id: str, delivery_id: str) -> None:
        self._post(f"/conversations/{_path_id(conversation_id)}/trigger_intent",
                   {"name": PROACTIVE_INTENT, "entities": {DELIVERY_ID: delivery_id}}, output_channel="latest")
