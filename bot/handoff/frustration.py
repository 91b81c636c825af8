"""How frustrated the customer is over the conversation, from the per-message scores of the NLU pipeline.

Each customer message arrives with a score (0..1) and the cues found in it (`bot/nlu/frustration.py`:
"negative", "caps", "profanity", "repeat_ask", "sarcasm", "threat_legal", "upset"). One message is a noisy
witness (terse commands such as "kill the order" or "forget it" score high), so the conversation's level
is a running average that starts calm and leans on the latest messages: one negative message alone stays
below the default threshold, a second one or an explicit cue crosses it. What a single message cannot
show is added on top:

- rising negativity: the scores climb over several messages;
- sustained unhappiness: each of the latest few messages reads as unhappy (icy politeness keeps each score
  modest, but not one message of the run is content);
- repetition: the customer sends the same question again: similar text (character trigram Jaccard, of the
  whole messages or of one of their sentences or clauses) or, when the NLU passed on its sentence embeddings, the same
  meaning in other words (cosine); a wording like an earlier repetition counts too, and so does the customer's
  rewording after "did you mean ...?" (Rasa's two-stage fallback) of the message it did not understand. Asking the
  same question for the third time hands off by itself: the assistant has not helped, however calmly
  the customer puts it;
- a negative message right after the customer said an answer did not help;
- the cues of the latest messages, once per message that has them: shouting, swearing and sarcasm when the
  message is at least somewhat negative ("THANK YOU!!" is not frustration), the customer saying they are
  angry, fed up or leaving (on such a message too), and always an explicit "third time I ask" or a legal threat.

The verdict names what drove it, in words for the agent. Every number is a field of `FrustrationRules`,
read from the handoff configuration with `FrustrationRules.from_mapping`. Pure: no Rasa, no model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True)
class TurnSignal:
    """One customer message with its per-message frustration from the NLU pipeline."""

    text: str
    score: float
    signals: tuple[str, ...] = ()
    # the NLU's sentence embedding of the text (unit length), when it passed one on
    vector: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    # the customer had just said an answer did not help
    after_failure: bool = False
    # asked "did you mean ...?" about the message before, the customer said it again in other words
    restates_previous: bool = False


@dataclass(frozen=True)
class FrustrationVerdict:
    """The conversation's current frustration level (0..1), whether it crosses the threshold, and why."""

    score: float
    frustrated: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FrustrationRules:
    """The numbers of the conversation-level combination (all optional in the configuration)."""

    # the conversation counts as frustrated at or above this score. 0.61, not the earlier 0.65: in the handoff
    # benchmark's blind runs (docs/bench-handoff-*-blind.json, each set played before anyone read it) five
    # frustrated conversations peaked between 0.61 and 0.65 and no happy or out-of-scope one above 0.58. Kept
    # above `recency` (0.6): one message alone, however angry, never crosses it without a cue.
    threshold: float = 0.61
    window: int = 8  # only the latest this many customer messages are looked at
    recency: float = 0.6  # weight of the newest message in the running level (the rest decays geometrically)
    start_level: float = 0.0  # the level before the first message: a conversation starts calm
    rising_weight: float = 0.15  # added when the scores rise over several messages
    rising_min_messages: int = 3
    rising_min_increase: float = 0.3  # from the lowest to the latest score of the rising run
    rising_min_latest: float = 0.5  # a climb from 0.05 to 0.35 is not negativity yet
    # added when each of the latest few messages reads as unhappy: politeness can hide how bad each one is, not
    # that the customer has not had one good moment in the conversation
    sustained_weight: float = 0.15
    sustained_messages: int = 3
    sustained_min_score: float = 0.35
    repetition_weight: float = 0.15  # added per repetition of the latest message (beyond the first)
    repetition_similarity: float = 0.5  # character-trigram Jaccard at which two messages are the same question
    repetition_min_words: int = 3  # "yes", "no" and order numbers are repeated by design
    # cosine of the sentence embeddings at which two messages are the same question in other words (on the
    # project's own pairs, tests/bot/handoff/test_frustration.py: rewordings 0.79-0.94, different questions on
    # the same product or order 0.19-0.58)
    repetition_cosine: float = 0.75
    repetition_handoff: int = 3  # the same question this many times is frustration on its own
    caps_weight: float = 0.1
    profanity_weight: float = 0.15
    sarcasm_weight: float = 0.15  # as plain as swearing: with a message scored 0.77 or more it crosses the threshold
    repeat_ask_weight: float = 0.2  # "third time I ask", "still no refund", "I already told you"
    threat_legal_weight: float = 0.3
    upset_weight: float = 0.2  # "I'm getting really angry", "I'm so done with this", "this is ridiculous"
    # added when the latest message is negative (the per-message model flagged it, at its own threshold) and
    # follows the customer's rating that an answer did not help: annoyance at a failed attempt is where people give up
    after_failure_weight: float = 0.1
    cue_memory: int = 2  # cues count while they are in one of the latest this many messages (each such message counts)
    cue_min_score: float = 0.3  # caps, profanity, sarcasm and upset count only on a message scored at least this

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type == "int":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"frustration.{item.name}: expected a whole number of at least 1, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"frustration.{item.name}: expected a number from 0 to 1, got {value!r}")
        if self.threshold <= 0 or self.recency <= 0 or self.repetition_similarity <= 0:
            raise ValueError("frustration: threshold, recency and repetition_similarity must be above 0")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> "FrustrationRules":
        """Rules from a plain mapping (the `frustration` section of the handoff YAML); missing keys keep their defaults."""
        settings = dict(settings or {})
        known = {item.name for item in fields(cls)}
        unknown = sorted(str(key) for key in settings if key not in known)
        if unknown:
            raise ValueError(f"frustration: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values = dict(settings)
        for item in fields(cls):  # YAML writes 1 for 1.0; accept it for the number fields
            if item.name in values and item.type == "float" and isinstance(values[item.name], int) and not isinstance(values[item.name], bool):
                values[item.name] = float(values[item.name])
        return cls(**values)


# --------------------------------------------------------------------------------------------
# Text similarity (for repetition)
# --------------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _normalise(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def _trigrams(text: str) -> frozenset[str]:
    padded = f" {text} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of the character trigrams of two messages (case and punctuation ignored)."""
    a, b = _trigrams(_normalise(first)), _trigrams(_normalise(second))
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _word_count(text: str) -> int:
    return len(_normalise(text).split())


# sentences and comma-joined clauses: "I don't want the FedEx thing, I want you to change the address" holds the demand
_SENTENCE_END = re.compile(r"(?<=[.?!;,])\s+")


def _sentences(text: str, min_words: int) -> list[str]:
    """The message and, when it has several, each of its sentences or clauses of at least `min_words` words."""
    whole = text.strip()
    return [text, *(part for part in _SENTENCE_END.split(whole) if part != whole and _word_count(part) >= min_words)]


def repeats(first: str, second: str, threshold: float, min_words: int) -> bool:
    """Alike in characters as wholes, or a sentence of one alike the whole other: a repeated question is
    often wrapped in new words ("I'm asking a very simple question. when will the refund show up?"). A
    sentence is never compared with a sentence: two questions that both end "Thank you so much." differ."""
    return any(similarity(part, second) >= threshold for part in _sentences(first, min_words)) or any(
        similarity(first, part) >= threshold for part in _sentences(second, min_words)[1:]
    )


_NUMBER = re.compile(r"\d{3,}")


def _different_orders(first: TurnSignal, second: TurnSignal) -> bool:
    numbers = set(_NUMBER.findall(first.text)), set(_NUMBER.findall(second.text))
    return all(numbers) and numbers[0] != numbers[1]


def same_question(first: TurnSignal, second: TurnSignal, rules: "FrustrationRules") -> bool:
    """Whether two messages ask the same thing: alike in characters or, with embeddings, in meaning.

    Messages about different order numbers ("where is 104512?", "and 104513?") are different questions
    however alike their words."""
    if min(_word_count(first.text), _word_count(second.text)) < rules.repetition_min_words:
        return False
    if _different_orders(first, second):
        return False
    if repeats(first.text, second.text, rules.repetition_similarity, rules.repetition_min_words):
        return True
    if first.vector is None or second.vector is None or first.vector.shape != second.vector.shape:
        return False
    return float(np.dot(first.vector, second.vector)) >= rules.repetition_cosine


# --------------------------------------------------------------------------------------------
# The combination
# --------------------------------------------------------------------------------------------


def _level(scores: Sequence[float], recency: float, start: float) -> float:
    level = start
    for score in scores:
        level = recency * score + (1 - recency) * level
    return level


def _rising_run(scores: Sequence[float], tolerance: float = 0.05) -> int:
    """Length of the run of (almost) non-decreasing scores that ends at the latest message."""
    length = 1
    for index in range(len(scores) - 1, 0, -1):
        if scores[index] + tolerance < scores[index - 1]:
            break
        length += 1
    return length


_CUE_WORDS = {
    "caps": "ALL CAPS",
    "profanity": "swearing",
    "sarcasm": "sarcasm",
    "repeat_ask": "says they are asking again",
    "threat_legal": "mentions a chargeback or legal action",
    "upset": "says they are angry, fed up or leaving",
}
_GATED_CUES = ("caps", "profanity", "sarcasm", "upset")  # only on messages that are at least somewhat negative


def _same_as_latest(turns: Sequence[TurnSignal], rules: FrustrationRules) -> int:
    """How many earlier messages ask what the latest one asks: directly, or through an earlier message that
    does (rewordings drift: the third wording may be far from the first and close to the second). A message
    and its restatement after "did you mean ...?" ask the same thing, however different their words."""
    turns = list(turns)

    def alike(first: int, second: int) -> bool:
        low, high = sorted((first, second))
        return (high == low + 1 and turns[high].restates_previous) or same_question(turns[low], turns[high], rules)

    last = len(turns) - 1
    direct = {index for index in range(last) if alike(index, last)}
    chained = {
        index for index in range(last)
        if index not in direct and not _different_orders(turns[index], turns[last])
        and any(alike(index, hop) for hop in direct if hop != index)
    }
    return len(direct) + len(chained)


def conversation_frustration(turns: Sequence[TurnSignal], rules: FrustrationRules | None = None) -> FrustrationVerdict:
    """The conversation's frustration now, from its customer messages in order (oldest first)."""
    rules = rules or FrustrationRules()
    recent = list(turns)[-rules.window :]
    if not recent:
        return FrustrationVerdict(0.0, False, ())
    scores = [min(max(float(turn.score), 0.0), 1.0) for turn in recent]
    level = _level(scores, rules.recency, rules.start_level)
    latest = scores[-1]
    # (contribution to the score, reason); the level itself is the first contribution
    if len(scores) == 1:
        parts = [(level, f"negative message (score {latest:.2f})")]
    else:
        parts = [(level, f"negative tone over the last {len(scores)} messages (level {level:.2f}, latest {latest:.2f})")]

    run = _rising_run(scores)
    if run >= rules.rising_min_messages and latest >= rules.rising_min_latest:
        low = min(scores[-run:])
        if latest - low >= rules.rising_min_increase:
            parts.append((rules.rising_weight, f"rising negativity over {run} messages ({low:.2f} → {latest:.2f})"))

    streak = scores[-rules.sustained_messages :]
    if len(streak) == rules.sustained_messages and min(streak) >= rules.sustained_min_score and rules.sustained_weight > 0:
        parts.append((rules.sustained_weight, f"unhappy in each of the last {len(streak)} messages"))

    same = 1 + _same_as_latest(recent, rules)
    if same >= 2:
        weight = rules.threshold if same >= rules.repetition_handoff else rules.repetition_weight * (same - 1)
        parts.append((weight, f"repeated the same question {same} times"))

    if recent[-1].after_failure and "negative" in recent[-1].signals and rules.after_failure_weight > 0:
        parts.append((rules.after_failure_weight, "negative right after an answer that did not help"))

    memory = list(zip(recent, scores))[-rules.cue_memory :]
    weights = {
        "caps": rules.caps_weight,
        "profanity": rules.profanity_weight,
        "sarcasm": rules.sarcasm_weight,
        "repeat_ask": rules.repeat_ask_weight,
        "threat_legal": rules.threat_legal_weight,
        "upset": rules.upset_weight,
    }
    for cue, weight in weights.items():
        hits = [cue in turn.signals and (cue not in _GATED_CUES or score >= rules.cue_min_score) for turn, score in memory]
        if weight > 0 and any(hits):
            where = "the latest message" if hits == [False] * (len(hits) - 1) + [True] else f"{sum(hits)} of the last {len(hits)} messages"
            # each message with the cue counts: sarcasm or swearing kept up over messages is no slip
            parts.append((weight * sum(hits), f"{_CUE_WORDS[cue]} in {where}"))

    score = min(1.0, sum(value for value, _ in parts))
    # The level is only a reason when it matters; the added signals always are.
    named = [(value, reason) for index, (value, reason) in enumerate(parts) if index > 0 or value >= rules.threshold / 2]
    reasons = tuple(reason for _, reason in sorted(named, key=lambda item: -item[0]))
    return FrustrationVerdict(round(score, 4), score >= rules.threshold, reasons)
