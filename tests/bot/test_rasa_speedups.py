"""The action-response check keeps Rasa's behaviour, without re-checking the schema on every call."""
import pytest
from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction

from bot import rasa_speedups


@pytest.fixture(scope="module")
def action() -> RemoteAction:
    rasa_speedups.apply()
    return RemoteAction("action_answer_question", None)


def test_a_valid_response_passes(action):
    result = {"events": [{"event": "slot", "name": "kb_article", "value": "returns-policy", "timestamp": None}],
              "responses": [{"text": "Here is how returns work.", "buttons": [{"title": "Yes", "payload": "/affirm"}]}]}
    assert action._validate_action_result(result) is True


@pytest.mark.parametrize("result", [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"responses": [42]},
])
def test_an_invalid_response_raises_rasas_error(action, result):
    with pytest.raises(ValidationError) as raised:
        action._validate_action_result(result)
    assert "Failed to validate Action server response" in raised.value.message


def test_the_schema_is_not_checked_again_per_response(action, monkeypatch):
    checks = []
    validator_class = validators.validator_for(RemoteAction.action_response_format_spec())
    monkeypatch.setattr(validator_class, "check_schema", classmethod(lambda cls, schema: checks.append(schema)))
    import rasa.server

    for _ in range(3):
        action._validate_action_result({"events": [], "responses": []})
        rasa.server.validate_events_in_request_body(FakeRequest([{"event": "resume"}]))
    assert checks == []


class FakeRequest:
    def __init__(self, body):
        self.json = body


def test_appended_events_are_still_validated_with_rasas_error():
    import rasa.server

    rasa_speedups.apply()
    rasa.server.validate_events_in_request_body(FakeRequest([{"event": "bot", "text": "Hi, Maya here"}]))
    rasa.server.validate_events_in_request_body(FakeRequest({"event": "resume"}))  # one event, not a list
    with pytest.raises(rasa.server.ErrorResponse) as raised:
        rasa.server.validate_events_in_request_body(FakeRequest([{"event": "no_such_event"}]))
    assert raised.value.status == 400 and "Failed to validate the events format" in raised.value.error_info["message"]
