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
    for _ in range(3):
        action._validate_action_result({"events": [], "responses": []})
    assert checks == []
