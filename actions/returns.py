"""Returns, exchanges and refunds: which item, refund or exchange, why; and where the money is."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_off
from actions.services import get_services
from actions.verification import OrderTaskAction, stop_task_after_failure, verified_order
from bot.handoff.models import POLICY_TOPIC
from bot.store.directory import BackendError
from bot.store.models import Order, money
from bot.store.service import ActionNotAllowed, RefundSummary

KINDS = {
    "refund": ("refund", "money back", "money", "return", "reimburse"),
    "exchange": ("exchange", "swap", "replace", "replacement", "different", "another"),
}
REASONS = {
    "damaged or faulty": ("damag", "broke", "faulty", "defect", "not work", "doesn't work", "stopped work", "dead", "crack"),
    "wrong item received": ("wrong",),
    "does not suit me": ("fit", "suit", "like", "size", "colour", "color"),
    "changed my mind": ("mind", "no longer", "don't need", "dont need", "not needed"),
}


def prefill(order: Order, said: Sequence[str] = ()) -> Dict[Text, Any]:
    """Slots a return needs that the order or the customer already answered: a single item needs no
    question, and neither does an item the customer named ("I want to return my Wavelet Buds Pro from
    103877"; the longest product name wins, so "Wavelet Buds Pro" is not taken for "Wavelet Buds")."""
    if len(order.items) == 1:
        return {"return_item": order.items[0].sku}
    text = " ".join(said).lower()
    named = [item for item in order.items if item.product.lower() in text]
    if named:
        return {"return_item": max(named, key=lambda item: len(item.product)).sku}
    return {}


def damage_claim_for_people(order: Order, sku: Optional[str], reason: Optional[str], limit: float) -> bool:
    """Whether this return is a damaged-item claim on an item worth more than `limit` dollars
    (handoff.yml `damaged_item_value`): a person handles those, so refund or exchange is theirs to settle."""
    item = order.item(sku or "")
    return bool(item and reason == "damaged or faulty" and item.unit_price_cents * item.quantity > limit * 100)


def validate_item(value: Any, order: Optional[Order], dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    """Accept a SKU or (part of) a product name from the verified order."""
    if order is None:
        return {"return_item": None}
    text = str(value or "").strip().lower()
    for item in order.items:
        if text == item.sku.lower() or (len(text) >= 3 and (text in item.product.lower() or item.product.lower() in text)):
            return {"return_item": item.sku}
    dispatcher.utter_message(text="Sorry, which item? Please pick one of the buttons.")
    return {"return_item": None}


def validate_kind(value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    text = str(value or "").lower()
    for kind, words in KINDS.items():
        if any(word in text for word in words):
            return {"return_kind": kind}
    dispatcher.utter_message(text="Would you like your money back (refund), or the same item again or another one (exchange)?")
    return {"return_kind": None}


# A reason typed in words the NLU reads as `stop` ("I changed my mind", "don't need it any more"). Asked why they
# are returning something, that is the answer; "never mind" or "don't want to return it" is not a reason.
_REASON_READ_AS_STOP = re.compile(
    r"\b(?:changed? (?:my|our) minds?|(?:don'?t|do not|no longer) (?:need|want) (?:it|them|this|that)(?:\s|[.!,]|$)|"
    r"no longer (?:need|want)(?:ed)?\b(?! to))",
    re.IGNORECASE,
)


def reason_read_as_stop(text: str) -> Optional[str]:
    """The return reason in a message the NLU classified as `stop`, if it states one."""
    if not _REASON_READ_AS_STOP.search(text or ""):
        return None
    return validate_reason(text, CollectingDispatcher())["return_reason"]


def validate_reason(value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    text = " ".join(str(value or "").split())[:200]
    if not text:
        return {"return_reason": None}
    for reason, words in REASONS.items():
        if any(word in text.lower() for word in words):
            return {"return_reason": reason}
    return {"return_reason": text}  # their own words, kept for the team


class ActionAskReturnItem(Action):
    """Which item to return (an order with one item never gets here: see `prefill`)."""

    def name(self) -> Text:
        return "action_ask_return_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            order = verified_order(tracker)
        except BackendError as error:
            return stop_task_after_failure(error, dispatcher, tracker, "listing an order's items")
        if order is None:
            return []
        dispatcher.utter_message(
            text=f"Which item from order #{order.number} would you like to send back?",
            buttons=[
                {"title": item.product, "payload": f'/inform{{"return_item": "{item.sku}"}}'}
                for item in order.items
            ],
        )
        return []


class ActionStartReturn(OrderTaskAction):
    flow = "return"

    def name(self) -> Text:
        return "action_start_return"

    def act(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
        services = get_services()
        orders = services.orders
        decision = orders.return_decision(order)
        if not decision.allowed:
            dispatcher.utter_message(text=cannot_return(order, decision.reason, decision.deadline))
            return
        sku, kind, reason = (tracker.get_slot(s) for s in ("return_item", "return_kind", "return_reason"))
        item = order.item(sku or "")
        limit = services.handoff.rules.damaged_item_value
        if item and damage_claim_for_people(order, sku, reason, limit):
            # costly damage claims are checked by a person (handoff.yml damaged_item_value); the form did not
            # ask refund or exchange: the person settles that with the customer
            value_cents = item.unit_price_cents * item.quantity
            dispatcher.utter_message(text=f"I'm sorry it arrived like that. For a damaged {item.product} I'd like a person from "
                                          "our team to sort this out with you, so it's done right the first time.")
            return hand_off(POLICY_TOPIC, f"damaged-item claim on the {item.product} ({money(value_cents)}), "
                                          f"order {order.number}: over {money(int(limit * 100))}")
        if not (item and kind and reason):
            dispatcher.utter_message(text="Let's try that again. Which order would you like to return?")
            return
        try:
            authorisation = orders.start_return(order, item.sku, kind, reason)
        except ActionNotAllowed as refused:
            dispatcher.utter_message(text=cannot_return(order, refused.reason, decision.deadline))
            return
        follow_up = (
            "We'll ship the replacement as soon as the carrier scans your parcel."
            if kind == "exchange"
            else f"Your refund of {money(item.unit_price_cents * item.quantity)} goes back to your "
                 f"{order.payment_method} within 2 business days of the item reaching us."
        )
        opener = "I'm sorry it arrived like that. " if reason == "damaged or faulty" else ""
        dispatcher.utter_message(
            text=f"{opener}Your return {authorisation.number} for the {authorisation.product} is set up. "
                 f"A free prepaid UPS label is on its way by email; drop the parcel at any UPS location. "
                 f"{follow_up}")


def cannot_return(order: Order, reason: str, deadline: Any) -> str:
    """Why this order can't be returned, and what we can do instead."""
    if reason == "not_shipped":
        return (f"Order #{order.number} hasn't shipped yet, so there's nothing to send back. "
                f"Here's what we can do: I can cancel it for you instead. Just say \"cancel my order\".")
    if reason == "in_transit":
        return (f"Order #{order.number} is still on its way. Once it's delivered you'll have 30 days to return "
                f"it for free. If you don't want it at all, you can also refuse the delivery.")
    if reason == "window_closed":
        return (f"The 30-day return window for order #{order.number} closed on {deadline:%b %-d, %Y}. "
                f"Here's what we can do: if something is wrong with it, it's covered by our 1-year warranty "
                f"and we can repair or replace it. Ask me about a warranty claim.")
    if reason == "already_started":
        return (f"A return for that item on order #{order.number} is already set up; the label was emailed "
                f"to you. Ask me about your refund any time to see where it stands.")
    if reason == "already_returned":
        return f"Order #{order.number} has already been returned. Ask me about the refund to see where it stands."
    return f"Order #{order.number} was cancelled, so there's nothing to return."


def describe_refunds(summary: RefundSummary) -> str:
    order = summary.order
    if not summary.refunds:
        if order.status.value in ("processing", "shipped", "delivered") and not summary.returns:
            return (f"There's no refund on order #{order.number}: it hasn't been returned or cancelled. "
                    f"If you'd like to send something back, I can start a return.")
        return f"I don't see a refund on order #{order.number} yet."
    lines = []
    for refund in summary.refunds:
        amount = money(refund.amount_cents)
        if refund.status == "issued" and refund.issued_at:
            if order.status.value == "cancelled":
                lines.append(f"Order #{order.number} was cancelled before it shipped, so your {refund.method} "
                             f"was never charged for {amount}; the hold is released.")
            else:
                arrives = (refund.issued_at + timedelta(days=7)).strftime("%b %-d")
                lines.append(f"We refunded {amount} to your {refund.method} on {refund.issued_at:%b %-d}. "
                             f"Banks usually take 3–5 business days to show it, so look for it by {arrives}.")
        else:
            received = any(ra.status == "received" for ra in summary.returns)
            if received:
                lines.append(f"Your return reached our warehouse. The refund of {amount} to your {refund.method} "
                             f"is being processed and goes out within 2 business days.")
            else:
                lines.append(f"The refund of {amount} to your {refund.method} starts as soon as the item reaches "
                             f"our warehouse: within 2 business days of arrival, then 3–5 days for your bank.")
    return " ".join(lines)
