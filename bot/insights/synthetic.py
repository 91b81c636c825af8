"""A synthetic support history for the dashboard's benchmark and tests (never for a real deployment).

`seed(app_url, tracker_url, conversations=100_000)` writes N conversations over the last `days` days: Rasa
tracker events (the `events` table of Rasa's SQLTrackerStore, created with Rasa's own metadata), and in the app
database the handoffs of every reason with agent replies, resolutions and abandonments, offline tickets, CSAT
ratings, NPS scores (for the conversations `NPS_RULES` picks, as feedback.yml would), the comments typed with
either, and help-centre events. The shapes are what the product writes (actions/handoff.py, actions/knowledge.py,
bot/policies/handoff_policy.py): a frustration handoff is preceded by `SlotSet("handoff_reason", "frustrated")`,
a queued handoff by `action_handoff` and a `pause`, an unsure message has intent `nlu_fallback` with the guess
second in its ranking. A fixed seed gives the same history for the same arguments.

Fast by construction: rows are generated a chunk of conversations at a time and written with executemany
(one transaction per chunk), with the handoffs' ids chosen here so their messages and ratings need no
round trip.
"""
from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from bot.handoff.models import (
    ABANDONED,
    AGENT,
    AGENT_AUTHOR,
    ASSIGNED,
    CUSTOMER,
    CUSTOMER_REQUEST,
    FRUSTRATED,
    KB_NO_ANSWER,
    LEAD,
    NOT_CONFIDENT,
    NOT_HELPFUL,
    POLICY_TOPIC,
    RESOLVED,
    WAITING,
)
from bot.handoff.store import agents, csat_ratings, handoff_messages, handoffs, tickets
from bot.handoff.store import metadata as handoff_metadata
from bot.insights.dashboard import ensure_tracker_indexes, epoch, events, tracker_metadata
from bot.insights.feedback import AFTER, CSAT, NPS, FeedbackRules, feedback_comments, nps_scores
from bot.insights.log import ANSWERED, CLARIFIED, RATED, UNANSWERED, knowledge_events
from bot.insights.log import metadata as insight_metadata
from bot.slack.places import PREFIX as SLACK_PREFIX
from bot.store.directory import create_engine

CHUNK = 5000  # conversations per transaction
SLACK_SHARE = 0.2
# what customers come for (the domain's intents), roughly as often as a store's support sees them
INTENTS: Tuple[Tuple[str, float], ...] = (
    ("ask_question", 0.30), ("order_status", 0.18), ("return_or_exchange", 0.09), ("refund_status", 0.06),
    ("cancel_order", 0.05), ("change_shipping_address", 0.03), ("damaged_or_faulty_item", 0.03),
    ("billing_problem", 0.03), ("greet", 0.08), ("thanks", 0.05), ("inform", 0.04), ("affirm", 0.02),
    ("deny", 0.01), ("complain", 0.02), ("out_of_scope", 0.01),
)
FALLBACK_SHARE = 0.08  # messages the NLU is unsure of (FallbackClassifier threshold 0.45)
HANDOFF_SHARE = 0.16
REASON_WEIGHTS: Tuple[Tuple[str, float], ...] = (
    (CUSTOMER_REQUEST, 0.40), (NOT_CONFIDENT, 0.10), (KB_NO_ANSWER, 0.12), (NOT_HELPFUL, 0.08), (FRUSTRATED, 0.18),
    (POLICY_TOPIC, 0.12),
)
OFFLINE_SHARE = 0.15  # nobody available: the offline form instead of the queue
TICKET_SHARE = 0.7  # of offline forms, the ones the customer completes
CSAT_SHARE = 0.6  # of resolved handoffs, the ones rated
CSAT_WEIGHTS = (0.06, 0.06, 0.13, 0.30, 0.45)
NPS_RULES = FeedbackRules(nps_share=0.3, nps_when=AFTER)  # which resolved conversations are asked NPS
NPS_SHARE = 0.7  # of those asked, the ones who answer
NPS_WEIGHTS = (0.03, 0.01, 0.02, 0.03, 0.03, 0.06, 0.07, 0.12, 0.18, 0.22, 0.23)  # 0..10
COMMENT_SHARE = 0.3  # of answers, the ones typed with words
COMMENTS = {  # by how the customer rated: low, middle, high
    0: ("still not sorted, and nobody called me back", "took forever to reach anyone", "1, the agent did not read my messages"),
    1: ("fine in the end but the wait was long", "ok, I had to explain it twice"),
    2: ("Maya sorted it quickly, thanks!", "really helpful, would recommend", "fast and friendly"),
}
AGENT_EMAILS = tuple(f"synthetic-agent-{n}@support.example" for n in range(1, 9))
# customer traffic per hour of the day (UTC): quiet at night, busiest late morning and evening
HOURLY = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 9, 9, 9, 9, 8, 8, 8, 7, 5, 3, 2)
TEXTS = {
    "ask_question": ("do you ship to Canada?", "how long is the warranty on headphones?", "can I pay with PayPal?"),
    "order_status": ("where is my order 104512", "has my order shipped yet?"),
    "return_or_exchange": ("I want to return my speaker", "can I exchange these for a bigger size?"),
    "request_human": ("can I talk to a person please", "agent"),
    "complain": ("this is ridiculous, third time I ask", "I'm so done with this"),
}


