"""Session start: the company's profile for the responses, and a customer whose identity the host site signed."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.proactive import welcome_back
from actions.services import get_services
from bot.identity import verify_identity
from bot.store.directory import BackendError

logger = logging.getLogger(__name__)

# Identity is recomputed from each session's own metadata, never carried over.
IDENTITY_SLOTS = ("customer_id", "customer_verified", "customer_first_name")
# What domain.yml's responses say about the company ({company_name}, {assistant_name}, {team_contact}, the tone's
# variants), from company.yml at every session start, so a changed profile reaches conversations already under way.
COMPANY_SLOTS = ("company_name", "assistant_name", "team_contact", "company_tone")


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        for slot, value in tracker.slots.items():
            if (value is not None and slot not in IDENTITY_SLOTS and slot not in COMPANY_SLOTS
                    and slot != "session_started_metadata"):
                events.append(SlotSet(slot, value))
        events.extend(self._company_events())
        identity = self._identity_events(tracker)
        events.extend(identity)
        # a verified customer is reached here by proactive messages; one who comes back hears what happened meanwhile
        welcome_back(dispatcher, tracker.sender_id, next((e["value"] for e in identity if e.get("name") == "customer_id"), None))
        events.append(ActionExecuted("action_listen"))
        return events

    @staticmethod
    def _company_events() -> List[EventType]:
        company = get_services().company
        return [
            SlotSet("company_name", company.short_name),
            SlotSet("assistant_name", company.assistant_name),
            SlotSet("team_contact", company.team_contact()),
            SlotSet("company_tone", company.tone),
        ]

    @staticmethod
    def _identity_events(tracker: Tracker) -> List[EventType]:
        metadata = tracker.get_slot("session_started_metadata") or {}
        claim = metadata.get("customer") if isinstance(metadata, dict) else None
        services = get_services()
        identity = verify_identity(services.settings.identity_secret, claim)
        if identity is None:
            return [SlotSet("customer_verified", False)]
        try:
            if identity.customer_id:
                customer = services.orders.customer(identity.customer_id)
            else:  # a channel that knows only the verified email (Slack)
                customer = services.directory.find_customer_by_email(identity.email)
        except BackendError as error:
            # the order system is down: the session starts unrecognised rather than not at all (an order question
            # then gets the order flow's own "try again, or a person")
            logger.warning("conversation %s: the signed identity could not be looked up: %s", tracker.sender_id, error)
            return [SlotSet("customer_verified", False)]
        if customer is None or customer.email.lower() != identity.email:
            logger.warning("signed identity for unknown customer %r ignored", identity.customer_id or "(signed by email)")
            return [SlotSet("customer_verified", False)]
        return [
            SlotSet("customer_id", customer.id),
            SlotSet("customer_verified", True),
            SlotSet("customer_first_name", customer.first_name),
        ]
