"""What every order task shares: the verified order, and tidying up when a task ends."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_services
from actions.wording import TEAM_CONTACT
from bot.errors import NotFound
from bot.store.models import Order
from bot.store.service import IdentityMismatch, TooManyAttempts, VerificationRequired

logger = logging.getLogger(__name__)

MAX_VERIFICATION_FAILURES = 3

# Slots a finished task clears. The verified order and email stay, so the customer never has
# to repeat them for the next question; order_flow stays too, because Rasa's rules check it
# again when they predict the listen that follows the task's last action.
TASK_SLOTS = ("form_flow", "order_number", "confirm_cancel", "new_address",
              "return_item", "return_kind", "return_reason", "requested_slot")


def end_of_task() -> List[EventType]:
    return [SlotSet(slot, None) for slot in TASK_SLOTS]


def verified_order(tracker: Tracker) -> Optional[Order]:
    """The order this conversation proved it owns, re-checked against the store; None otherwise."""
    number = tracker.get_slot("verified_order")
    if not number:
        return None
    try:
        return get_services().orders.verify(
            number, email=tracker.get_slot("email"), customer_id=customer_id_of(tracker)
        )
    except (NotFound, IdentityMismatch, VerificationRequired, TooManyAttempts):
        logger.warning("verified_order %s no longer verifies for %s", number, tracker.sender_id)
        return None


def customer_id_of(tracker: Tracker) -> Optional[str]:
    return tracker.get_slot("customer_id") if tracker.get_slot("customer_verified") else None


def not_verified_message(tracker: Tracker) -> str:
    if (tracker.get_slot("verification_failures") or 0) >= MAX_VERIFICATION_FAILURES:
        return ("I'm sorry, I couldn't confirm that order is yours, so for your security I can't share or "
                "change its details here. Our team can help: " + TEAM_CONTACT)
    return "I wasn't able to look that order up. Could you give me the order number again?"




class OrderTaskAction(Action, ABC):
    """The last step of an order task: re-check ownership, act, clear the task's slots.

    Abstract, so rasa-sdk does not register it as an action of its own.
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        order = verified_order(tracker)
        if order is None:
            dispatcher.utter_message(text=not_verified_message(tracker))
            return end_of_task()
        return end_of_task() + list(self.act(order, dispatcher, tracker) or [])

    @abstractmethod
    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
        """Do the task for the verified order and tell the customer; may return events (e.g. a handoff)."""
