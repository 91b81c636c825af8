"""Feedback: thanked when it is kind, met with an apology and a way forward when it is not."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher


def frustration_signals(tracker: Tracker) -> set[str]:
    """The signals the NLU's frustration scorer found in the latest message (bot/nlu/frustration.py)."""
    frustration = tracker.latest_message.get("frustration")
    signals = frustration.get("signals") if isinstance(frustration, dict) else None
    return {str(signal) for signal in signals} if isinstance(signals, list) else set()


def sounds_unhappy(tracker: Tracker) -> bool:
    """Whether the NLU's frustration scorer flagged the latest message (`negative`, or sarcasm on it)."""
    return bool(frustration_signals(tracker) & {"negative", "sarcasm"})


class ActionAcknowledgeFeedback(Action):
    """'Thank you for telling us' is the wrong answer to "great job, truly world-class logistics. still
    in transit": feedback the scorer reads as unhappy (often sarcasm, which the NLU files as feedback) gets
    an apology and an offer of what we can do instead."""

    def name(self) -> Text:
        return "action_acknowledge_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_feedback_sorry" if sounds_unhappy(tracker) else "utter_feedback_thanks")
        return []
