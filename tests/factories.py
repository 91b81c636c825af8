"""One way to build trackers for action tests."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

DOMAIN_SLOTS = (
    "customer_id", "customer_verified", "customer_first_name", "order_flow", "form_flow", "order_number",
    "email", "verified_order", "verification_failures", "confirm_cancel", "new_address", "return_item",
    "return_kind", "return_reason", "requested_slot", "session_started_metadata",
    "kb_article", "kb_question", "kb_alternatives", "kb_misses", "kb_offer_open",
    "handoff_reason", "handoff_detail", "offline_reason", "offline_email", "offline_description", "csat_pending",
)


def make_tracker(
    text: str = "",
    intent: str = "",
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    intent_ranking: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    sender_id: str = "test-user",
    events: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    """A tracker whose latest user message is `text` classified as `intent`, with `slots` set."""
    all_slots: Dict[str, Any] = {name: None for name in DOMAIN_SLOTS}
    all_slots.update({"customer_verified": False, "verification_failures": 0.0, "kb_misses": 0.0})
    all_slots.update(slots or {})
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "intent_ranking": intent_ranking or [{"name": intent, "confidence": 1.0}],
        "entities": entities or [],
    }
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
