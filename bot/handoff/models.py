"""Records of the handoff domain: who handles a conversation, what was said, how it ended."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional, Tuple

# Handoff states: waiting -> assigned -> resolved, or abandoned from either.
WAITING, ASSIGNED, RESOLVED, ABANDONED = "waiting", "assigned", "resolved", "abandoned"
ACTIVE_STATES = (WAITING, ASSIGNED)

# Why the assistant stepped aside. The same names go into the reports and the benchmark.
CUSTOMER_REQUEST = "customer_request"
NOT_CONFIDENT = "not_confident"          # the two-stage fallback failed
KB_NO_ANSWER = "kb_no_answer"            # the help centre had no good answer twice in a row
NOT_HELPFUL = "not_helpful"              # two answers in a row did not help
FRUSTRATED = "frustrated"
POLICY_TOPIC = "policy_topic"            # disputed charge, legal threat, costly damage claim
REASONS = (CUSTOMER_REQUEST, NOT_CONFIDENT, KB_NO_ANSWER, NOT_HELPFUL, FRUSTRATED, POLICY_TOPIC)

REASON_LABELS = {
    CUSTOMER_REQUEST: "asked for a person",
    NOT_CONFIDENT: "the assistant did not understand",
    KB_NO_ANSWER: "no help-centre answer",
    NOT_HELPFUL: "answers did not help",
    FRUSTRATED: "customer frustrated",
    POLICY_TOPIC: "topic handled by people",
}

# Roles: agents handle conversations; leads also manage agents and read the reports.
AGENT, LEAD = "agent", "lead"
ROLES = (AGENT, LEAD)

# Authors of transcript lines recorded during a handoff.
CUSTOMER, AGENT_AUTHOR, NOTE, SYSTEM = "customer", "agent", "note", "system"


@dataclass(frozen=True)
class Agent:
    id: int
    email: str
    name: str
    role: str
    active: bool = True
    last_seen_at: Optional[datetime] = None

    @property
    def is_lead(self) -> bool:
        return self.role == LEAD


@dataclass(frozen=True)
class Handoff:
    id: int
    conversation_id: str
    channel: str
    state: str
    reason: str
    reason_detail: str
    summary: str
    created_at: datetime
    packet: Dict[str, Any] = field(default_factory=dict, compare=False)
    customer_name: Optional[str] = None
    customer_email: Optional[str] = None
    customer_verified: bool = False
    frustration: float = 0.0
    agent_id: Optional[int] = None
    agent_name: Optional[str] = None
    assigned_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    abandoned_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class HandoffMessage:
    id: int
    handoff_id: int
    author: str          # customer | agent | note | system
    text: str
    at: datetime
    agent_id: Optional[int] = None
    agent_name: Optional[str] = None
    delivered: bool = True


@dataclass(frozen=True)
class Ticket:
    """An offline request: nobody could take the conversation, so the team answers by email."""

    id: int
    conversation_id: str
    channel: str
    email: str
    description: str
    reason: str
    created_at: datetime
    state: str = "open"  # open | closed
    customer_name: Optional[str] = None
    packet: Dict[str, Any] = field(default_factory=dict, compare=False)
    closed_at: Optional[datetime] = None


@dataclass(frozen=True)
class CsatRating:
    conversation_id: str
    rating: int
    at: datetime
    handoff_id: Optional[int] = None


@dataclass(frozen=True)
class QueuePlace:
    """What the customer is told: their place in the queue and a wait estimate."""

    handoff: Handoff
    position: int
    wait_minutes: int
    created: bool  # False when the conversation was already in the queue


@dataclass(frozen=True)
class Unavailable:
    """Nobody can take the conversation now: why, and when people are back."""

    why: str  # "closed" | "no_agents"
    next_open: Optional[datetime]


@dataclass(frozen=True)
class HandoffReport:
    handoffs: int
    by_reason: Tuple[Tuple[str, int], ...]
    by_state: Tuple[Tuple[str, int], ...]
    median_wait_seconds: Optional[float]
    median_handling_seconds: Optional[float]
    csat_count: int
    csat_average: Optional[float]
    csat_distribution: Tuple[Tuple[int, int], ...]
    open_tickets: int
