"""When to hand off after a customer's message: a request for a person in words the NLU did not
classify as one, frustration over the conversation, or a topic people handle.

Pure functions over Rasa's JSON events (dicts), shared by the Rasa policy that acts on them
(bot/policies/handoff_policy.py) and the handoff action that explains them in the context
packet. The other triggers (the `request_human` intent and button, failed fallback, knowledge-base
misses) are decided where they happen, in the rules and actions, with the numbers from handoff.yml.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from bot.embeddings import DIMENSION, MODEL_NAME, SHARED_EMBEDDING_KEY, shared_vector
from bot.handoff.frustration import FrustrationRules, FrustrationVerdict, TurnSignal, conversation_frustration
from bot.handoff.models import CUSTOMER_REQUEST, FRUSTRATED, POLICY_TOPIC
from bot.handoff.person_request import asks_for_person
from bot.handoff.rules import HandoffRules

# Messages that are not the customer speaking their mind (button payloads are skipped too, "/answer_helped"
# among them). A rating typed in words is the customer's own ("Super helpful, thanks so much" after steps they had
# already tried, read as `answer_helped`): its frustration counts like any message's.
IGNORED_INTENTS = ("handoff_resolved", "csat_rating", "nps_score", "proactive_message")
# The customer's rating that an answer did not help: the message after it is read as following a failure.
ANSWER_FAILED_INTENTS = ("answer_not_helpful",)
# Inside a form, answers to its questions count only with an unmistakable cue.
FORM_ANSWERS = ("inform", "affirm", "deny")
STRONG_CUES = {"caps", "profanity", "repeat_ask", "sarcasm", "threat_legal", "upset"}
# Rasa's "did you mean ...?" loop: the customer's next words restate the message it did not understand.
CLARIFY_LOOP = "action_two_stage_fallback"
# A handoff (or its offer) starts the count afresh: frustration that led to one is not counted twice.
RESET_ACTIONS = ("action_handoff",)


@dataclass(frozen=True)
class Trigger:
    reason: str
    detail: str
    score: float = 0.0


def conversation_turns(events: Iterable[Mapping[str, Any]]) -> List[TurnSignal]:
    """The customer's messages since the last handoff, with their per-message frustration from the NLU pipeline.

    A message Rasa takes back ("rewind", UserUtteranceReverted: the two-stage fallback does it, then logs the
    clarified message again) is dropped, so one message is not counted twice (nor as a repetition). The
    clarified message is marked as restating the one before it: asked "did you mean ...?", the customer
    said the same thing again in other words.
    """
    turns: List[TurnSignal] = []
    counted: List[bool] = []  # per user message since the last reset: whether it is in `turns`
    after_failure = False  # the customer has just said an answer did not help
    loop: Optional[str] = None  # the active form or loop ("did you mean ...?" too), if any
    clarified = False  # the "did you mean ...?" loop just ended: the next message is the customer's restatement
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            clarified = loop == CLARIFY_LOOP and not event.get("name")
            loop = event.get("name") or None
        if (kind == "action" and event.get("name") in RESET_ACTIONS) or kind == "restart":
            turns, counted = [], []
        elif kind == "rewind":
            if counted and counted.pop():
                turns.pop()
        elif kind == "user":
            parse = event.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            if intent == "handoff_resolved":
                turns, counted = [], []
                continue
            text = str(event.get("text") or "")
            if intent in ANSWER_FAILED_INTENTS:
                after_failure = True
            restates = clarified and bool(turns) and text.strip().lower() != turns[-1].text.strip().lower()
            clarified = False
            if not text or text.startswith("/") or intent in IGNORED_INTENTS:
                counted.append(False)
                continue
            frustration = parse.get("frustration") if isinstance(parse.get("frustration"), dict) else {}
            signals = set(frustration.get("signals") or ())
            if loop and intent in FORM_ANSWERS and not signals & STRONG_CUES:
                # an answer to the form's question ("they don't fit my ears") is information, not a mood
                counted.append(False)
                continue
            vector = shared_vector(parse.get(SHARED_EMBEDDING_KEY), MODEL_NAME, DIMENSION)
            turns.append(TurnSignal(text=text, score=float(frustration.get("score") or 0.0),
                                    signals=tuple(frustration.get("signals") or ()), vector=vector,
                                    after_failure=after_failure, restates_previous=restates))
            after_failure = False
            counted.append(True)
    return turns


def frustration_of(turns: Sequence[TurnSignal], rules: HandoffRules) -> FrustrationVerdict:
    return conversation_frustration(turns, FrustrationRules.from_mapping(rules.frustration))


def latest_customer_text(events: Sequence[Mapping[str, Any]]) -> str:
    """The text of the latest customer message ("" for a button payload or none)."""
    for event in reversed(events):
        if event.get("event") == "user":
            text = str(event.get("text") or "")
            return "" if text.startswith("/") else text
    return ""


def decide(events: Sequence[Mapping[str, Any]], rules: HandoffRules) -> Optional[Trigger]:
    """The handoff the latest customer message calls for, if any."""
    # Checked on the raw latest message, form answer or not: a request for a person is always honoured.
    asked = asks_for_person(latest_customer_text(events), rules.company_names)
    if asked:
        return Trigger(CUSTOMER_REQUEST, f'asked for a person ("{asked}")')
    turns = conversation_turns(events)
    if not turns:
        return None
    topic = rules.policy_topic(turns[-1].text)
    if topic:
        return Trigger(POLICY_TOPIC, f"topic handled by people: {topic}")
    verdict = frustration_of(turns, rules)
    if verdict.frustrated:
        why = "; ".join(verdict.reasons) or "negative messages"
        return Trigger(FRUSTRATED, f"customer frustrated ({why})", verdict.score)
    return None
