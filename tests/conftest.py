"""Shared fixtures: a seeded demo store on a fixed clock, installed as the actions' services."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from actions.services import use_services
from bot.company import load_company
from bot.container import LazyKnowledge, Services
from bot.handoff.rules import load_rules
from bot.handoff.service import HandoffService
from bot.handoff.store import SqlHandoffStore
from bot.insights.feedback import FeedbackRules, FeedbackService, SqlFeedbackStore
from bot.insights.log import SqlInsightLog
from bot.knowledge.errors import IndexNotFound
from bot.settings import Settings
from bot.store.seed import fill
from bot.store.service import OrderService
from tests.fakes import Clock, InMemoryCustomerDirectory, RecordingGateway

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# A fixed "now" keeps return windows and dates stable whatever day the suite runs.
NOW = datetime(2026, 10, 6, 12, 0)
IDENTITY_SECRET = "test-identity-secret"


def seeded_directory(directory, now: datetime = NOW):  # noqa: ANN001, ANN201 - any CustomerDirectory
    return fill(directory, now)


@pytest.fixture
def directory() -> InMemoryCustomerDirectory:
    return seeded_directory(InMemoryCustomerDirectory())


@pytest.fixture
def order_service(directory: InMemoryCustomerDirectory) -> OrderService:
    return OrderService(directory, clock=lambda: NOW)


@pytest.fixture
def services(tmp_path: Path, directory: InMemoryCustomerDirectory, order_service: OrderService):
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "IDENTITY_SECRET": IDENTITY_SECRET,
                                  "RASA_TOKEN": "test-token"})
    def no_index():
        raise IndexNotFound(f"no index in {tmp_path / 'kb_index'}")

    installed = Services(settings=settings, directory=directory, orders=order_service,
                         insights=SqlInsightLog.from_url(f"sqlite:///{tmp_path / 'app.db'}"),
                         knowledge=LazyKnowledge(no_index),
                         handoff=HandoffService(SqlHandoffStore.from_url(f"sqlite:///{tmp_path / 'app.db'}"), load_rules(),
                                                RecordingGateway(), Clock(NOW)),
                         # no NPS unless a test asks for it (tests/actions/test_feedback.py sets the rules it checks)
                         feedback=FeedbackService(FeedbackRules(), SqlFeedbackStore.from_url(f"sqlite:///{tmp_path / 'app.db'}"),
                                                  Clock(NOW)),
                         company=load_company())
    use_services(installed)
    yield installed
    use_services(None)
