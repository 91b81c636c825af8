"""Proactive messages: the store's order events, the delivery nudge and the follow-ups, sent before the customer asks.

Plain Python over `SqlProactiveStore`, the order directory, the handoff store (tickets and handoffs, for the
follow-ups) and a `ProactiveGateway` (Rasa's HTTP API in the product, a recording fake in tests).

The rules, in one place:
- Only customers whose identity was verified (a signed website identity, or Slack's verified email in a DM) are
  reached, in the conversation of their newest verified session (`note_contact`). The assistant's action checks
  again, on the live conversation, that the session is that customer's before it says anything about the order; an
  unverified session gets a note without any order detail (`compose`, `verified=False`).
- Nothing is sent outside the team's business hours (handoff.yml `hours`): the message waits until they open.
- At most `max_per_day` messages per customer in any 24 hours; more wait until the oldest is a day old.
- A conversation a person has, or one where a form is asking a question, is tried again a few minutes later.
- A customer who said "stop these messages" gets none again (remembered per customer, or per conversation when
  the session was not verified), follow-ups included.
- A newer event of an order drops its older waiting messages (a "shipped" still waiting is wrong once delivered).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, List, Optional, Tuple

from bot.errors import NotFound, SupportError
from bot.handoff.hours import BusinessHours
from bot.handoff.models import RESOLVED
from bot.handoff.store import SqlHandoffStore
from bot.proactive.delivery import ProactiveGateway
from bot.proactive.models import (
    DELAYED,
    DELIVERED,
    DELIVERY_CHECK,
    HANDOFF_RESOLVED,
    KINDS,
    ORDER_EVENTS,
    REFUND_ISSUED,
    SHIPPED,
    TICKET_ANSWERED,
    WAITING,
    Contact,
    OrderEvent,
    ProactiveMessage,
)
from bot.proactive.store import SqlProactiveStore
from bot.store.catalogue import tracking_url
from bot.store.directory import CustomerDirectory
from bot.store.models import Order, money

logger = logging.getLogger(__name__)

DEFAULT_MAX_PER_DAY = 3
DEFAULT_NUDGE_HOURS = 24
BUSY_RETRY = timedelta(minutes=5)  # a person or a form has the conversation
UNREACHABLE_RETRY = timedelta(minutes=1)  # the conversation server did not answer
FOLLOW_UP_DAYS = 30  # older tickets and handoffs are not brought up again
# which waiting messages of an order a new event makes wrong
SUPERSEDES = {SHIPPED: (SHIPPED,), DELAYED: (SHIPPED, DELAYED), DELIVERED: (SHIPPED, DELAYED, DELIVERED, DELIVERY_CHECK),
              REFUND_ISSUED: (REFUND_ISSUED,)}
OPT_OUT_BUTTON = {"title": "Stop these messages", "payload": "/proactive_opt_out"}
DETAIL_FREE = ("There's an update on one of your orders. Sign in on our website and I'll show you, or ask me "
               "about it with the order number and the email on the order.")


class UnknownEvent(SupportError):
    """An event kind the assistant does not announce."""


@dataclass(frozen=True)
class Composed:
    text: str
    buttons: Tuple[dict, ...] = ()
    order_number: Optional[str] = None  # set when the text is about this (verified) order: the dialogue keeps it


@dataclass
class ProactiveService:
    store: SqlProactiveStore
    directory: CustomerDirectory
    handoffs: SqlHandoffStore
    hours: BusinessHours
    gateway: ProactiveGateway
    clock: Callable[[], datetime]
    max_per_day: int = DEFAULT_MAX_PER_DAY
    nudge_after: timedelta = field(default_factory=lambda: timedelta(hours=DEFAULT_NUDGE_HOURS))

    # the action server: who is where, opt-outs, follow-ups, what to say -------------------

    def note_contact(self, customer_id: str, conversation_id: str) -> None:
        """A session with this customer's verified identity started in this conversation: reach them here."""
        channel = "slack" if conversation_id.startswith("slack:") else "website"
        self.store.note_contact(Contact(customer_id, conversation_id, channel, self.clock()))

    def opt_out(self, conversation_id: str, customer_id: Optional[str]) -> None:
        self.store.opt_out(_key(conversation_id, customer_id), self.clock())
        logger.info("proactive messages stopped for %s", "a verified customer" if customer_id else f"conversation {conversation_id}")

    def opted_out(self, conversation_id: Optional[str], customer_id: Optional[str]) -> bool:
        keys = [f"conversation:{conversation_id}"] if conversation_id else []
        if customer_id:
            keys.append(f"customer:{customer_id}")
        return bool(keys) and self.store.opted_out(*keys)

    def message_for(self, delivery_id: str) -> Optional[ProactiveMessage]:
        """The message a triggered turn is for (its delivery id), None for anything else (a typed "/proactive_message")."""
        parts = (delivery_id or "").split("-")
        if len(parts) != 3 or parts[0] != "proactive" or not parts[1].isdigit():
            return None
        message = self.store.message(int(parts[1]))
        return message if message is not None and message.delivery_id == delivery_id else None

    def compose(self, message: ProactiveMessage, conversation_customer_id: Optional[str]) -> Composed:
        """What the assistant says for the message in a conversation whose verified customer is
        `conversation_customer_id` (None: not verified). Order details only to the order's own customer."""
        order = self.directory.get_order(message.order_number)
        if conversation_customer_id is None or order is None or order.customer_id != conversation_customer_id \
                or message.customer_id != conversation_customer_id:
            return Composed(DETAIL_FREE, (OPT_OUT_BUTTON,))
        return Composed(_wording(message, order), _buttons(message.kind), order.number)

    def follow_ups(self, conversation_id: str, customer_id: Optional[str], email: Optional[str]) -> List[str]:
        """What to tell a customer who came back (a session starts): their offline request answered, a conversation
        with a person finished while they were away. Each is said once. Other conversations' only to a verified
        customer (`customer_id` and `email` given only then)."""
        if self.opted_out(conversation_id, customer_id):
            return []
        now = self.clock()
        since = now - timedelta(days=FOLLOW_UP_DAYS)
        email = (email or "").strip().lower() or None
        said: List[str] = []
        for ticket in self.handoffs.list_tickets("closed"):
            if ticket.closed_at is None or ticket.closed_at < since:
                continue
            if ticket.conversation_id != conversation_id and not (email and ticket.email.strip().lower() == email):
                continue
            if self.store.mark_told(TICKET_ANSWERED, str(ticket.id), conversation_id, now):
                said.append(f"Welcome back! Our team has answered the request you left on {_day(ticket.created_at)}; "
                            "the answer is in your email. If anything is still open, just tell me.")
        rated = {r.handoff_id for r in self.handoffs.csat(since) if r.handoff_id is not None}
        mine = [h for h in self.handoffs.recent_handoffs(500)
                if h.conversation_id == conversation_id or (email and (h.customer_email or "").lower() == email and h.customer_verified)]
        for handoff in mine:
            if handoff.state != RESOLVED or handoff.resolved_at is None or handoff.resolved_at < since or handoff.id in rated:
                continue
            if self.store.mark_told(HANDOFF_RESOLVED, str(handoff.id), conversation_id, now):
                who = f"{handoff.agent_name} from our team" if handoff.agent_name else "Our team"
                said.append(f"While you were away, {who} finished your conversation of {_day(handoff.created_at)}. "
                            "If anything is still open, just tell me and I'll help or bring someone in again.")
        return said

    # the store's side (the web app's API, `bot store ...`) --------------------------------

    def announce(self, event: OrderEvent) -> ProactiveMessage:
        """Record the store's event for the order's customer and send it now when it may be sent now."""
        if event.kind not in ORDER_EVENTS:
            raise UnknownEvent(f"unknown order event {event.kind!r}; one of {', '.join(ORDER_EVENTS)}")
        if event.source_key:
            earlier = self.store.by_source_key(event.source_key)
            if earlier is not None:
                return earlier  # the store sent its event again: recorded once, sent once
        order = self.directory.get_order(event.order_number)
        if order is None:
            raise NotFound(f"no order {event.order_number}")
        now = self.clock()
        dropped = self.store.supersede(order.number, SUPERSEDES[event.kind], f"superseded by the {event.kind} event")
        if dropped:
            logger.info("order %s: %d waiting proactive message(s) superseded by %s", order.number, dropped, event.kind)
        message = self.store.add_message(order.customer_id, event, event.kind, now, self._open_at(now))
        if message is None:  # the same source key, recorded by a concurrent request
            found = self.store.by_source_key(event.source_key or "")
            assert found is not None
            return found
        if event.kind == DELIVERED:
            nudge_at = max(event.at + self.nudge_after, now)
            self.store.add_message(order.customer_id, OrderEvent(order.number, DELIVERY_CHECK, event.at), DELIVERY_CHECK, now,
                                   self._open_at(nudge_at))
        logger.info("proactive %s message %s for order %s recorded", event.kind, message.id, order.number)
        return self.send(message.id)

    def send_due(self, limit: int = 100) -> int:
        """Send what is due (the web app calls this every few seconds); how many were sent."""
        return sum(self.send(m.id).state == "sent" for m in self.store.due(self.clock(), limit))

    def send(self, message_id: int) -> ProactiveMessage:
        """Send one message if it is due and this worker gets it; the message as it stands afterwards."""
        message = self.store.message(message_id)
        if message is None:
            raise NotFound(f"no proactive message {message_id}")
        now = self.clock()
        if message.state != WAITING or message.due_at > now or not self.store.claim(message.id, now):
            return message
        try:
            self._send_claimed(message, now)
        except Exception:  # e.g. the app database refused a write: the claim lapses and a later round tries again
            logger.exception("proactive message %s could not be sent", message.id)
        found = self.store.message(message.id)
        assert found is not None
        return found

    def _send_claimed(self, message: ProactiveMessage, now: datetime) -> None:
        if message.kind not in KINDS:
            self.store.drop(message.id, f"unknown kind {message.kind}")
            return
        contact = self.store.contact(message.customer_id)
        if self.opted_out(contact.conversation_id if contact else None, message.customer_id):
            self.store.drop(message.id, "the customer asked for no proactive messages")
            return
        if contact is None:
            self.store.drop(message.id, "the customer has no conversation with a verified identity to reach")
            return
        if not self.hours.is_open(now):
            self.store.postpone(message.id, self._open_at(now), "quiet hours: waits for the team's hours")
            return
        sent = self.store.sent_since(message.customer_id, now - timedelta(days=1))
        if len(sent) >= self.max_per_day:
            self.store.postpone(message.id, self._open_at(sent[0] + timedelta(days=1)),
                                f"rate limit: {self.max_per_day} messages in 24 hours")
            return
        try:
            state = self.gateway.conversation_state(contact.conversation_id)
            if state.paused or state.active_loop:
                why = "a person has the conversation" if state.paused else f"the conversation is in {state.active_loop}"
                self.store.postpone(message.id, now + BUSY_RETRY, f"busy: {why}")
                return
            self.gateway.trigger(contact.conversation_id, message.delivery_id)
        except SupportError as error:
            logger.warning("proactive message %s not delivered yet (tried again soon): %s", message.id, error)
            self.store.postpone(message.id, now + UNREACHABLE_RETRY, f"not delivered yet: {error}")
            return
        self.store.mark_sent(message.id, contact.conversation_id, self.clock())
        logger.info("proactive %s message %s sent to conversation %s (%s)", message.kind, message.id,
                    contact.conversation_id, contact.channel)

    def _open_at(self, at: datetime) -> datetime:
        """`at`, or the next opening of the team's hours when `at` is outside them."""
        if self.hours.is_open(at):
            return at
        return self.hours.next_open(at) or at


