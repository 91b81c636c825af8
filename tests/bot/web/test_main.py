"""`python -m bot.web`: builds the app from the environment, creates the first accounts, serves with uvicorn."""
from __future__ import annotations

import dotenv
import uvicorn

from bot.web.__main__ import main


def test_serves_the_desk_on_the_configured_port(tmp_path, monkeypatch, capsys):
    served = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda server: served.update(server=server, config=server.config))
    monkeypatch.setattr(dotenv, "load_dotenv", lambda *args, **kwargs: False)  # a developer's .env must not leak into the test
    for name, value in {"SUPPORT_DATA_DIR": str(tmp_path), "WEB_PORT": "8123", "SUPPORT_HOST": "127.0.0.1",
                        "RASA_TOKEN": "t", "IDENTITY_SECRET": "s", "APP_DB_URL": f"sqlite:///{tmp_path / 'app.db'}",
                        "PUBLIC_WEB_URL": ""}.items():
        monkeypatch.setenv(name, value)
    assert main() == 0
    config = served["config"]
    assert config.host == "127.0.0.1" and config.port == 8123 and config.ws == "none"
    assert {route.path for route in config.app.routes} >= {"/api/queue", "/api/events", "/healthz"}
    served["server"].handle_exit(2, None)  # Ctrl-C ends the live feeds at once
    assert config.app.state.stopping.is_set()
    out = capsys.readouterr().out
    assert f"password is in {tmp_path / 'secrets' / 'desk-lead-password'}" in out
    assert "Agent desk: http://127.0.0.1:8123/desk/" in out
    assert (tmp_path / "secrets" / "desk-agent-password").exists()


def test_a_configuration_mistake_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dotenv, "load_dotenv", lambda *args, **kwargs: False)
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WEB_PORT", "eighty")
    assert main() == 2
    assert "WEB_PORT must be a whole number" in capsys.readouterr().err
