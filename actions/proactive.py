"""Proactive messages in the conversation: the turn an order event triggers, "stop these messages", and what a
customer who comes back is told (bot/proactive/service.py decides; these only translate)."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.services import get_services
from actions.verification import customer_id_of
from bot.handoff.rasa_gateway import DELIVERY_ID

logger = logging.getLogger(__name__)


def _delivery_id(tracker: Tracker) -> Optional[str]:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == DELIVERY_ID and entity.get("value"):
            return str(entity["value"])
    return None


class ActionProactiveMessage(Action):
    """Says the order event the web app triggered (bot/proactive/delivery.py), as the live conversation allows: its
    details only when this session's verified customer owns the order, then keeps the order for the next question."""

    def name(self) -> Text:
        return "action_proactive_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        proactive = get_services().proactive
        message = proactive.message_for(_delivery_id(tracker) or "") if proactive else None
        if message is None:  # typed by a customer, or a message this app database does not know: nothing to say
            logger.info("conversation %s: a proactive turn without a known message", tracker.sender_id)
            return []
        customer_id = customer_id_of(tracker)
        events: List[EventType] = []
        if customer_id is None:
            carried = identity_carried_over(tracker)
            if carried is not None and carried == message.customer_id:
                customer = get_services().orders.customer(carried)
                customer_id = carried
                events = [SlotSet("customer_id", carried), SlotSet("customer_verified", True),
                          SlotSet("customer_first_name", customer.first_name if customer else None)]
        if proactive.opted_out(tracker.sender_id, customer_id):  # they said stop after it was sent
            return []
        composed = proactive.compose(message, customer_id)
        dispatcher.utter_message(text=composed.text, buttons=list(composed.buttons))
        if composed.order_number is None:
            return []
        # "it says delayed" next continues the order-status flow for this order: the form finds it filled and verified
        return events + [SlotSet("order_number", composed.order_number), SlotSet("verified_order", composed.order_number)]


def identity_carried_over(tracker: Tracker) -> Optional[str]:
    """The verified customer of the conversation's previous session, when this session was started by the proactive
    trigger itself (nobody has written in it yet); None otherwise.

    A message due a day later finds the customer's session expired, and Rasa starts a new one for the trigger without
    the signed identity the widget sends with each message. The conversation is still that customer's alone: the
    widget keeps one conversation per signed-in customer and starts another when someone else signs in or nobody is,
    and a Slack DM is one user's. So the identity is carried into the session the trigger opened, as every other slot
    is; a session in which anyone has written keeps only the identity it proved itself."""
    events = tracker.events or []
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    if len(starts) < 2:
        return None
    for event in events[starts[-1]:]:
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if event.get("event") == "user" and intent != "proactive_message":
            return None
    customer = verified = None
    for event in events[starts[-2]:starts[-1]]:
        if event.get("event") == "slot" and event.get("name") == "customer_id":
            customer = event.get("value")
        elif event.get("event") == "slot" and event.get("name") == "customer_verified":
            verified = event.get("value")
    return str(customer) if customer and verified is True else None


class ActionProactiveOptOut(Action):
    def name(self) -> Text:
        return "action_proactive_opt_out"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        proactive = get_services().proactive
        if proactive is not None:
            proactive.opt_out(tracker.sender_id, customer_id_of(tracker))
        dispatcher.utter_message(text="Done: I won't send you order updates or reminders any more. You can still ask me "
                                      "about your orders here any time.")
        return []


def welcome_back(dispatcher: CollectingDispatcher, conversation_id: str, customer_id: Optional[str]) -> None:
    """At a session start: remember where a verified customer can be reached, and tell a customer who comes back what
    happened while they were away (an offline request answered, a conversation with a person finished)."""
    services = get_services()
    proactive = services.proactive
    if proactive is None:
        return
    try:
        email = None
        if customer_id:
            proactive.note_contact(customer_id, conversation_id)
            customer = services.orders.customer(customer_id)
            email = customer.email if customer else None
        for text in proactive.follow_ups(conversation_id, customer_id, email):
            dispatcher.utter_message(text=text)
    except SQLAlchemyError as error:  # the app database is down: the session starts all the same
        logger.error("conversation %s: proactive contact and follow-ups skipped: %s", conversation_id, error)
