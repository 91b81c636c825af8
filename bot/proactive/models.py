"""Records of proactive messaging: who can be reached where, what is to be sent, and what was said once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional

# What happened to an order (the store tells us), and the nudge we schedule ourselves after a delivery.
SHIPPED, DELAYED, DELIVERED, REFUND_ISSUED = "shipped", "delayed", "delivered", "refund_issued"
DELIVERY_CHECK = "delivery_check"  # "Did your delivered order arrive OK?", a day after the delivery
ORDER_EVENTS = (SHIPPED, DELAYED, DELIVERED, REFUND_ISSUED)
KINDS = ORDER_EVENTS + (DELIVERY_CHECK,)

# A message's life: waiting (for its due time: quiet hours, the rate limit, a conversation busy with a person or a
# task), sent, or dropped with the reason (opted out, nobody to reach, superseded by a newer event of that order).
WAITING, SENT, DROPPED = "waiting", "sent", "dropped"

# Follow-ups said once, when the customer comes back (the reference is the ticket's or the handoff's id)
TICKET_ANSWERED, HANDOFF_RESOLVED = "ticket_answered", "handoff_resolved"


@dataclass(frozen=True)
class Contact:
    """Where a verified customer was last seen: the conversation of their newest session with a verified identity."""

    customer_id: str
    conversation_id: str
    channel: str  # "website" | "slack"
    seen_at: datetime


@dataclass(frozen=True)
class OrderEvent:
    """What the store says happened, with what the customer needs to hear about it."""

    order_number: str
    kind: str
    at: datetime
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    estimated_delivery: Optional[date] = None
    amount_cents: Optional[int] = None
    source_key: Optional[str] = None  # the store's own id for the event: a webhook sent again is recorded once


@dataclass(frozen=True)
class ProactiveMessage:
    id: int
    customer_id: str
    order_number: str
    kind: str
    state: str
    created_at: datetime
    due_at: datetime
    event_at: datetime
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    estimated_delivery: Optional[date] = None
    amount_cents: Optional[int] = None
    source_key: Optional[str] = None
    conversation_id: Optional[str] = None  # where it was sent
    sent_at: Optional[datetime] = None
    detail: str = ""  # why it waits or was dropped
    attempts: int = 0

    @property
    def delivery_id(self) -> str:
        """The id Rasa knows this message by (bot/rasa_durability.py triggering_once): with its creation time, so a
        conversation that outlived a reset app database cannot take a new message for an old one."""
        return f"proactive-{self.id}-{self.created_at.strftime('%Y%m%d%H%M%S%f')}"
