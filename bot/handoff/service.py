"""The handoff service: the queue, agents claiming and answering, hand-back, offline tickets, CSAT.

Plain Python over `SqlHandoffStore` and a `ConversationGateway` (how the live conversation is
reached: Rasa's HTTP API in the product, a recording fake in tests). The action server uses it
to open handoffs, tickets and ratings; the web app to run the desk.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import statistics
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Union

from bot.errors import NotAllowed, NotFound, SupportError
from bot.handoff.models import (
    ABANDONED,
    ACTIVE_STATES,
    AGENT_AUTHOR,
    ASSIGNED,
    CUSTOMER,
    LEAD,
    NOTE,
    REASONS,
    RESOLVED,
    ROLES,
    SYSTEM,
    WAITING,
    Agent,
    CsatRating,
    Handoff,
    HandoffMessage,
    HandoffReport,
    QueuePlace,
    Ticket,
    Unavailable,
)
from bot.handoff.passwords import MIN_LENGTH, check_password, hash_password
from bot.handoff.rules import HandoffRules
from bot.handoff.store import SqlHandoffStore

logger = logging.getLogger(__name__)

SESSION_HOURS = 12
MAX_TEXT = 5000
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AlreadyClaimed(NotAllowed):
    """Someone else took the conversation first."""


class DeliveryFailed(SupportError):
    """The message is saved but could not reach the customer (the conversation server did not answer)."""

    def __init__(self, message: str, saved: HandoffMessage) -> None:
        super().__init__(message)
        self.saved = saved


class InvalidInput(SupportError):
    """A request the service cannot accept (empty text, unknown role, ...); the message says what."""


class ConversationGateway(Protocol):
    """How the service reaches a live conversation."""

    def send_agent_message(self, conversation_id: str, text: str, agent_name: str, delivery_id: str) -> None:
        """Deliver an agent's message through the customer's own channel and store it in the transcript, once:
        sent again with the same `delivery_id` (after a timeout), it is neither stored nor delivered twice."""

    def hand_back(self, conversation_id: str, delivery_id: str) -> None:
        """Un-pause the assistant and let it take the conversation back (it then asks for a rating), once: done
        again with the same `delivery_id` (after a timeout), it changes nothing."""

    def transcript(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The conversation's events (Rasa's JSON event format)."""


