"""Feedback: thanked when it is kind, met with an apology and a way forward when it is not; and after a person
resolved the conversation, "How likely are you to recommend us?" (NPS, 0-10) for the share feedback.yml names.

Who is asked NPS, and whether after the CSAT rating or instead of it, is `FeedbackService.surveys`
(bot/insights/feedback.py); the CSAT actions (actions/handoff.py) call `ask_nps` when it is NPS's turn. The answer
comes as a button (`/nps_score{"rating": "8"}`, in the widget and in Slack alike) or typed ("9 out of 10, Maya
was great"): while the question is open (`nps_pending`) a typed number the NLU reads as a CSAT rating is the NPS
answer too (data/rules/feedback.yml). Words typed with a rating are kept as its comment for the leads' dashboard.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_services
from bot.handoff.models import RESOLVED
from bot.insights.feedback import DETRACTOR, NPS_MAX, NPS_MIN, PROMOTER, nps_band, score_in

NPS_QUESTION = ("How likely are you to recommend us to a friend or colleague? Pick a number from 0 (not at all likely) "
                "to 10 (extremely likely), and tell me why if you like.")
NPS_BUTTONS = [{"title": str(n), "payload": f'/nps_score{{"rating": "{n}"}}'} for n in range(NPS_MIN, NPS_MAX + 1)]
NPS_THANKS = {
    PROMOTER: "Thank you, that's great to hear! Anything else I can help with?",
    DETRACTOR: "Thank you for being honest. I'm sorry we fell short; the team lead reads every answer like this one. "
               "Anything else I can help with?",
}
NPS_THANKS_PASSIVE = "Thank you! Anything else I can help with?"


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


def ask_nps(dispatcher: CollectingDispatcher, lead_in: str = "") -> List[EventType]:
    """Ask the NPS question (after `lead_in`, e.g. the thanks for a CSAT rating); its answer is expected next."""
    dispatcher.utter_message(text=f"{lead_in} {NPS_QUESTION}".strip(), buttons=NPS_BUTTONS)
    return [SlotSet("nps_pending", True)]


def record_rating_comment(tracker: Tracker, survey: str, score: int) -> None:
    """Keep the words the customer typed with a rating (none for a button press or a bare number)."""
    get_services().feedback.record_comment(tracker.sender_id, survey, score, str(tracker.latest_message.get("text") or ""))


def nps_score_of(tracker: Tracker) -> Optional[int]:
    """The 0-10 answer: a button's entity, or the first number from 0 to 10 typed in digits or words."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "rating":
            value = score_in(str(entity.get("value")), NPS_MIN, NPS_MAX)
            if value is not None:
                return value
    return score_in(str(tracker.latest_message.get("text") or ""), NPS_MIN, NPS_MAX)


class ActionRecordNps(Action):
    """The customer's answer to "How likely are you to recommend us?", with what they wrote beside the number."""

    def name(self) -> Text:
        return "action_record_nps"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if not tracker.get_slot("nps_pending"):
            dispatcher.utter_message(text="Thanks! Is there anything I can help you with?")
            return []
        score = nps_score_of(tracker)
        if score is None:
            dispatcher.utter_message(text="Could you pick a number from 0 (not at all likely) to 10 (extremely likely)?",
                                     buttons=NPS_BUTTONS)
            return []
        services = get_services()
        latest = services.handoff.store.latest_handoff(tracker.sender_id)
        services.feedback.record_nps(tracker.sender_id, score, str(tracker.latest_message.get("text") or ""),
                                     handoff_id=latest.id if latest is not None and latest.state == RESOLVED else None)
        dispatcher.utter_message(text=NPS_THANKS.get(nps_band(score), NPS_THANKS_PASSIVE))
        return [SlotSet("nps_pending", False)]