@dataclass(frozen=True)
class SeedSummary:
    conversations: int
    events: int
    handoffs: int
    tickets: int
    ratings: int
    nps: int
    comments: int
    knowledge_events: int
    since: datetime
    until: datetime


def create_schemas(app: sa.engine.Engine, tracker: sa.engine.Engine) -> None:
    handoff_metadata.create_all(app)
    insight_metadata.create_all(app)
    try:  # Rasa's own table when Rasa is installed (the product always has it), else the same schema
        from rasa.core.tracker_store import SQLTrackerStore

        SQLTrackerStore.Base.metadata.create_all(tracker)
    except ImportError:
        tracker_metadata.create_all(tracker)
    ensure_tracker_indexes(tracker)  # what the product's tracker store adds (bot/store/tracker_store.py)


def seed(app_url: str, tracker_url: str, conversations: int = 100_000, days: int = 90,
         until: Optional[datetime] = None, seed: int = 18) -> SeedSummary:
    """Write the history into the databases at these URLs (created if missing); see `seed_engines`."""
    app, tracker = create_engine(app_url), create_engine(tracker_url)
    try:
        return seed_engines(app, tracker, conversations, days, until, seed)
    finally:
        app.dispose()
        tracker.dispose()


def seed_engines(app: sa.engine.Engine, tracker: sa.engine.Engine, conversations: int = 100_000, days: int = 90,
                 until: Optional[datetime] = None, seed: int = 18) -> SeedSummary:
    """`conversations` conversations starting in [until - days, until) (until: now, to the minute), seeded."""
    until = until or datetime.utcnow().replace(second=0, microsecond=0)
    since = until - timedelta(days=days)
    create_schemas(app, tracker)
    rng = random.Random(seed)
    agent_ids = _agents(app, since)
    with app.connect() as conn:  # ids picked here so messages and ratings can point at their handoff at once
        next_handoff = int(conn.execute(sa.select(sa.func.max(handoffs.c.id))).scalar() or 0) + 1
    totals = dict(events=0, handoffs=0, tickets=0, ratings=0, nps=0, comments=0, knowledge_events=0)
    for first in range(0, conversations, CHUNK):
        batch = _Batch(rng, since, until, agent_ids, next_handoff)
        for n in range(first, min(first + CHUNK, conversations)):
            batch.conversation(n, seed)
        next_handoff = batch.next_handoff
        with tracker.begin() as conn:
            conn.execute(sa.insert(events), batch.events)
        with app.begin() as conn:
            for table, rows in ((handoffs, batch.handoffs), (handoff_messages, batch.messages), (tickets, batch.tickets),
                                (csat_ratings, batch.ratings), (nps_scores, batch.nps), (feedback_comments, batch.comments),
                                (knowledge_events, batch.knowledge)):
                if rows:
                    conn.execute(sa.insert(table), rows)
        for name, rows in (("events", batch.events), ("handoffs", batch.handoffs), ("tickets", batch.tickets),
                           ("ratings", batch.ratings), ("nps", batch.nps), ("comments", batch.comments),
                           ("knowledge_events", batch.knowledge)):
            totals[name] += len(rows)
    if app.dialect.name == "postgresql":  # explicit ids leave the serial behind: the product's next insert must not clash
        with app.begin() as conn:
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('handoffs', 'id'), "
                                 "COALESCE((SELECT MAX(id) FROM handoffs), 1))"))
    return SeedSummary(conversations, since=since, until=until, **totals)