Clock = Callable[[], datetime]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HandoffService:
    def __init__(self, store: SqlHandoffStore, rules: HandoffRules, gateway: ConversationGateway, clock: Clock,
                 staffed_in_slack: bool = False) -> None:
        self.store = store
        self.rules = rules
        self.gateway = gateway
        self.clock = clock
        # Handoffs are also posted to an agents' Slack channel, which the team watches in business hours:
        # then a person can take the conversation even when nobody has the desk open.
        self.staffed_in_slack = staffed_in_slack

    # customers' side (the action server) -------------------------------------------------

    def availability(self) -> Optional[Unavailable]:
        """None when a person can take a conversation now; otherwise why not and when they can."""
        now = self.clock()
        if not self.rules.hours.is_open(now):
            return Unavailable("closed", self.rules.hours.next_open(now))
        if not self.staffed_in_slack and not self.agents_online():
            return Unavailable("no_agents", None)
        return None

    def open_handoff(self, *, conversation_id: str, channel: str, reason: str, reason_detail: str, summary: str,
                     packet: Dict[str, Any], customer_name: Optional[str] = None, customer_email: Optional[str] = None,
                     customer_verified: bool = False, frustration: float = 0.0) -> Union[QueuePlace, Unavailable]:
        """Put the conversation in the queue (once: asking again tells the same place) or say why nobody can take it."""
        if reason not in REASONS:
            raise InvalidInput(f"unknown handoff reason {reason!r}")
        existing = self.store.active_handoff(conversation_id)
        if existing is not None:
            return self._place(existing, created=False)
        unavailable = self.availability()
        if unavailable is not None:
            return unavailable
        handoff = self.store.add_handoff(
            conversation_id=conversation_id, channel=channel, reason=reason, reason_detail=reason_detail,
            summary=summary, packet=packet, customer_name=customer_name, customer_email=customer_email,
            customer_verified=customer_verified, frustration=frustration, now=self.clock())
        logger.info("handoff %s opened for conversation %s: %s (%s)", handoff.id, conversation_id, reason, reason_detail)
        return self._place(handoff, created=True)

    def _place(self, handoff: Handoff, created: bool) -> QueuePlace:
        position = self.store.waiting_before(handoff) + 1 if handoff.state == WAITING else 0
        return QueuePlace(handoff=handoff, position=position, wait_minutes=self.wait_estimate(position), created=created)

    def wait_estimate(self, position: int) -> int:
        """Minutes until an agent picks up: recent median time-to-claim per place, shared by the agents online."""
        if position <= 0:
            return 0
        waits = [(h.assigned_at - h.created_at).total_seconds() for h in self.store.recent_handoffs(self.rules.recent_handoffs)
                 if h.assigned_at is not None]
        per_place = statistics.median(waits) / 60 if waits else float(self.rules.default_wait_minutes)
        agents = max(1, len(self.agents_online()))
        return max(1, round(per_place * position / agents))

    def record_customer_message(self, conversation_id: str, text: str, event_key: Optional[str] = None) -> Optional[HandoffMessage]:
        """A customer message while a person has (or is about to take) the conversation; None when there is no
        handoff, or when the message with this `event_key` was recorded already (a redelivered event)."""
        handoff = self.store.active_handoff(conversation_id)
        if handoff is None or not text.strip():
            return None
        return self.store.add_message(handoff.id, CUSTOMER, text[:MAX_TEXT], self.clock(), once_key=event_key)

    def active_handoff(self, conversation_id: str) -> Optional[Handoff]:
        return self.store.active_handoff(conversation_id)

    def create_ticket(self, *, conversation_id: str, channel: str, email: str, description: str, reason: str,
                      packet: Dict[str, Any], customer_name: Optional[str] = None) -> Ticket:
        email = email.strip()
        if not EMAIL.match(email):
            raise InvalidInput("that does not look like an email address")
        if not description.strip():
            raise InvalidInput("the description is empty")
        ticket = self.store.add_ticket(conversation_id=conversation_id, channel=channel, email=email,
                                       customer_name=customer_name, description=description.strip()[:MAX_TEXT],
                                       reason=reason, packet=packet, now=self.clock())
        logger.info("offline ticket %s created for conversation %s", ticket.id, conversation_id)
        return ticket

    def record_csat(self, conversation_id: str, rating: int) -> CsatRating:
        if not 1 <= int(rating) <= 5:
            raise InvalidInput("a rating is a whole number from 1 to 5")
        latest = self.store.latest_handoff(conversation_id)
        record = CsatRating(conversation_id=conversation_id, rating=int(rating), at=self.clock(),
                            handoff_id=latest.id if latest and latest.state == RESOLVED else None)
        self.store.add_csat(record)
        return record

    # agents: accounts and sessions -------------------------------------------------------

    def create_agent(self, email: str, name: str, role: str, password: str) -> Agent:
        email, name = email.strip(), name.strip()
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        if not EMAIL.match(email):
            raise InvalidInput("that does not look like an email address")
        if not name:
            raise InvalidInput("the name is empty")
        if len(password) < MIN_LENGTH:
            raise InvalidInput(f"the password must have at least {MIN_LENGTH} characters")
        if self.store.agent_by_email(email) is not None:
            raise InvalidInput(f"an agent with the email {email} already exists")
        return self.store.add_agent(email, name[:120], role, hash_password(password), self.clock())

    def ensure_agent(self, email: str, name: str, role: str, password: str) -> Agent:
        """Create the agent unless one with that email exists (used to seed the first lead)."""
        return self.store.agent_by_email(email) or self.create_agent(email, name, role, password)

    def sign_in(self, email: str, password: str) -> tuple[str, Agent]:
        """A new session token for the agent; NotAllowed with one message for any wrong detail."""
        agent = self.store.agent_by_email(email.strip())
        stored = self.store.password_hash(agent.id) if agent else None
        if agent is None or not agent.active or stored is None or not check_password(password, stored):
            if agent is None:
                hash_password(password)  # same work either way: the answer time does not reveal which emails exist
            raise NotAllowed("wrong email or password")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add_session(token_hash(token), agent.id, now, now + timedelta(hours=SESSION_HOURS))
        self.store.touch_agent(agent.id, now)
        return token, agent

    def agent_for_token(self, token: str) -> Optional[Agent]:
        if not token:
            return None
        agent = self.store.session_agent(token_hash(token), self.clock())
        return agent

    def sign_out(self, token: str) -> None:
        self.store.delete_session(token_hash(token))

    def heartbeat(self, agent: Agent) -> None:
        """The desk checks in while open: the agent counts as online for the queue."""
        self.store.touch_agent(agent.id, self.clock())

    def agents_online(self) -> List[Agent]:
        since = self.clock() - timedelta(minutes=self.rules.agent_online_minutes)
        return self.store.agents_seen_since(since)

    def list_agents(self, lead: Agent) -> List[Agent]:
        _require_lead(lead)
        return self.store.list_agents()

    def add_agent(self, lead: Agent, email: str, name: str, role: str, password: str) -> Agent:
        _require_lead(lead)
        return self.create_agent(email, name, role, password)

    def set_agent_active(self, lead: Agent, agent_id: int, active: bool) -> Agent:
        _require_lead(lead)
        if agent_id == lead.id and not active:
            raise InvalidInput("you cannot deactivate your own account")
        target = self.store.agent(agent_id)
        if target is None:
            raise NotFound(f"no agent {agent_id}")
        self.store.set_agent_active(agent_id, active)
        return self.store.agent(agent_id) or target

    # agents: the queue and a conversation ---------------------------------------------

    def queue(self) -> List[Handoff]:
        return self.store.handoffs_in(ACTIVE_STATES)

    def recent(self, limit: int = 50) -> List[Handoff]:
        return list(reversed(self.store.recent_handoffs(limit)))

    def handoff(self, handoff_id: int) -> Handoff:
        found = self.store.handoff(handoff_id)
        if found is None:
            raise NotFound(f"no handoff {handoff_id}")
        return found

    def messages(self, handoff_id: int, after_id: int = 0) -> List[HandoffMessage]:
        self.handoff(handoff_id)
        return self.store.messages(handoff_id, after_id)

    def history(self, handoff_id: int) -> List[Dict[str, Any]]:
        self.handoff(handoff_id)
        return self.store.log(handoff_id)

    def claim(self, handoff_id: int, agent: Agent) -> Handoff:
        handoff = self.handoff(handoff_id)
        if handoff.state == ASSIGNED and handoff.agent_id == agent.id:
            return handoff
        if not self.store.claim(handoff_id, agent.id, self.clock()):
            current = self.handoff(handoff_id)
            if current.state == ASSIGNED:
                raise AlreadyClaimed(f"{current.agent_name or 'another agent'} already took this conversation")
            raise AlreadyClaimed(f"this conversation is {current.state}")
        logger.info("handoff %s claimed by agent %s", handoff_id, agent.id)
        return self.handoff(handoff_id)

    def reply(self, handoff_id: int, agent: Agent, text: str) -> HandoffMessage:
        """Send the agent's message to the customer. It is saved first, so a failed delivery loses nothing."""
        handoff = self._owned(handoff_id, agent)
        text = _clean(text)
        saved = self.store.add_message(handoff.id, AGENT_AUTHOR, text, self.clock(), agent_id=agent.id, delivered=False)
        return self._deliver(handoff, saved, agent)

    def retry(self, message_id: int, agent: Agent) -> HandoffMessage:
        """Deliver a saved agent message again (after the conversation server was unreachable)."""
        saved = self.store.message(message_id)
        if saved is None or saved.author != AGENT_AUTHOR:
            raise NotFound(f"no agent message {message_id}")
        if saved.delivered:
            return saved
        return self._deliver(self._owned(saved.handoff_id, agent), saved, agent)

    def _deliver(self, handoff: Handoff, saved: HandoffMessage, agent: Agent) -> HandoffMessage:
        try:
            self.gateway.send_agent_message(handoff.conversation_id, saved.text, agent.name, _delivery_id(saved))
        except SupportError as error:
            logger.error("agent message %s for conversation %s not delivered: %s", saved.id, handoff.conversation_id, error)
            raise DeliveryFailed("saved, but it could not reach the customer yet; try sending it again", saved) from error
        self.store.set_delivered(saved.id, True)
        return self.store.message(saved.id) or saved

    def note(self, handoff_id: int, agent: Agent, text: str) -> HandoffMessage:
        """An internal note: other agents and leads see it, the customer never does."""
        handoff = self.handoff(handoff_id)
        return self.store.add_message(handoff.id, NOTE, _clean(text), self.clock(), agent_id=agent.id)

    def transfer(self, handoff_id: int, agent: Agent, to_agent_id: Optional[int], note: str = "") -> Handoff:
        """Pass the conversation to another agent, or back to the queue."""
        handoff = self._owned(handoff_id, agent, leads_too=True)
        if to_agent_id is not None:
            target = self.store.agent(to_agent_id)
            if target is None or not target.active:
                raise NotFound(f"no active agent {to_agent_id}")
        if not self.store.transfer(handoff.id, agent.id, to_agent_id, self.clock(), note[:MAX_TEXT]):
            raise AlreadyClaimed("this conversation is no longer assigned")
        if note.strip():
            self.store.add_message(handoff.id, NOTE, _clean(note), self.clock(), agent_id=agent.id)
        return self.handoff(handoff.id)

    def resolve(self, handoff_id: int, agent: Agent) -> Handoff:
        """Close the handoff and give the conversation back to the assistant (which asks for a rating).

        Resolving again what this agent resolved is a no-op, not an error: a desk whose first request was done but
        whose answer never came back (the web app restarted) sends it again (found by `make bench-cluster`)."""
        current = self.handoff(handoff_id)
        if current.state == RESOLVED and (current.agent_id == agent.id or agent.is_lead):
            return current
        handoff = self._owned(handoff_id, agent, leads_too=True)
        if not self.store.finish(handoff.id, RESOLVED, agent.id, self.clock()):
            raise AlreadyClaimed(f"this conversation is already {self.handoff(handoff_id).state}")
        self._hand_back(handoff)
        return self.handoff(handoff.id)

    def abandon(self, handoff_id: int, agent: Agent, detail: str = "customer left") -> Handoff:
        """The customer is gone: close the handoff without a rating prompt."""
        handoff = self.handoff(handoff_id)
        if handoff.state == ASSIGNED and handoff.agent_id != agent.id and not agent.is_lead:
            raise NotAllowed(f"{handoff.agent_name} has this conversation")
        if not self.store.finish(handoff.id, ABANDONED, agent.id, self.clock(), detail[:500]):
            raise AlreadyClaimed(f"this conversation is already {self.handoff(handoff_id).state}")
        self.store.add_message(handoff.id, SYSTEM, f"Closed without an answer: {detail}", self.clock(), agent_id=agent.id)
        self._hand_back(handoff)
        return self.handoff(handoff.id)

    def _hand_back(self, handoff: Handoff) -> bool:
        """Give the conversation back to the assistant. Until that is done Rasa keeps it paused and would answer
        nothing, so a failed hand-back (Rasa restarting) is recorded and retried by `retry_hand_backs`."""
        try:
            self.gateway.hand_back(handoff.conversation_id, f"hand-back-{handoff.id}-{handoff.created_at.strftime('%Y%m%d%H%M%S%f')}")
        except SupportError as error:
            logger.error("could not hand conversation %s back to the assistant (retried until it can): %s",
                         handoff.conversation_id, error)
            self.store.note_hand_back(handoff.id, self.clock(), done=False, detail=str(error))
            return False
        self.store.note_hand_back(handoff.id, self.clock(), done=True)
        return True

    def retry_hand_backs(self) -> int:
        """Hand back the conversations whose hand-back failed (the web app calls this every few seconds);
        how many were handed back now."""
        return sum(self._hand_back(handoff) for handoff in self.store.pending_hand_backs())

    def _owned(self, handoff_id: int, agent: Agent, leads_too: bool = False) -> Handoff:
        handoff = self.handoff(handoff_id)
        if handoff.state != ASSIGNED:
            raise NotAllowed(f"claim this conversation first (it is {handoff.state})")
        if handoff.agent_id != agent.id and not (leads_too and agent.is_lead):
            raise NotAllowed(f"{handoff.agent_name or 'another agent'} has this conversation")
        return handoff

    # tickets ----------------------------------------------------------------------------

    def tickets(self, state: Optional[str] = None) -> List[Ticket]:
        return self.store.list_tickets(state)

    def close_ticket(self, ticket_id: int, agent: Agent) -> Ticket:
        if self.store.ticket(ticket_id) is None:
            raise NotFound(f"no ticket {ticket_id}")
        self.store.close_ticket(ticket_id, self.clock())
        logger.info("ticket %s closed by agent %s", ticket_id, agent.id)
        return self.store.ticket(ticket_id)  # type: ignore[return-value]

    # leads' report ----------------------------------------------------------------------

    def report(self, lead: Agent, days: int = 30) -> HandoffReport:
        _require_lead(lead)
        since = self.clock() - timedelta(days=days)
        recent = [h for h in self.store.recent_handoffs(100000) if h.created_at >= since]
        waits = [(h.assigned_at - h.created_at).total_seconds() for h in recent if h.assigned_at]
        handling = [(h.resolved_at - h.assigned_at).total_seconds() for h in recent if h.resolved_at and h.assigned_at]
        ratings = [r.rating for r in self.store.csat(since)]
        return HandoffReport(
            handoffs=len(recent),
            by_reason=_counts(h.reason for h in recent),
            by_state=_counts(h.state for h in recent),
            median_wait_seconds=statistics.median(waits) if waits else None,
            median_handling_seconds=statistics.median(handling) if handling else None,
            csat_count=len(ratings),
            csat_average=round(sum(ratings) / len(ratings), 2) if ratings else None,
            csat_distribution=tuple((n, ratings.count(n)) for n in range(1, 6)),
            open_tickets=len(self.store.list_tickets("open")),
        )

    def changed_since(self, since: datetime) -> List[Handoff]:
        return self.store.handoffs_updated_since(since)


