"""Handing the conversation to a person: the queue message, the offline form, the rating afterwards.

Business rules live in bot/handoff (the service and handoff.yml); these actions translate the
tracker into the context packet and the service's answers into messages and events.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.feedback import ask_nps, record_rating_comment
from actions.services import get_services
from bot.container import KnowledgeUnavailable
from bot.errors import NotFound
from bot.handoff.models import CUSTOMER_REQUEST, NOT_CONFIDENT, REASON_LABELS, RESOLVED, QueuePlace, Unavailable
from bot.handoff.packet import PacketInput, build_packet, transcript
from bot.handoff.service import EMAIL, InvalidInput
from bot.handoff.triggers import conversation_turns, frustration_of
from bot.insights.feedback import CSAT, NPS
from bot.insights.log import ANSWERED, RATED
from bot.store.directory import BackendError

logger = logging.getLogger(__name__)

HANDOFF_SLOTS = ("handoff_reason", "handoff_detail")
RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
CSAT_BUTTONS = [{"title": f"{n} {'★' * n}", "payload": f'/csat_rating{{"rating": "{n}"}}'} for n in range(1, 6)]


def hand_off(reason: str, detail: str) -> List[EventType]:
    """Events that make the next action the handoff, with its reason (used by other actions)."""
    return [SlotSet("handoff_reason", reason), SlotSet("handoff_detail", detail), FollowupAction("action_handoff")]


def customer_of(tracker: Tracker) -> Dict[str, Any]:
    """Who the customer is, as far as the conversation proved it."""
    services = get_services()
    customer_id = tracker.get_slot("customer_id") if tracker.get_slot("customer_verified") else None
    if customer_id:
        try:
            customer = services.orders.customer(customer_id)
        except BackendError as error:  # the order system is down: the handoff still goes ahead, with what is known
            logger.warning("conversation %s: customer details for the handoff unavailable: %s", tracker.sender_id, error)
            return {"id": customer_id, "name": None, "email": None, "verified": True, "verified_by": "signed identity"}
        if customer is not None:
            return {"id": customer.id, "name": f"{customer.first_name} {customer.last_name}", "email": customer.email,
                    "verified": True, "verified_by": "signed identity"}
    email = tracker.get_slot("email")
    if email and tracker.get_slot("verified_order"):
        return {"id": None, "name": None, "email": email, "verified": True,
                "verified_by": f"email matches order {tracker.get_slot('verified_order')}"}
    return {"id": None, "name": None, "email": email, "verified": False, "verified_by": None}


def articles_shown(conversation_id: str) -> List[Dict[str, Any]]:
    """The help-centre articles this conversation was shown, with the customer's rating of each."""
    services = get_services()
    shown: Dict[str, Dict[str, Any]] = {}
    for event in services.insights.events(conversation_id):
        if event.kind == ANSWERED and event.article_id:
            shown.setdefault(event.article_id, {"article_id": event.article_id, "question": event.question, "helpful": None})
        elif event.kind == RATED and event.article_id in shown:
            shown[event.article_id]["helpful"] = event.helpful
    for article in shown.values():
        article.update(_article_title(article["article_id"]))
    return list(shown.values())


def suggested_articles(question: str, k: int = 3) -> List[Dict[str, Any]]:
    if not question.strip():
        return []
    try:
        hits = get_services().knowledge.get().search(question, k=k)
    except KnowledgeUnavailable:
        return []
    return [{"article_id": h.article_id, "title": h.title, "url": h.url, "score": round(h.score, 3)} for h in hits]


def _article_title(article_id: str) -> Dict[str, Any]:
    try:
        article = get_services().knowledge.get().article(article_id)
    except (KnowledgeUnavailable, NotFound):
        return {"title": article_id, "url": None}
    return {"title": article.title, "url": getattr(article, "url", None)}


def last_question(tracker: Tracker) -> str:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            text = str(event.get("text") or "")
            if text and not text.startswith("/") and intent not in ("request_human", "affirm", "deny", "greet"):
                return text
    return tracker.get_slot("kb_question") or ""


