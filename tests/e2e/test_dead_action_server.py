"""With the action server down the customer gets a plain apology and the operator the cause in the log."""
import pytest

from tests.e2e.conftest import new_sender, text_of

pytestmark = pytest.mark.integration


def test_dead_action_server_apologises_without_a_stack_trace(servers):
    actions = next(p for p in servers.processes if p.name == "actions")
    actions.stop()
    try:
        reply = text_of(servers.say(new_sender(), "where is my order 104512"))
        assert "couldn't help with that just now" in reply
        assert "Traceback" not in reply and "Exception" not in reply
        log = (servers.settings.log_dir / "rasa.log").read_text()
        assert f"Couldn't connect to the server at 'http://{servers.settings.host}:{servers.settings.action_port}" in log
    finally:
        servers.restart()
    assert "what email address" in text_of(servers.say(new_sender(), "where is my order 104512"))
