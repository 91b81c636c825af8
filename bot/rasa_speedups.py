"""A measured hot spot of Rasa 3.6, fixed in the Rasa server process (applied by `bot.rasa_server`).

`RemoteAction._validate_action_result` checks every action server response with
`jsonschema.validate(result, schema)`, which first validates the *schema* against JSON Schema's
meta-schema. With the jsonschema 4.17 Rasa pins, that costs about 20 ms of CPU per custom action,
on the server's event loop, so every conversation waits for it (a help-centre answer runs two
custom actions). The schema never changes, so it is checked once and its validator kept: the
response is still validated in full and an invalid one still raises the same error.
Measured with `make bench-latency` (docs/benchmarks.md).

The HTTP API's "append events" endpoint (every agent message from the desk or Slack, every hand-back)
validates the request's events the same way, with the same 20 ms in the event loop; same fix.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Text

_applied = False


def apply() -> None:
    """Install the speed-ups (idempotent)."""
    global _applied
    if _applied:
        return
    _cache_action_response_validation()
    _cache_events_validation()
    _applied = True


def is_valid(schema: Dict[Text, Any]) -> Callable[[Any], bool]:
    """A check of instances against `schema`, the schema itself checked once, here."""
    from jsonschema import exceptions, validators

    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return lambda instance: exceptions.best_match(validator.iter_errors(instance)) is None


def _cache_action_response_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    valid = is_valid(RemoteAction.action_response_format_spec())
    original = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        # an invalid response goes through Rasa's own code, which raises the error with its explanation
        return True if valid(result) else original(self, result)

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def _cache_events_validation() -> None:
    import rasa.server
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    valid = is_valid(EVENTS_SCHEMA)
    original = rasa.server.validate_events_in_request_body

    def validate_events_in_request_body(request: Any) -> None:
        events = request.json if isinstance(request.json, list) else [request.json]
        if not valid(events):
            original(request)  # Rasa's own 400 with its explanation

    # the routes look the function up in the module when a request comes, so replacing it here counts
    rasa.server.validate_events_in_request_body = validate_events_in_request_body