def _agents(app: sa.engine.Engine, now: datetime) -> List[int]:
    with app.begin() as conn:
        existing = {row.email: row.id for row in conn.execute(
            sa.select(agents.c.email, agents.c.id).where(agents.c.email.in_(AGENT_EMAILS)))}
        for n, email in enumerate(AGENT_EMAILS):
            if email not in existing:
                existing[email] = int(conn.execute(sa.insert(agents).values(
                    email=email, name=f"Synthetic Agent {n + 1}", role=LEAD if n == 0 else AGENT,
                    password_hash="!synthetic", active=True, created_at=now)).inserted_primary_key[0])
    return [existing[email] for email in AGENT_EMAILS]


def _pick(rng: random.Random, weighted: Sequence[Tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in weighted], [w for _, w in weighted])[0]


def _lognormal(rng: random.Random, median: float, spread: float = 0.8) -> float:
    return median * math.exp(rng.gauss(0.0, spread))


class _Batch:
    """The rows of a chunk of conversations, for each table."""

    def __init__(self, rng: random.Random, since: datetime, until: datetime, agent_ids: List[int], next_handoff: int) -> None:
        self.rng, self.since, self.until, self.agent_ids = rng, since, until, agent_ids
        self.next_handoff = next_handoff
        self.span_days = (until - since).days or 1
        self.events: List[Dict[str, Any]] = []
        self.handoffs: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []
        self.tickets: List[Dict[str, Any]] = []
        self.ratings: List[Dict[str, Any]] = []
        self.nps: List[Dict[str, Any]] = []
        self.comments: List[Dict[str, Any]] = []
        self.knowledge: List[Dict[str, Any]] = []

    # tracker events, as Rasa's SQLTrackerStore.save writes them ------------------------------------------------

    def _event(self, cid: str, at: datetime, data: Dict[str, Any], intent: Optional[str] = None) -> None:
        data["timestamp"] = epoch(at)
        self.events.append(dict(sender_id=cid, type_name=data["event"], timestamp=data["timestamp"], intent_name=intent,
                                action_name=data.get("name"), data=json.dumps(data)))

    def _action(self, cid: str, at: datetime, name: str) -> None:
        self._event(cid, at, {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0})

    def _user(self, cid: str, at: datetime, intent: str, channel: str, frustration: float = 0.05) -> str:
        """A customer message; returns the intent as the NLU put it (nlu_fallback when it was unsure)."""
        rng = self.rng
        text = rng.choice(TEXTS.get(intent, (f"something about {intent.replace('_', ' ')}",)))
        confidence = round(rng.uniform(0.5, 0.99), 3)
        ranking = [{"name": intent, "confidence": confidence}, {"name": "inform", "confidence": round(1 - confidence, 3)}]
        stated = intent
        if rng.random() < FALLBACK_SHARE:
            stated = "nlu_fallback"
            ranking = [{"name": "nlu_fallback", "confidence": 0.45},
                       {"name": intent, "confidence": round(rng.uniform(0.2, 0.44), 3)}] + ranking[1:]
        signals = ["negative"] if frustration > 0.5 else []
        self._event(cid, at, {"event": "user", "text": text, "input_channel": channel, "message_id": f"m{len(self.events)}",
                              "parse_data": {"intent": ranking[0], "intent_ranking": ranking, "entities": [],
                                             "text": text, "frustration": {"score": frustration, "signals": signals}}},
                    intent=stated)
        return stated

    # one conversation -----------------------------------------------------------------------------------------

    def conversation(self, n: int, seed: int) -> None:
        rng = self.rng
        slack = rng.random() < SLACK_SHARE
        cid = f"{SLACK_PREFIX}TSYNTH:D{seed:02d}{n:08d}" if slack else f"web-{seed:02d}-{n:08d}"
        channel = "slack" if slack else "socketio"
        latest = self.until - timedelta(minutes=30)  # room for the conversation before "now"
        while True:
            day = rng.randrange(self.span_days)
            hour = rng.choices(range(24), HOURLY)[0]
            at = self.since + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
            if at < latest:
                break
        self._action(cid, at, "action_session_start")
        self._event(cid, at, {"event": "session_started"})
        self._action(cid, at, "action_listen")
        handoff_reason = _pick(rng, REASON_WEIGHTS) if rng.random() < HANDOFF_SHARE else None
        turns = rng.randint(1, 5)
        for turn in range(turns):
            at += timedelta(seconds=rng.uniform(5, 90))
            intent = _pick(rng, INTENTS)
            if handoff_reason == CUSTOMER_REQUEST and turn == turns - 1:
                intent = "request_human"
            angry = handoff_reason == FRUSTRATED and turn >= turns - 2
            stated = self._user(cid, at, "complain" if angry else intent, channel,
                                frustration=round(rng.uniform(0.6, 0.95), 3) if angry else round(rng.uniform(0, 0.3), 3))
            if stated == "nlu_fallback" or intent == "ask_question":
                at = self._help_centre(cid, at, channel)
            else:
                self._action(cid, at + timedelta(seconds=0.3), f"action_{intent}" if intent != "greet" else "utter_greet")
            self._action(cid, at + timedelta(seconds=0.4), "action_listen")
        if handoff_reason is not None:
            self._hand_off(cid, at + timedelta(seconds=1), handoff_reason, channel)

    def _help_centre(self, cid: str, at: datetime, channel: str) -> datetime:
        rng = self.rng
        question = "how long is the warranty on headphones?"
        self._action(cid, at + timedelta(seconds=0.3), "action_answer_question")
        roll, kb_at = rng.random(), at + timedelta(seconds=0.3)
        if roll < 0.68:
            article = f"article-{rng.randrange(64):02d}"
            self.knowledge.append(dict(conversation_id=cid, kind=ANSWERED, question=question, at=kb_at, article_id=article,
                                       score=round(rng.uniform(0.5, 0.9), 3), helpful=None))
            if rng.random() < 0.5:
                at += timedelta(seconds=rng.uniform(5, 40))
                helpful = rng.random() < 0.7
                self._user(cid, at, "answer_helped" if helpful else "answer_not_helpful", channel)
                self.knowledge.append(dict(conversation_id=cid, kind=RATED, question=question, at=at, article_id=article,
                                           score=None, helpful=helpful))
        elif roll < 0.76:
            self.knowledge.append(dict(conversation_id=cid, kind=CLARIFIED, question=question, at=kb_at,
                                       article_id=f"article-{rng.randrange(64):02d}", score=0.4, helpful=None))
        else:
            self.knowledge.append(dict(conversation_id=cid, kind=UNANSWERED, question=question, at=kb_at, article_id=None,
                                       score=0.2, helpful=None))
        return at

    def _hand_off(self, cid: str, at: datetime, reason: str, channel: str) -> None:
        rng = self.rng
        if reason != CUSTOMER_REQUEST:  # the policy and the actions set the reason; the request_human rule does not
            self._event(cid, at, {"event": "slot", "name": "handoff_reason", "value": reason})
        self._action(cid, at + timedelta(seconds=0.1), "action_handoff")
        self._event(cid, at + timedelta(seconds=0.2), {"event": "slot", "name": "handoff_reason", "value": None})
        if rng.random() < OFFLINE_SHARE:
            self._event(cid, at + timedelta(seconds=0.3), {"event": "active_loop", "name": "offline_form"})
            if rng.random() < TICKET_SHARE:
                done = at + timedelta(seconds=rng.uniform(30, 180))
                if done < self.until:
                    self._action(cid, done, "action_create_ticket")
                    self.tickets.append(dict(conversation_id=cid, channel=channel, email=f"{cid.replace(':', '.')}@example.com",
                                             customer_name=None, description="please get back to me", reason=reason,
                                             packet="{}", state="open", created_at=done, closed_at=None))
            return
        self._event(cid, at + timedelta(seconds=0.3), {"event": "pause"})
        handoff_id, self.next_handoff = self.next_handoff, self.next_handoff + 1
        night = at.hour < 7 or at.hour >= 21
        claimed = at + timedelta(seconds=_lognormal(rng, 600 if night else 90))
        row = dict(id=handoff_id, conversation_id=cid, channel=channel, state=WAITING, reason=reason,
                   reason_detail=reason.replace("_", " "), summary="synthetic", packet="{}", customer_name=None,
                   customer_email=None, customer_verified=rng.random() < 0.4,
                   frustration=round(rng.uniform(0.61, 0.95) if reason == FRUSTRATED else rng.uniform(0, 0.5), 3),
                   agent_id=None, created_at=at, assigned_at=None, resolved_at=None, abandoned_at=None, updated_at=at)
        self.handoffs.append(row)
        self.messages.append(dict(handoff_id=handoff_id, author=CUSTOMER, text="hello? anyone there?",
                                  at=at + timedelta(seconds=20), agent_id=None, delivered=True))
        if rng.random() < 0.08:  # the customer gives up before anyone claims it
            gone = at + timedelta(seconds=_lognormal(rng, 300))
            if gone < min(claimed, self.until):
                row.update(state=ABANDONED, abandoned_at=gone, updated_at=gone)
                return
        if claimed >= self.until:
            return  # still in the queue
        agent = rng.choice(self.agent_ids)
        row.update(state=ASSIGNED, agent_id=agent, assigned_at=claimed, updated_at=claimed)
        reply = claimed + timedelta(seconds=rng.uniform(10, 120))
        if rng.random() < 0.04 or reply >= self.until:  # claimed, then lost before a word was said
            if rng.random() < 0.5 and reply < self.until:
                row.update(state=ABANDONED, abandoned_at=reply, updated_at=reply)
            return
        for k in range(rng.randint(1, 3)):
            self.messages.append(dict(handoff_id=handoff_id, author=AGENT_AUTHOR, text="Thanks for waiting, let me check.",
                                      at=reply + timedelta(seconds=60 * k), agent_id=agent, delivered=True))
        finished = reply + timedelta(seconds=_lognormal(rng, 480))
        if finished >= self.until:
            return  # still with the agent
        if rng.random() < 0.05:
            row.update(state=ABANDONED, abandoned_at=finished, updated_at=finished)
            return
        row.update(state=RESOLVED, resolved_at=finished, updated_at=finished)
        self._event(cid, finished, {"event": "resume"})
        self._user(cid, finished, "handoff_resolved", channel)
        self._action(cid, finished + timedelta(seconds=0.2), "action_ask_csat")
        rated = finished + timedelta(seconds=rng.uniform(5, 60))
        if rng.random() < CSAT_SHARE and rated < self.until:
            rating = rng.choices(range(1, 6), CSAT_WEIGHTS)[0]
            self._user(cid, rated, "csat_rating", channel)
            self.ratings.append(dict(conversation_id=cid, handoff_id=handoff_id, rating=rating, at=rated))
            self._comment(cid, rated, CSAT, rating, 0 if rating <= 2 else 1 if rating == 3 else 2)
            if NPS_RULES.asks_nps(cid):  # the question follows the rating (actions/handoff.py, actions/feedback.py)
                answered = rated + timedelta(seconds=rng.uniform(5, 60))
                if rng.random() < NPS_SHARE and answered < self.until:
                    score = rng.choices(range(11), NPS_WEIGHTS)[0]
                    self._user(cid, answered, "nps_score", channel)
                    self._action(cid, answered + timedelta(seconds=0.2), "action_record_nps")
                    self.nps.append(dict(conversation_id=cid, handoff_id=handoff_id, score=score, at=answered))
                    self._comment(cid, answered, NPS, score, 0 if score <= 6 else 1 if score <= 8 else 2)

    def _comment(self, cid: str, at: datetime, survey: str, score: int, mood: int) -> None:
        if self.rng.random() < COMMENT_SHARE:
            text = f"{score}, {self.rng.choice(COMMENTS[mood])}"
            self.comments.append(dict(conversation_id=cid, survey=survey, score=score, text=text, at=at))


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Seed a synthetic support history (benchmarks and tests only).")
    parser.add_argument("--app-db", required=True, help="SQLAlchemy URL of the app database")
    parser.add_argument("--tracker-store", required=True, help="SQLAlchemy URL of the tracker store")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    print(seed(args.app_db, args.tracker_store, args.conversations, args.days, seed=args.seed))


if __name__ == "__main__":
    main()
