"""What customers say about the help they got after a person resolved their conversation: CSAT (1-5), NPS (0-10)
and the words they add to a rating.

Who is asked what is the rule of one file, `feedback.yml` (`FEEDBACK_CONFIG` points elsewhere): the share of
resolved conversations asked "How likely are you to recommend us?", whether that comes after the CSAT rating or
instead of it, and on which channels. Which conversations fall in the share is decided by a SHA-256 of the
conversation id, not by chance: the same conversation always gets the same survey (after a restart, on another
action server, in a test), and the share of many conversations converges on the configured one.

NPS scores and rating comments live in the app database beside `csat_ratings`; the leads' dashboard
(bot/insights/dashboard.py) counts them in SQL. A comment is what the customer typed with their rating beyond the
number itself ("2 stars, still not sorted"); a button press or a bare "4 out of 5" leaves none.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Tuple

import sqlalchemy as sa
import yaml

from bot.errors import ConfigurationError
from bot.insights.log import metadata
from bot.insights.sql import CHANNELS, channel_of
from bot.settings import feedback_path
from bot.store.directory import create_engine

CSAT, NPS = "csat", "nps"
AFTER, INSTEAD = "after", "instead"  # NPS after the CSAT rating, or in its place
NPS_MIN, NPS_MAX = 0, 10
CSAT_MIN, CSAT_MAX = 1, 5
MAX_COMMENT = 2000
# NPS's standard bands: 9-10 promoters, 7-8 passives, 0-6 detractors
PROMOTER, PASSIVE, DETRACTOR = "promoter", "passive", "detractor"
NUMBER_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10}
# the words of a rating that say nothing beyond the number ("I'd give it a solid 4 out of 5 stars")
RATING_FILLER = frozenset("""
a an i i'd id i'll ill i'm im would will give given giving it you u my the is its it's rate rated rating score scored
star stars point points out of from solid maybe probably definitely guess say i'd say about around like well um hmm
ok okay so just and on scale nps csat rating: score: /
""".split())

nps_scores = sa.Table(
    "nps_scores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("handoff_id", sa.Integer),  # the resolved handoff it followed (no foreign key: another module's table)
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
)

feedback_comments = sa.Table(
    "feedback_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("survey", sa.String(8), nullable=False),  # csat | nps
    sa.Column("score", sa.Integer, nullable=False),  # the rating it came with
    sa.Column("text", sa.Text, nullable=False),  # as the customer wrote it; masked where leads read it
    sa.Column("at", sa.DateTime, nullable=False, index=True),
)


def nps_band(score: int) -> str:
    return PROMOTER if score >= 9 else PASSIVE if score >= 7 else DETRACTOR


def in_share(conversation_id: str, share: float) -> bool:
    """Whether the conversation is among `share` of all conversations, by a hash of its id (stable everywhere)."""
    digest = hashlib.sha256(conversation_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < share


@dataclass(frozen=True)
class FeedbackRules:
    nps_share: float = 0.0  # of resolved conversations, the share asked NPS
    nps_when: str = AFTER
    nps_channels: Tuple[str, ...] = CHANNELS

    def __post_init__(self) -> None:
        if isinstance(self.nps_share, bool) or not isinstance(self.nps_share, (int, float)) or not 0 <= self.nps_share <= 1:
            raise ValueError(f"nps.share must be a number from 0 to 1, not {self.nps_share!r}")
        if self.nps_when not in (AFTER, INSTEAD):
            raise ValueError(f"nps.when must be {AFTER} or {INSTEAD}, not {self.nps_when!r}")
        unknown = set(self.nps_channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"nps.channels: unknown channel(s) {', '.join(sorted(map(str, unknown)))} "
                             f"(known: {', '.join(CHANNELS)})")

    @classmethod
    def from_mapping(cls, config: Mapping) -> "FeedbackRules":
        unknown = set(config) - {"nps"}
        if unknown:
            raise ValueError(f"unknown section(s) {', '.join(sorted(map(str, unknown)))}")
        nps = config.get("nps") or {}
        if not isinstance(nps, Mapping):
            raise ValueError("nps: expected a mapping with share, when and channels")
        bad = set(nps) - {"share", "when", "channels"}
        if bad:
            raise ValueError(f"nps: unknown setting(s) {', '.join(sorted(map(str, bad)))}")
        channels = nps.get("channels", list(CHANNELS))
        if not isinstance(channels, list):
            raise ValueError("nps.channels: expected a list such as [website, slack]")
        return cls(nps_share=nps.get("share", 0.0), nps_when=str(nps.get("when", AFTER)), nps_channels=tuple(channels))

    def asks_nps(self, conversation_id: str) -> bool:
        return channel_of(conversation_id) in self.nps_channels and in_share(conversation_id, self.nps_share)

    def surveys(self, conversation_id: str) -> Tuple[str, ...]:
        """What this resolved conversation is asked, in order: (csat,), (csat, nps) or (nps,)."""
        if not self.asks_nps(conversation_id):
            return (CSAT,)
        return (NPS,) if self.nps_when == INSTEAD else (CSAT, NPS)


def load_feedback_rules(path: Optional[Path] = None) -> FeedbackRules:
    """Read and validate `feedback.yml`; a mistake names the file and the setting."""
    path = path or feedback_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: cannot read the feedback settings: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping with an nps section")
    try:
        return FeedbackRules.from_mapping(raw)
    except ValueError as error:
        raise ConfigurationError(f"{path}: {error}") from None


def score_in(text: str, lowest: int, highest: int) -> Optional[int]:
    """The first whole number from `lowest` to `highest` in a customer's answer, in digits or words ("a nine")."""
    for token in re.findall(r"\d+|[a-z]+", text.lower()):
        value = int(token) if token.isdigit() else NUMBER_WORDS.get(token)
        if value is not None and lowest <= value <= highest:
            return value
    return None


