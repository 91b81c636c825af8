"""`bot desk add-agent`: accounts from the command line, the password never on it."""
from __future__ import annotations

import io

import pytest

from bot.web.cli import main
from tests.bot.web.test_accounts import fresh_service

PASSWORD = "correct horse battery"


@pytest.fixture
def service(tmp_path):
    return fresh_service(tmp_path)


def run(service, argv, answers=(), **env):
    out, err = io.StringIO(), io.StringIO()
    prompts = iter(answers)
    code = main(argv, handoff_factory=lambda: service, ask=lambda prompt: next(prompts), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_add_a_lead_with_the_password_from_the_environment(service, monkeypatch):
    monkeypatch.setenv("DESK_PASSWORD", PASSWORD)
    code, out, _ = run(service, ["add-agent", "--email", "lee@brightwave.example", "--name", "Lee", "--role", "lead"])
    assert code == 0 and out == "Created lead Lee <lee@brightwave.example> (id 1).\n"
    assert service.sign_in("lee@brightwave.example", PASSWORD)[1].is_lead


def test_the_password_is_asked_twice(service, monkeypatch):
    monkeypatch.delenv("DESK_PASSWORD", raising=False)
    code, _, err = run(service, ["add-agent", "--email", "sam@brightwave.example", "--name", "Sam"], [PASSWORD, "typo" + PASSWORD])
    assert code == 1 and "differ" in err and service.store.list_agents() == []
    code, out, _ = run(service, ["add-agent", "--email", "sam@brightwave.example", "--name", "Sam"], [PASSWORD, PASSWORD])
    assert code == 0 and "Created agent Sam" in out


def test_refusals_say_why(service, monkeypatch):
    monkeypatch.setenv("DESK_PASSWORD", PASSWORD)
    run(service, ["add-agent", "--email", "sam@brightwave.example", "--name", "Sam"])
    code, _, err = run(service, ["add-agent", "--email", "SAM@brightwave.example", "--name", "Sam"])
    assert code == 1 and "already exists" in err
    monkeypatch.setenv("DESK_PASSWORD", "short")
    code, _, err = run(service, ["add-agent", "--email", "kai@brightwave.example", "--name", "Kai"])
    assert code == 1 and "at least 10" in err


def test_usage_errors_exit_2(service, capsys):
    assert run(service, ["add-agent", "--email", "x@brightwave.example"])[0] == 2
    assert run(service, ["add-agent", "--email", "x@y.example", "--name", "X", "--role", "boss"])[0] == 2
    assert run(service, ["--help"])[0] == 0