def context_packet(tracker: Tracker, reason: str, detail: str) -> Dict[str, Any]:
    rules = get_services().handoff.rules
    turns = conversation_turns(tracker.events)
    verdict = frustration_of(turns, rules)
    packet = build_packet(tracker.events, PacketInput(
        conversation_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "unknown",
        reason=reason, reason_detail=detail, customer=customer_of(tracker), slots=tracker.current_slot_values(),
        articles_shown=articles_shown(tracker.sender_id), suggested_articles=suggested_articles(last_question(tracker)),
        frustration_score=verdict.score, frustration_reasons=verdict.reasons))
    return packet


class ActionHandoff(Action):
    """Puts the conversation in the agents' queue and pauses the assistant, or offers the offline form."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        reason = tracker.get_slot("handoff_reason") or (CUSTOMER_REQUEST if intent == "request_human" else NOT_CONFIDENT)
        detail = tracker.get_slot("handoff_detail") or REASON_LABELS.get(reason, reason)
        packet = context_packet(tracker, reason, detail)
        customer = packet["customer"]
        outcome = get_services().handoff.open_handoff(
            conversation_id=tracker.sender_id, channel=packet["channel"], reason=reason, reason_detail=detail,
            summary=packet["summary"], packet=packet, customer_name=customer.get("name"),
            customer_email=customer.get("email"), customer_verified=bool(customer.get("verified")),
            frustration=packet["frustration"]["score"])
        # a task in progress stops here: the person takes it from the packet
        events: List[EventType] = [SlotSet(slot, None) for slot in HANDOFF_SLOTS]
        if tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        if isinstance(outcome, QueuePlace):
            dispatcher.utter_message(text=queue_message(outcome), json_message={"handoff": {
                "state": outcome.handoff.state, "position": outcome.position, "wait_minutes": outcome.wait_minutes}})
            return events + [ConversationPaused()]
        email = customer.get("email")
        # email_known: the offline form will ask only for the description (the website widget shows one field)
        dispatcher.utter_message(text=unavailable_message(outcome, get_services().handoff.rules.hours.describe(
            get_services().handoff.clock())), json_message={"handoff": {"state": "offline", "why": outcome.why,
                                                                         "email_known": bool(email)}})
        return events + [SlotSet("offline_reason", reason), SlotSet("offline_email", email if email else None),
                         SlotSet("offline_description", None), FollowupAction("offline_form")]


def queue_message(place: QueuePlace) -> str:
    if place.position <= 0:
        return "A person from our team already has this conversation; they'll reply here."
    wait = "a minute" if place.wait_minutes <= 1 else f"about {place.wait_minutes} minutes"
    ahead = "You're next in line" if place.position == 1 else f"You're number {place.position} in the queue"
    return (f"I'm bringing in a person from our team. {ahead}, and the wait is {wait}. They'll see everything "
            "we've talked about, so you won't need to repeat yourself. You can keep writing here in the meantime.")


def unavailable_message(outcome: Unavailable, back: str) -> str:
    if outcome.why == "closed":
        return (f"Our team isn't on chat right now; they're back {back}. Here's what we can do: leave your email and "
                "a few words, and they'll write to you with everything from this conversation in front of them.")
    return ("Everyone on our team is busy or away from chat right now. Here's what we can do: leave your email and a few "
            "words, and they'll write to you with everything from this conversation in front of them.")


class ValidateOfflineForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_offline_form"

    def validate_offline_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        if value is None:  # cleared by action_handoff as the form starts: nothing was typed yet, so nothing to correct
            return {"offline_email": None}
        email = str(value or "").strip().strip(".,;")
        found = re.search(r"[^@\s<>\"']{1,64}@[^@\s<>\"']+\.[A-Za-z]{2,}", email)
        if found and EMAIL.match(found.group(0)):
            return {"offline_email": found.group(0)}
        dispatcher.utter_message(text="That doesn't look like an email address. Could you type it again, like name@example.com?")
        return {"offline_email": None}

    def validate_offline_description(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> Dict[Text, Any]:
        if value is None:  # cleared as the form starts (see validate_offline_email)
            return {"offline_description": None}
        text = " ".join(str(value or "").split())
        if len(text) < 3:
            dispatcher.utter_message(text="Could you tell me in a few words what you need help with?")
            return {"offline_description": None}
        return {"offline_description": text[:2000]}


class ActionCreateTicket(Action):
    """The offline form is complete: the team gets a ticket with the whole conversation."""

    def name(self) -> Text:
        return "action_create_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        services = get_services()
        reason = tracker.get_slot("offline_reason") or CUSTOMER_REQUEST
        packet = context_packet(tracker, reason, REASON_LABELS.get(reason, reason))
        try:
            ticket = services.handoff.create_ticket(
                conversation_id=tracker.sender_id, channel=packet["channel"], email=tracker.get_slot("offline_email") or "",
                description=tracker.get_slot("offline_description") or "", reason=reason, packet=packet,
                customer_name=packet["customer"].get("name"))
        except InvalidInput as invalid:
            logger.warning("offline ticket for %s refused: %s", tracker.sender_id, invalid)
            dispatcher.utter_message(text="Sorry, I couldn't save that. Could we try once more?")
            return [SlotSet("offline_email", None), SlotSet("offline_description", None), FollowupAction("offline_form")]
        hours = services.handoff.rules.offline_reply_hours
        dispatcher.utter_message(
            text=f"Thanks, it's passed on (reference #{ticket.id}). Our team will email you at {ticket.email} within "
                 f"{hours} hours, and they'll have this conversation in front of them. Anything else I can help with meanwhile?",
            json_message={"ticket": {"id": ticket.id}})
        return [SlotSet("offline_description", None), SlotSet("offline_reason", None)]


class ActionAskCsat(Action):
    """After an agent resolves the conversation, the assistant is back and asks for a rating."""

    def name(self) -> Text:
        return "action_ask_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        latest = get_services().handoff.store.latest_handoff(tracker.sender_id)
        if latest is None or latest.state != RESOLVED:
            dispatcher.utter_message(text="The chat with our team has ended. I'm here if you need anything else.")
            return []
        if CSAT not in get_services().feedback.surveys(tracker.sender_id):  # feedback.yml: NPS in place of the rating
            return ask_nps(dispatcher, f"{latest.agent_name or 'Our team'} has marked this conversation as resolved, "
                                       "and I'm back if you need anything else.")
        dispatcher.utter_message(text=f"{latest.agent_name or 'Our team'} has marked this conversation as resolved, and "
                                      "I'm back if you need anything else. How would you rate the help you got today?",
                                 buttons=CSAT_BUTTONS, json_message={"csat": {"handoff_id": latest.id}})
        return [SlotSet("csat_pending", True)]


class ActionRecordCsat(Action):
    def name(self) -> Text:
        return "action_record_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not tracker.get_slot("csat_pending"):
            dispatcher.utter_message(text="Thanks! Is there anything I can help you with?")
            return []
        rating = rating_of(tracker)
        if rating is None:
            dispatcher.utter_message(text="Could you pick a rating from 1 (poor) to 5 (excellent)?", buttons=CSAT_BUTTONS)
            return []
        get_services().handoff.record_csat(tracker.sender_id, rating)
        record_rating_comment(tracker, CSAT, rating)
        if NPS in get_services().feedback.surveys(tracker.sender_id):  # feedback.yml: NPS after the rating
            thanks = "Thank you, and I'm sorry it wasn't better." if rating <= 2 else "Thank you for the rating!"
            return [SlotSet("csat_pending", False)] + ask_nps(dispatcher, thanks)
        if rating <= 2:
            dispatcher.utter_message(text="Thank you for telling us, and I'm sorry it wasn't better. The team lead reads "
                                          "every low rating, so this will be looked at.")
        else:
            dispatcher.utter_message(text="Thank you for the rating! Anything else I can help with?")
        return [SlotSet("csat_pending", False)]


def rating_of(tracker: Tracker) -> Optional[int]:
    values = [e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "rating"]
    text = str(tracker.latest_message.get("text") or "").lower()
    candidates = [str(v) for v in values] + re.findall(r"\b[1-5]\b", text) + [str(RATING_WORDS[w]) for w in re.findall(
        r"\b(one|two|three|four|five)\b", text)]
    for candidate in candidates:
        if candidate.strip().isdigit() and 1 <= int(candidate) <= 5:
            return int(candidate)
    return None


__all__ = ["hand_off", "transcript"]