def comment_in(text: str) -> Optional[str]:
    """The customer's words beyond the rating itself, or None: a button's payload, "9", "4 out of 5 stars"."""
    text = (text or "").strip()
    if not text or text.startswith("/"):
        return None
    words = [w for w in re.findall(r"[a-z']+|\d+", text.lower()) if not w.isdigit() and w not in NUMBER_WORDS]
    if not any(len(w) >= 3 and w not in RATING_FILLER for w in words):
        return None
    return text[:MAX_COMMENT]


@dataclass(frozen=True)
class NpsScore:
    conversation_id: str
    score: int
    at: datetime
    handoff_id: Optional[int] = None


@dataclass(frozen=True)
class Comment:
    conversation_id: str
    survey: str  # csat | nps
    score: int
    text: str
    at: datetime


class SqlFeedbackStore:
    """NPS scores and rating comments in the app database."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> "SqlFeedbackStore":
        store = cls(create_engine(url))
        metadata.create_all(store._engine, tables=[nps_scores, feedback_comments])
        return store

    def add_nps(self, record: NpsScore) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.insert(nps_scores).values(conversation_id=record.conversation_id, handoff_id=record.handoff_id,
                                                      score=record.score, at=record.at))

    def add_comment(self, comment: Comment) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.insert(feedback_comments).values(
                conversation_id=comment.conversation_id, survey=comment.survey, score=comment.score, text=comment.text,
                at=comment.at))

    def nps(self, conversation_id: Optional[str] = None) -> List[NpsScore]:
        query = sa.select(nps_scores).order_by(nps_scores.c.id)
        if conversation_id is not None:
            query = query.where(nps_scores.c.conversation_id == conversation_id)
        with self._engine.connect() as conn:
            return [NpsScore(r.conversation_id, r.score, r.at, r.handoff_id) for r in conn.execute(query)]

    def comments(self, conversation_id: Optional[str] = None) -> List[Comment]:
        query = sa.select(feedback_comments).order_by(feedback_comments.c.id)
        if conversation_id is not None:
            query = query.where(feedback_comments.c.conversation_id == conversation_id)
        with self._engine.connect() as conn:
            return [Comment(r.conversation_id, r.survey, r.score, r.text, r.at) for r in conn.execute(query)]


class InvalidScore(ValueError):
    """A score outside its scale."""


class FeedbackService:
    """Which survey a resolved conversation gets, and recording the answers."""

    def __init__(self, rules: FeedbackRules, store: SqlFeedbackStore, clock: Callable[[], datetime]) -> None:
        self.rules = rules
        self.store = store
        self.clock = clock

    def surveys(self, conversation_id: str) -> Tuple[str, ...]:
        return self.rules.surveys(conversation_id)

    def record_nps(self, conversation_id: str, score: int, text: str = "", handoff_id: Optional[int] = None) -> NpsScore:
        """The score, and the words the customer wrote with it as a comment."""
        if isinstance(score, bool) or not NPS_MIN <= int(score) <= NPS_MAX:
            raise InvalidScore(f"an NPS score is a whole number from {NPS_MIN} to {NPS_MAX}")
        record = NpsScore(conversation_id, int(score), self.clock(), handoff_id)
        self.store.add_nps(record)
        self.record_comment(conversation_id, NPS, int(score), text)
        return record

    def record_comment(self, conversation_id: str, survey: str, score: int, text: str) -> Optional[Comment]:
        """The customer's words with a rating, when they said more than the number (None: nothing to keep)."""
        if survey not in (CSAT, NPS):
            raise ValueError(f"survey must be {CSAT} or {NPS}")
        words = comment_in(text)
        if words is None:
            return None
        comment = Comment(conversation_id, survey, int(score), words, self.clock())
        self.store.add_comment(comment)
        return comment
