"""The context packet: everything an agent needs to pick up a conversation without asking again.

Built from the conversation's events in Rasa's JSON event format (plain dicts: this module
does not import Rasa) plus what the services know (knowledge-base ratings, suggestions).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

# What each intent means in a customer's words ("Wants to ...").
WANTS: Dict[str, str] = {
    "order_status": "check where an order is",
    "return_or_exchange": "return or exchange an item",
    "cancel_order": "cancel an order",
    "change_shipping_address": "change a delivery address",
    "refund_status": "check on a refund",
    "damaged_or_faulty_item": "report an item that arrived damaged or faulty",
    "billing_problem": "sort out a problem with a charge",
    "ask_question": "get an answer to a question",
    "complain": "complain about something that went wrong",
    "give_feedback": "give feedback",
}
# Bot actions as the agent should read them ("Tried: ...").
TRIED: Dict[str, str] = {
    "action_order_status": "showed the order status",
    "action_refund_status": "showed the refund status",
    "action_cancel_order": "tried to cancel the order",
    "action_change_address": "tried to change the delivery address",
    "action_start_return": "tried to start a return",
    "action_two_stage_fallback": "asked the customer to rephrase",
    "utter_billing_problem": "explained billing contacts",
}
# Slots an agent cares about (the rest is dialogue bookkeeping).
AGENT_SLOTS = ("order_number", "email", "verified_order", "product", "return_item", "return_kind", "return_reason",
               "new_address", "order_flow", "customer_id", "customer_verified", "customer_first_name", "kb_question")
MAX_TURNS = 200


@dataclass(frozen=True)
class Turn:
    at: str
    who: str  # customer | bot | agent
    text: str
    intent: Optional[str] = None
    confidence: Optional[float] = None
    entities: Sequence[Dict[str, Any]] = ()
    frustration: Optional[float] = None
    agent: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        data = {"at": self.at, "who": self.who, "text": self.text}
        if self.who == "customer":
            data.update(intent=self.intent, confidence=self.confidence, entities=list(self.entities),
                        frustration=self.frustration)
        if self.agent:
            data["agent"] = self.agent
        return data


@dataclass(frozen=True)
class PacketInput:
    """What the action server hands over besides the events."""

    conversation_id: str
    channel: str
    reason: str
    reason_detail: str
    customer: Mapping[str, Any]  # name, email, id, verified
    slots: Mapping[str, Any]
    articles_shown: Sequence[Mapping[str, Any]] = ()
    suggested_articles: Sequence[Mapping[str, Any]] = ()
    frustration_score: float = 0.0
    frustration_reasons: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def transcript(events: Iterable[Mapping[str, Any]]) -> List[Turn]:
    """Customer, bot and agent messages with times; per customer turn the intent, confidence and entities."""
    turns: List[Turn] = []
    for event in events:
        kind = event.get("event")
        text = str(event.get("text") or "")
        if kind == "user" and text:
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            frustration = parse.get("frustration") or {}
            turns.append(Turn(
                at=_iso(event.get("timestamp")), who="customer", text=text, intent=intent.get("name"),
                confidence=_round(intent.get("confidence")),
                entities=tuple({"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities") or []),
                frustration=_round(frustration.get("score")) if isinstance(frustration, dict) else None))
        elif kind == "bot" and (text or (event.get("data") or {}).get("buttons")):
            metadata = event.get("metadata") or {}
            agent = metadata.get("agent")
            turns.append(Turn(at=_iso(event.get("timestamp")), who="agent" if agent else "bot", text=text, agent=agent))
    return turns[-MAX_TURNS:]


def wants(turns: Sequence[Turn]) -> str:
    """What the customer came for: the latest task-like intent, else their latest words."""
    for turn in reversed(turns):
        if turn.who == "customer" and turn.intent in WANTS:
            return WANTS[turn.intent]
    last = next((t.text for t in reversed(turns) if t.who == "customer" and not t.text.startswith("/")), "")
    return f'said "{_clip(last, 120)}"' if last else "not said yet"


def tried(events: Iterable[Mapping[str, Any]], articles_shown: Sequence[Mapping[str, Any]]) -> List[str]:
    done: List[str] = []
    for event in events:
        if event.get("event") == "action":
            phrase = TRIED.get(str(event.get("name")))
            if phrase and phrase not in done:
                done.append(phrase)
    for article in articles_shown:
        rating = {True: "helped", False: "did not help", None: "not rated"}[article.get("helpful")]
        done.append(f"help-centre article \"{article.get('title') or article.get('article_id')}\" ({rating})")
    return done


def build_packet(events: Sequence[Mapping[str, Any]], given: PacketInput) -> Dict[str, Any]:
    turns = transcript(events)
    slots = {k: given.slots.get(k) for k in AGENT_SLOTS if given.slots.get(k) not in (None, "", [])}
    what = wants(turns)
    attempts = tried(events, given.articles_shown)
    order = slots.get("order_number") or slots.get("verified_order")  # a finished task keeps only the verified one
    about = [f"order {order}" if order else "",
             str(slots.get("product") or slots.get("return_item") or "")]
    about_text = ", ".join(a for a in about if a)
    if what == "not said yet":
        summary = "Has not said what they need yet"
    else:
        summary = f"Customer {what}" if what.startswith("said") else f"Wants to {what}"
    if about_text:
        summary += f" ({about_text})"
    summary += ". " + (f"Tried: {'; '.join(attempts)}. " if attempts else "Nothing tried yet. ")
    summary += f"Handed over: {given.reason_detail}."
    trajectory = [t.frustration for t in turns if t.who == "customer" and t.frustration is not None]
    return {
        "conversation_id": given.conversation_id,
        "customer": dict(given.customer),
        "channel": given.channel,
        "reason": given.reason,
        "reason_detail": given.reason_detail,
        "summary": summary,
        "wants": what,
        "tried": attempts,
        "transcript": [t.as_dict() for t in turns],
        "slots": slots,
        "articles_shown": [dict(a) for a in given.articles_shown],
        "suggested_articles": [dict(a) for a in given.suggested_articles],
        "frustration": {"score": round(given.frustration_score, 3), "trajectory": trajectory,
                        "reasons": list(given.frustration_reasons)},
        **dict(given.extra),
    }


def _iso(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(float(timestamp), tz=timezone.utc).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return ""


def _round(value: Any) -> Optional[float]:
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
