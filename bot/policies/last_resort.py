"""The customer's last resort when the action server cannot be reached: a plain apology, never silence.

When the action server is down, Rasa logs the cause, records the action as executed with no events
and predicts again: what comes next is whatever the other policies guess for a tracker that never
saw the action's effect (the same fallback again until Rasa's circuit breaker stops, or TEDPolicy's
`action_listen`, which depends on its training run), and the customer would get nothing.

Some actions always return events when they work: a form (ActiveLoop, SlotSet or its question; a
rejection is an `ActionExecutionRejected`), `action_session_start` (SessionStarted) and our
`action_default_fallback` (a custom action: a failed clarification hands the customer to a person).
So one of them as a bare `ActionExecuted` at the end of the tracker means it failed; this policy then
answers with `utter_default` (Rasa's own, served without the action server) and listens. Actions that
may legitimately return nothing are left alone: this policy cannot tell their failure from success.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_DEFAULT_FALLBACK_NAME, ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

APOLOGY = "utter_default"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class LastResortPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 8}  # above everything: nothing else can run while the action server is down

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None, **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        events = list(tracker.events)
        always_eventful = {ACTION_DEFAULT_FALLBACK_NAME, ACTION_SESSION_START_NAME, *domain.form_names}
        if _bare_action(events, len(events) - 1, always_eventful):
            probabilities[domain.index_for_action(APOLOGY)] = 1.0  # it ran and produced nothing: it failed
        elif _apologised_for_failure(events, always_eventful):
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        fired = max(probabilities) > 0
        # inside a broken form Rasa ranks "no user" predictions above all others; mark ours so only when it fires
        return self._prediction(probabilities, is_no_user_prediction=fired and tracker.active_loop_name is not None)


def _bare_action(events: list, index: int, names: set) -> bool:
    """Whether events[index] is the ActionExecuted of one of `names` with no event after it up to the next action."""
    return (0 <= index < len(events) and isinstance(events[index], ActionExecuted) and events[index].action_name in names
            and all(isinstance(e, ActionExecuted) for e in events[index + 1:index + 2]))


def _apologised_for_failure(events: list, names: set) -> bool:
    """The apology (and its message) came right after a failed action: time to listen."""
    last = max((i for i, e in enumerate(events) if isinstance(e, ActionExecuted)), default=-1)
    return last >= 1 and events[last].action_name == APOLOGY and _bare_action(events, last - 1, names)
