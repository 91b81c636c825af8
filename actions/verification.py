"""What every order task shares: the verified order, and tidying up when a task ends."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_services
from actions.wording import team_contact
from bot.errors import NotFound
from bot.store.directory import (
    ADDRESS_CHANGES,
    CANCELLATIONS,
    REFUNDS,
    RETURNS,
    BackendError,
    BackendUnavailable,
    CapabilityMissing,
    capabilities_of,
)
from bot.store.models import Order
from bot.store.service import IdentityMismatch, TooManyAttempts, VerificationRequired

logger = logging.getLogger(__name__)

MAX_VERIFICATION_FAILURES = 3

# Slots a finished task clears. The verified order and email stay, so the customer never has
# to repeat them for the next question; order_flow stays too, because Rasa's rules check it
# again when they predict the listen that follows the task's last action.
TASK_SLOTS = ("form_flow", "order_number", "confirm_cancel", "new_address",
              "return_item", "return_kind", "return_reason", "requested_slot")


# What the order backend must be able to do for each task (order_flow); a status look-up needs only look-ups, which
# every backend has (bot/store/directory.py).
FLOW_NEEDS = {"return": RETURNS, "cancel": CANCELLATIONS, "address": ADDRESS_CHANGES, "refund": REFUNDS}
# "What we can do" instead, with the offer of a person (a /request_human button: rules hand off on it).
CANNOT_DO = {RETURNS: "utter_cannot_do_returns", CANCELLATIONS: "utter_cannot_do_cancellations",
             ADDRESS_CHANGES: "utter_cannot_do_address_changes", REFUNDS: "utter_cannot_do_refunds"}


def end_of_task() -> List[EventType]:
    return [SlotSet(slot, None) for slot in TASK_SLOTS]


def missing_capability(flow: Optional[str]) -> Optional[str]:
    """The capability the order backend declares it lacks for this task, if any."""
    needed = FLOW_NEEDS.get(flow or "")
    if needed and needed not in capabilities_of(get_services().directory):
        return needed
    return None


def say_cannot_do(capability: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """What we can do instead of a task the backend cannot do, and a person; the operator sees why in the log."""
    logger.info("conversation %s: the order backend (%s) cannot do %s; offered what it can and a person",
                tracker.sender_id, type(get_services().directory).__name__, capability)
    dispatcher.utter_message(response=CANNOT_DO.get(capability, "utter_order_system_failed"))


def say_backend_failed(error: BackendError, dispatcher: CollectingDispatcher, tracker: Tracker, doing: str) -> None:
    """The backend failed: "try again, or a person" when it is down, "a person" when retrying will not help."""
    if isinstance(error, BackendUnavailable):
        logger.warning("conversation %s: order backend unavailable while %s: %s", tracker.sender_id, doing, error)
        dispatcher.utter_message(response="utter_order_system_unavailable")
    else:  # refused credentials or a request it should have taken: an operator must look, so the whole error
        logger.error("conversation %s: order backend failed while %s: %s", tracker.sender_id, doing, error,
                     exc_info=error)
        dispatcher.utter_message(response="utter_order_system_failed")


def stop_task_after_failure(error: BackendError, dispatcher: CollectingDispatcher, tracker: Tracker,
                            doing: str) -> List[EventType]:
    """Events that end the order form at once after a backend failure, without the task's action (which would
    only ask the failing backend again and say so twice): the customer's next message is listened for."""
    say_backend_failed(error, dispatcher, tracker, doing)
    return end_of_task() + [ActiveLoop(None), FollowupAction("action_listen")]


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
                "change its details here. Our team can help: " + team_contact())
    return "I wasn't able to look that order up. Could you give me the order number again?"




class OrderTaskAction(Action, ABC):
    """The last step of an order task: check the backend can do it, re-check ownership, act, clear the task's slots.

    What the backend cannot do, or cannot do right now, never fails the conversation: the customer hears what we can
    do instead, or to try again, and is offered a person. Abstract, so rasa-sdk does not register it as an action.
    """

    flow: ClassVar[str]  # the order_flow this action finishes (FLOW_NEEDS)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        missing = missing_capability(self.flow)
        if missing:  # nothing about the order is needed, or told, to say so
            say_cannot_do(missing, dispatcher, tracker)
            return end_of_task()
        try:
            order = verified_order(tracker)
            if order is None:
                dispatcher.utter_message(text=not_verified_message(tracker))
                return end_of_task()
            return end_of_task() + list(self.act(order, dispatcher, tracker) or [])
        except CapabilityMissing as refused:  # a backend that refuses more than it declared
            say_cannot_do(refused.capability, dispatcher, tracker)
        except BackendError as error:
            say_backend_failed(error, dispatcher, tracker, f"running {self.name()}")
        return end_of_task()

    @abstractmethod
    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
        """Do the task for the verified order and tell the customer; may return events (e.g. a handoff)."""
