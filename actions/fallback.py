"""Two-stage fallback: ask whether we understood, in words a customer recognises."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

# What each intent means to a customer ("Did you want to ...?").
DESCRIPTIONS: Dict[str, str] = {
    "order_status": "check where an order is",
    "return_or_exchange": "return or exchange an item",
    "cancel_order": "cancel an order",
    "change_shipping_address": "change a delivery address",
    "refund_status": "check on a refund",
    "damaged_or_faulty_item": "report an item that arrived damaged or faulty",
    "billing_problem": "sort out a problem with a charge",
    "ask_question": "ask a question about our products or policies",
    "request_human": "talk to a person from our team",
    "complain": "tell us something went wrong",
    "give_feedback": "give us feedback",
    "greet": "say hello",
    "goodbye": "end the chat",
    "thanks": "say thanks",
    "bot_challenge": "know whether you're talking to a bot",
}


class ActionDefaultAskAffirmation(Action):
    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [r["name"] for r in ranking if r.get("name") in DESCRIPTIONS]
        if not candidates:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        intent = candidates[0]
        dispatcher.utter_message(
            text=f"Sorry, just to be sure: did you want to {DESCRIPTIONS[intent]}?",
            buttons=[
                {"title": "Yes", "payload": f"/{intent}"},
                # Rasa's two-stage fallback reads out_of_scope as "no, that's not it"
                {"title": "No", "payload": "/out_of_scope"},
            ],
        )
        return []


class ActionDefaultFallback(Action):
    """Rasa runs this when it gives up: after a failed two-stage fallback, or when no policy is sure.

    A failed clarification means the assistant has not understood the customer twice over, so
    a person takes it (handoff.yml `fallback_failed`). Otherwise: say sorry and forget the
    message, as Rasa's own default does.
    """

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        from actions.handoff import hand_off
        from actions.services import get_services
        from bot.handoff.models import NOT_CONFIDENT

        if tracker.active_loop.get("name") == "action_two_stage_fallback" and get_services().handoff.rules.fallback_failed:
            return [ActiveLoop(None), *hand_off(NOT_CONFIDENT, "the assistant did not understand after asking twice")]
        dispatcher.utter_message(response="utter_default")
        return [UserUtteranceReverted()]
