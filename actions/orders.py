"""Order flows: one form verifies who is asking, then one action per task acts and reports.

The form (`order_form`) asks for the order number and, unless the host site signed the
customer's identity, the email on the order. Only then does it ask what the task needs:
a confirmation to cancel, a new address, or which item to return and how. Each final action
re-checks ownership with the service before revealing or changing anything.
"""
from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import returns
from actions.services import get_services
from actions.verification import (
    MAX_VERIFICATION_FAILURES,
    OrderTaskAction,
    end_of_task,
    missing_capability,
    stop_task_after_failure,
    verified_order,
)
from actions.verification import (
    customer_id_of as _customer_id,
)
from bot.store.catalogue import tracking_url
from bot.store.directory import BackendError
from bot.store.models import Order, OrderStatus
from bot.store.policies import can_cancel, can_change_address
from bot.store.service import (
    ActionNotAllowed,
    IdentityMismatch,
    OrderNotFound,
    TooManyAttempts,
    normalise_email,
    parse_address,
)

logger = logging.getLogger(__name__)

ORDER_NUMBER_IN_TEXT = re.compile(r"(?<!\d)#?\s?(\d{6})(?!\d)")
EMAIL_IN_TEXT = re.compile(r"[^@\s,;:<>()\"']+@[^@\s,;:<>()\"']+\.[A-Za-z]{2,}")

def _day(value: date) -> str:
    return value.strftime("%a, %b %-d")


def describe_order(order: Order) -> str:
    """One short paragraph on where an order stands and what comes next."""
    items = ", ".join(f"{i.quantity} × {i.product}" if i.quantity > 1 else i.product for i in order.items)
    if order.status is OrderStatus.PROCESSING:
        return (f"Order #{order.number} ({items}) is being packed and will ship within 1 business day. "
                f"It's still not too late to change the address or cancel it if you need to.")
    if order.status is OrderStatus.SHIPPED:
        link = tracking_url(order.carrier or "", order.tracking_number or "")
        eta = f", expected {_day(order.estimated_delivery)}" if order.estimated_delivery else ""
        return (f"Good news: order #{order.number} ({items}) is on its way with {order.carrier}{eta}. "
                f"Tracking number {order.tracking_number}: {link}")
    if order.status is OrderStatus.DELIVERED:
        assert order.delivered_at is not None
        return (f"Order #{order.number} ({items}) was delivered on {_day(order.delivered_at.date())} "
                f"to {order.shipping_address.one_line()}. If you can't find it, check around the door and "
                f"with neighbours; carriers sometimes scan early, so give it 48 hours and then tell us.")
    if order.status is OrderStatus.RETURNED:
        return (f"Order #{order.number} ({items}) has come back to us as a return. "
                f"Ask me about the refund if you'd like to know where it stands.")
    cancelled = f" on {_day(order.cancelled_at.date())}" if order.cancelled_at else ""
    return (f"Order #{order.number} ({items}) was cancelled{cancelled}, so you weren't charged. "
            f"Any hold on your {order.payment_method} drops off within 3–5 business days.")


def task_messages(tracker: Tracker) -> List[str]:
    """What the customer wrote for the current task: the message that started the order form and every one since."""
    said: List[str] = []
    started = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            said.append(str(event.get("text") or ""))
            if started:
                return said[::-1]
        elif event.get("event") == "active_loop" and event.get("name") == "order_form":
            started = True
    # the form is starting with this very message (or the log holds no start): that message alone
    return [str(tracker.latest_message.get("text") or "")]


