"""Where a Slack conversation lives, and the Rasa conversation id that names it.

One conversation per customer per place: a direct message with the app is one conversation
(`slack:T…:D…`); in a channel every thread is its own (`slack:T…:C…:<thread ts>`), started by
the customer's top-level message, which the assistant answers in its thread. The id carries
everything needed to post into that place again, because Rasa hands an output channel only the
conversation id (agent replies and hand-back arrive through Rasa's HTTP API, not as an answer
to a Slack event). The web channels refuse ids with this prefix (bot/channels/rest.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

PREFIX = "slack:"
_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,8}$")


@dataclass(frozen=True)
class SlackPlace:
    team: str
    channel: str
    thread_ts: Optional[str] = None  # None: a direct message, answered at the top level

    @property
    def is_direct(self) -> bool:
        return self.thread_ts is None

    @property
    def conversation_id(self) -> str:
        parts = [self.team, self.channel] + ([self.thread_ts] if self.thread_ts else [])
        return PREFIX + ":".join(parts)


def is_direct_channel(channel_id: str, channel_type: Optional[str] = None) -> bool:
    """Direct messages: `channel_type` "im" on events; interaction payloads only have the id (D…)."""
    return channel_type == "im" if channel_type else channel_id.startswith("D")


def place_for_message(team: str, channel: str, ts: str, thread_ts: Optional[str], channel_type: Optional[str]) -> SlackPlace:
    """The conversation a customer's message belongs to: the DM, or the thread it starts or continues."""
    if is_direct_channel(channel, channel_type):
        return SlackPlace(team, channel)
    return SlackPlace(team, channel, thread_ts or ts)


def place_of(conversation_id: str) -> Optional[SlackPlace]:
    """The place a conversation id names; None when it is not a well-formed Slack conversation id."""
    if not conversation_id.startswith(PREFIX):
        return None
    parts = conversation_id[len(PREFIX):].split(":")
    if len(parts) not in (2, 3) or not all(_ID.match(p) for p in parts[:2]):
        return None
    if len(parts) == 3 and not _TS.match(parts[2]):
        return None
    return SlackPlace(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
