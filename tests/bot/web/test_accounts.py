"""The first desk accounts on a fresh install: created once, passwords in mode-600 files."""
from __future__ import annotations

import stat

from bot.handoff.models import AGENT, LEAD
from bot.handoff.rules import load_rules
from bot.handoff.service import HandoffService
from bot.handoff.store import SqlHandoffStore
from bot.web.accounts import bootstrap_accounts
from tests.bot.web.conftest import OPEN, PASSWORD
from tests.databases import sqlite_url
from tests.fakes import Clock, RecordingGateway


def fresh_service(tmp_path) -> HandoffService:
    return HandoffService(SqlHandoffStore.from_url(sqlite_url(tmp_path)), load_rules(), RecordingGateway(), Clock(OPEN))


def test_a_fresh_install_gets_a_lead_and_an_agent(tmp_path):
    service = fresh_service(tmp_path)
    secrets_dir = tmp_path / "secrets"
    created = bootstrap_accounts(service, secrets_dir)
    assert created == [("lead@brightwave.example", LEAD, secrets_dir / "desk-lead-password"),
                       ("agent@brightwave.example", AGENT, secrets_dir / "desk-agent-password")]
    for email, role, path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        password = path.read_text().strip()
        assert len(password) >= 20
        _, agent = service.sign_in(email, password)
        assert agent.role == role
        assert password not in service.store.password_hash(agent.id)
    assert bootstrap_accounts(service, secrets_dir) == []  # once only
    assert len(service.store.list_agents()) == 2


def test_an_existing_password_file_is_used(tmp_path):
    service = fresh_service(tmp_path)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "desk-lead-password").write_text("chosen by the operator\n")
    bootstrap_accounts(service, secrets_dir)
    assert service.sign_in("lead@brightwave.example", "chosen by the operator")[1].role == LEAD


def test_nothing_is_created_when_anyone_has_an_account(tmp_path):
    service = fresh_service(tmp_path)
    service.create_agent("maya@brightwave.example", "Maya", AGENT, PASSWORD)
    assert bootstrap_accounts(service, tmp_path / "secrets") == []
    assert not (tmp_path / "secrets").exists()