class ValidateOrderForm(FormValidationAction):
    """Verifies ownership, then asks what the task (order_flow) needs."""

    def name(self) -> Text:
        return "validate_order_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        # order_flow follows the intent of every message, so an answer inside the form
        # ("refund" when asked refund or exchange) would switch the task. The task the form
        # started with is kept in form_flow and wins until the form ends.
        locked, current = tracker.get_slot("form_flow"), tracker.get_slot("order_flow")
        if locked is None or tracker.get_slot("requested_slot") is None:  # the form is starting
            events: List[EventType] = [SlotSet("form_flow", current)]
            if missing_capability(current):
                # Nothing is asked that the backend could not use: the form ends here, and the task's action
                # says what we can do instead and offers a person.
                return events + [SlotSet("requested_slot", None)]
        elif current != locked:
            tracker.slots["order_flow"] = locked
            events = [SlotSet("order_flow", locked)]
        else:
            events = []
        try:
            return events + await super().run(dispatcher, tracker, domain)
        except BackendError as error:  # every check of the order asks the backend
            return stop_task_after_failure(error, dispatcher, tracker, "verifying an order")

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if (tracker.get_slot("verification_failures") or 0) >= MAX_VERIFICATION_FAILURES:
            return []  # the task's action explains that we cannot go on
        slots = ["order_number"] if _customer_id(tracker) else ["order_number", "email"]
        number = tracker.get_slot("order_number")
        if not number or tracker.get_slot("verified_order") != number:
            return slots
        order = verified_order(tracker)
        if order is None:
            return slots
        flow = tracker.get_slot("order_flow")
        if flow == "cancel" and can_cancel(order):
            slots.append("confirm_cancel")
        elif flow == "address" and can_change_address(order):
            slots.append("new_address")
        elif flow == "return" and get_services().orders.return_decision(order).allowed:
            slots.append("return_item")
            limit = get_services().handoff.rules.damaged_item_value
            if not returns.damage_claim_for_people(order, tracker.get_slot("return_item"), tracker.get_slot("return_reason"), limit):
                slots.extend(["return_kind", "return_reason"])
        return slots

    @staticmethod
    def _prefill(tracker: Tracker, number: str) -> Dict[Text, Any]:
        if tracker.get_slot("order_flow") != "return":
            return {}
        order = get_services().directory.get_order(number)
        return returns.prefill(order, task_messages(tracker)) if order else {}

    def _failure(self, tracker: Tracker, dispatcher: CollectingDispatcher, message: str) -> Dict[Text, Any]:
        failures = (tracker.get_slot("verification_failures") or 0) + 1
        if failures < MAX_VERIFICATION_FAILURES:
            dispatcher.utter_message(text=message)
        return {"verification_failures": failures}

    @staticmethod
    def _locked(tracker: Tracker, number: str) -> Dict[Text, Any]:
        """Too many failed checks of this email or order across conversations: the form ends, and the task's
        action says that a person can help (not_verified_message), without saying which detail was wrong."""
        logger.warning("order verification for %s refused in %s: too many recent failures", number, tracker.sender_id)
        return {"order_number": None, "verified_order": None, "verification_failures": MAX_VERIFICATION_FAILURES}

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        match = ORDER_NUMBER_IN_TEXT.search(str(value or ""))
        customer_id = _customer_id(tracker)
        earlier = tracker.get_slot("verified_order")
        if not match and earlier and not customer_id and tracker.get_slot("email"):
            # The only order offered (ActionAskOrderNumber's one button) is the one this conversation
            # already verified: a customer who types their question again instead of clicking means it.
            match = ORDER_NUMBER_IN_TEXT.search(str(earlier))
        if not match:
            dispatcher.utter_message(
                text="That doesn't look like an order number. It's the six digits in your "
                     "confirmation email, like 104512.")
            return {"order_number": None}
        number = match.group(1)
        orders = get_services().orders
        if customer_id:
            try:
                orders.verify(number, customer_id=customer_id)
            except OrderNotFound:
                return {"order_number": None, "verified_order": None, **self._failure(
                    tracker, dispatcher,
                    f"I can't find order #{number} on your account. Could you check the number?")}
            return {"order_number": number, "verified_order": number, **self._prefill(tracker, number)}
        if not orders.order_exists(number):
            return {"order_number": None, "verified_order": None, **self._failure(
                tracker, dispatcher,
                f"I can't find an order #{number}. Could you check the number? It's in your "
                f"confirmation email.")}
        email = tracker.get_slot("email")
        if email and tracker.get_slot("requested_slot") != "email":
            try:
                orders.verify(number, email=email)
                return {"order_number": number, "verified_order": number, **self._prefill(tracker, number)}
            except TooManyAttempts:
                return self._locked(tracker, number)
            except IdentityMismatch:
                dispatcher.utter_message(
                    text=f"Order #{number} isn't linked to the email you gave me earlier.")
                return {"order_number": number, "verified_order": None, "email": None}
        return {"order_number": number, "verified_order": None}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        match = EMAIL_IN_TEXT.search(str(value or ""))
        email = normalise_email(match.group(0)) if match else None
        if not email:
            dispatcher.utter_message(
                text="That doesn't look like an email address. Could you type it again, like name@example.com?")
            return {"email": None}
        number = tracker.get_slot("order_number")
        match_number = ORDER_NUMBER_IN_TEXT.search(str(number or ""))
        if not match_number:
            return {"email": email}
        try:
            get_services().orders.verify(match_number.group(1), email=email)
        except OrderNotFound:
            return {"email": email}
        except TooManyAttempts:
            return {"email": None, **self._locked(tracker, match_number.group(1))}
        except IdentityMismatch:
            return {"email": None, "verified_order": None, **self._failure(
                tracker, dispatcher,
                f"That email doesn't match order #{match_number.group(1)}. Could you check it? "
                f"It's the address the order confirmation was sent to.")}
        return {"email": email, "verified_order": match_number.group(1), "verification_failures": 0,
                **self._prefill(tracker, match_number.group(1))}

    def validate_confirm_cancel(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if isinstance(value, bool):
            return {"confirm_cancel": value}
        dispatcher.utter_message(text="Sorry, was that a yes or a no?")
        return {"confirm_cancel": None}

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        order = verified_order(tracker)
        name = order.shipping_address.name if order else ""
        address = parse_address(str(value or ""), name)
        if address is None:
            dispatcher.utter_message(
                text="I couldn't read that as a US address. Please write it on one line with street, "
                     "city, state and ZIP, like: 12 Oak Street, Springfield, IL 62704")
            return {"new_address": None}
        return {"new_address": address.one_line()}

    def validate_return_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return returns.validate_item(value, verified_order(tracker), dispatcher)

    def validate_return_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return returns.validate_kind(value, dispatcher)

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return returns.validate_reason(value, dispatcher)

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Asked why, a customer who types "I changed my mind" (rather than clicking the button of that name) is
        read by the NLU as `stop`, which the slot's text mapping leaves alone so that a real "stop" ends the
        return. A reason stated in those words is taken; anything else still stops."""
        if tracker.get_slot("requested_slot") != "return_reason" or tracker.latest_message.get("intent", {}).get("name") != "stop":
            return {}
        reason = returns.reason_read_as_stop(str(tracker.latest_message.get("text") or ""))
        return {"return_reason": reason} if reason else {}


class ActionAskOrderNumber(Action):
    """Asks for the order number; a recognised customer just picks one of their orders."""

    def name(self) -> Text:
        return "action_ask_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        customer_id = _customer_id(tracker)
        try:
            orders = get_services().orders.recent_orders(customer_id) if customer_id else []
            if not orders:
                last = verified_order(tracker)
                orders = [last] if last else []
        except BackendError as error:
            # The buttons are a convenience: the number can still be typed, and its check says if the backend
            # is still down.
            logger.warning("conversation %s: no orders to offer, the order backend failed: %s", tracker.sender_id, error)
            orders = []
        if not orders:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        dispatcher.utter_message(
            text="Which order is this about? Pick one below or type the order number.",
            buttons=[
                {
                    "title": f"#{o.number} · {o.items[0].product}{' + more' if len(o.items) > 1 else ''} · {o.status.value}",
                    "payload": f'/inform{{"order_number": "{o.number}"}}',
                }
                for o in orders
            ],
        )
        return []


class ActionOrderStatus(OrderTaskAction):
    flow = "status"

    def name(self) -> Text:
        return "action_order_status"

    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        dispatcher.utter_message(text=describe_order(order))


class ActionRefundStatus(OrderTaskAction):
    flow = "refund"

    def name(self) -> Text:
        return "action_refund_status"

    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        summary = get_services().orders.refund_summary(order)
        dispatcher.utter_message(text=returns.describe_refunds(summary))


class ActionCancelOrder(OrderTaskAction):
    flow = "cancel"

    def name(self) -> Text:
        return "action_cancel_order"

    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        if not can_cancel(order):
            dispatcher.utter_message(text=self._cannot_cancel(order))
            return
        if tracker.get_slot("confirm_cancel") is not True:
            dispatcher.utter_message(text=f"No problem, order #{order.number} stays as it is.")
            return
        try:
            cancelled = get_services().orders.cancel(order)
        except ActionNotAllowed:  # it shipped while we were talking
            dispatcher.utter_message(text=self._cannot_cancel(order))
            return
        dispatcher.utter_message(
            text=f"Done: order #{cancelled.number} is cancelled. You weren't charged; any hold on your "
                 f"{cancelled.payment_method} drops off within 3–5 business days. A confirmation is on "
                 f"its way by email.")

    @staticmethod
    def _cannot_cancel(order: Order) -> str:
        if order.status is OrderStatus.SHIPPED:
            return (f"Order #{order.number} has already shipped with {order.carrier}, so it can't be "
                    f"cancelled any more. Here's what we can do: you can refuse the delivery, or once it "
                    f"arrives I can set up a free return (you have 30 days from delivery).")
        if order.status is OrderStatus.DELIVERED:
            return (f"Order #{order.number} has already been delivered, so there's nothing to cancel, "
                    f"but I can help you return it. Just say \"return\".")
        return f"Order #{order.number} is already {order.status.value}, so there's nothing to cancel."


class ActionChangeAddress(OrderTaskAction):
    flow = "address"

    def name(self) -> Text:
        return "action_change_address"

    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        address = parse_address(tracker.get_slot("new_address") or "", order.shipping_address.name)
        try:
            if not can_change_address(order) or address is None:
                raise ActionNotAllowed(order.status.value, order)
            updated = get_services().orders.change_address(order, address)
        except ActionNotAllowed:
            dispatcher.utter_message(text=self._cannot_change(order))
            return
        dispatcher.utter_message(
            text=f"Updated: order #{updated.number} will ship to {updated.shipping_address.one_line()}.")

    @staticmethod
    def _cannot_change(order: Order) -> str:
        if order.status is OrderStatus.SHIPPED:
            redirect = "UPS My Choice" if order.carrier == "UPS" else "FedEx Delivery Manager" \
                if order.carrier == "FedEx" else "USPS Package Intercept"
            return (f"Order #{order.number} is already on its way with {order.carrier}, so I can't change "
                    f"the address here. Here's what we can do: redirect it yourself with {redirect} using "
                    f"tracking number {order.tracking_number}: {tracking_url(order.carrier or '', order.tracking_number or '')}")
        return (f"Order #{order.number} is already {order.status.value}, so its delivery address can't be "
                f"changed any more.")


class ActionStopOrderTask(Action):
    """The customer abandons an order task midway: forget its half-answered questions."""

    def name(self) -> Text:
        return "action_stop_order_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_flow_stopped")
        return end_of_task()