def _key(conversation_id: str, customer_id: Optional[str]) -> str:
    return f"customer:{customer_id}" if customer_id else f"conversation:{conversation_id}"


def _day(value: datetime) -> str:
    return value.strftime("%a, %b %-d")


def _items(order: Order) -> str:
    return ", ".join(f"{i.quantity} × {i.product}" if i.quantity > 1 else i.product for i in order.items)


def _wording(message: ProactiveMessage, order: Order) -> str:
    carrier = message.carrier or order.carrier or "the carrier"
    tracking = message.tracking_number or order.tracking_number
    eta_date = message.estimated_delivery or order.estimated_delivery
    eta = f", expected {eta_date.strftime('%a, %b %-d')}" if eta_date else ""
    track = f" Tracking {tracking}: {tracking_url(carrier, tracking)}" if tracking else ""
    if message.kind == SHIPPED:
        return f"Your order {order.number} ({_items(order)}) shipped with {carrier}{eta}.{track}"
    if message.kind == DELAYED:
        when = f"on {eta_date.strftime('%a, %b %-d')}" if eta_date else "a little later than planned"
        return f"Your order {order.number} ({_items(order)}) is running late, sorry: {carrier} now expects to deliver it {when}.{track}"
    if message.kind == DELIVERED:
        return (f"Your order {order.number} ({_items(order)}) was delivered on {_day(message.event_at)}. "
                "If you can't find it, tell me and I'll help.")
    if message.kind == REFUND_ISSUED:
        amount = money(message.amount_cents) if message.amount_cents else "your refund"
        return (f"We've issued {amount} back to your {order.payment_method} for order {order.number}. "
                "Banks usually take 3–5 business days to show it.")
    return f"Did your delivered order {order.number} ({_items(order)}) arrive OK?"


def _buttons(kind: str) -> Tuple[dict, ...]:
    if kind == DELIVERY_CHECK:
        return ({"title": "Yes, all good", "payload": "/thanks"},
                {"title": "Something's wrong with it", "payload": "/damaged_or_faulty_item"},
                {"title": "It hasn't arrived", "payload": "/order_status"}, OPT_OUT_BUTTON)
    if kind in (SHIPPED, DELAYED):
        return ({"title": "Where is it now?", "payload": "/order_status"}, OPT_OUT_BUTTON)
    return (OPT_OUT_BUTTON,)


def keep_sending(service: ProactiveService, stopping: threading.Event, every: float = 5.0) -> None:
    """The web app's background duty: send the proactive messages that became due (quiet hours over, the rate limit
    passed, a busy conversation free again). Several web workers may run it: each message is claimed by one."""
    while not stopping.wait(every):
        try:
            sent = service.send_due()
            if sent:
                logger.info("sent %d proactive message(s) that were due", sent)
        except Exception:  # e.g. the app database briefly unavailable: try again on the next round
            logger.exception("could not send the due proactive messages")
