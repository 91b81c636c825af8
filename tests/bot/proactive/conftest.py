"""A proactive service over a real SQLite app database, the seeded demo store, and a gateway that records triggers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import List, Optional

import pytest

from bot.handoff.hours import DAYS, BusinessHours
from bot.handoff.rasa_gateway import GatewayError
from bot.handoff.store import SqlHandoffStore
from bot.proactive.delivery import ConversationState
from bot.proactive.service import ProactiveService
from bot.proactive.store import SqlProactiveStore
from tests.conftest import seeded_directory
from tests.databases import sqlite_url
from tests.fakes import Clock, InMemoryCustomerDirectory

# Tuesday 2026-10-06 10:00 UTC: the team (09:00-17:00 UTC on weekdays here) is working
OPEN = datetime(2026, 10, 6, 10, 0)
HOURS = BusinessHours.from_mapping({"timezone": "UTC", "weekly": {day: ("09:00-17:00" if day not in ("saturday", "sunday") else "closed")
                                                                  for day in DAYS}})


@dataclass
class RecordingProactiveGateway:
    """Records the triggers that would reach Rasa; `states` says how each conversation stands, `fail` makes Rasa unreachable."""

    triggered: List[tuple] = field(default_factory=list)
    states: dict = field(default_factory=dict)
    fail: bool = False

    def conversation_state(self, conversation_id: str) -> ConversationState:
        self._check()
        return self.states.get(conversation_id, ConversationState(paused=False, active_loop=None, customer_id=None, verified=False))

    def trigger(self, conversation_id: str, delivery_id: str) -> None:
        self._check()
        self.triggered.append((conversation_id, delivery_id))

    def _check(self) -> None:
        if self.fail:
            raise GatewayError("the conversation server is unreachable (test)")


@dataclass
class Setup:
    service: ProactiveService
    gateway: RecordingProactiveGateway
    clock: Clock
    directory: InMemoryCustomerDirectory
    handoffs: SqlHandoffStore


def make_setup(tmp_path, max_per_day: int = 3, now: Optional[datetime] = None) -> Setup:
    url = sqlite_url(tmp_path)
    clock = Clock(now or OPEN)
    gateway = RecordingProactiveGateway()
    directory = seeded_directory(InMemoryCustomerDirectory(), OPEN)
    handoffs = SqlHandoffStore.from_url(url)
    service = ProactiveService(SqlProactiveStore.from_url(url), directory, handoffs, HOURS, gateway, clock,
                               max_per_day=max_per_day, nudge_after=timedelta(hours=24))
    return Setup(service, gateway, clock, directory, handoffs)


@pytest.fixture
def setup(tmp_path) -> Setup:
    return make_setup(tmp_path)
