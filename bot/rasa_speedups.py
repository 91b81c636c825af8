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

from typing import Any, Dict, Text

_applied = False


def apply() -> None:
    """Install the speed-ups (idempotent)."""
    global _applied
    if _applied:
        return
    from jsonschema import exceptions, validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    original = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        # Rasa's own code path raises the error with its explanation added: let it do exactly that
        return original(self, result)

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    _cache_events_validation()
    _applied = True


def _cache_events_validation() -> None:
    import rasa.server
    from jsonschema import exceptions, validators
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    validator_class = validators.validator_for(EVENTS_SCHEMA)
    validator_class.check_schema(EVENTS_SCHEMA)
    validator = validator_class(EVENTS_SCHEMA)
    original = rasa.server.validate_events_in_request_body

    def validate_events_in_request_body(request: Any) -> None:
        events = request.json if isinstance(request.json, list) else [request.json]
        if exceptions.best_match(validator.iter_errors(events)) is not None:
            original(request)  # Rasa's own 400 with its explanation

    # the routes look the function up in the module when a request comes, so replacing it here counts
    rasa.server.validate_events_in_request_body = validate_events_in_request_body