def _delivery_id(message: HandoffMessage) -> str:
    """The id Rasa knows a delivered agent message by: the saved message's, with its time, so a conversation that
    outlived a reset app database cannot mistake a new message for an old one."""
    return f"agent-message-{message.id}-{message.at.strftime('%Y%m%d%H%M%S%f')}"


def _require_lead(agent: Agent) -> None:
    if agent.role != LEAD:
        raise NotAllowed("only leads can do that")


def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the message is empty")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the message is longer than {MAX_TEXT} characters")
    return text


def _counts(values) -> tuple:
    counts: Dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


__all__: Sequence[str] = ["HandoffService", "ConversationGateway", "AlreadyClaimed", "DeliveryFailed", "InvalidInput",
                          "token_hash", "WAITING", "ASSIGNED", "RESOLVED", "ABANDONED", "CUSTOMER"]


def keep_handing_back(service: HandoffService, stopping: threading.Event, every: float = 3.0) -> None:
    """The web app's background duty: retry failed hand-backs until it stops (a failure here is logged only)."""
    while not stopping.wait(every):
        try:
            handed = service.retry_hand_backs()
            if handed:
                logger.info("handed %d conversation(s) back to the assistant after an earlier failure", handed)
        except Exception:  # e.g. the app database briefly unavailable: try again on the next round
            logger.exception("could not retry the pending hand-backs")
