"""The customer's last resort when the action server cannot be reached: a plain apology, never silence.

Our `action_default_fallback` is a custom action (a failed clarification hands the customer to a
person), so it needs the action server too. When that server is down, Rasa logs the cause, records
the action as executed with no events and predicts again, and the rules predict the same fallback
until Rasa's circuit breaker stops: the customer would get nothing. The working fallback always
returns events, so a bare `ActionExecuted(action_default_fallback)` at the end of the tracker means
it failed; this policy then answers with `utter_default` (Rasa's own, served without the action
server) and listens.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_DEFAULT_FALLBACK_NAME, ACTION_LISTEN_NAME
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
        actions = [e.action_name for e in events if isinstance(e, ActionExecuted)][-2:]
        if events and isinstance(events[-1], ActionExecuted) and events[-1].action_name == ACTION_DEFAULT_FALLBACK_NAME:
            probabilities[domain.index_for_action(APOLOGY)] = 1.0  # the fallback ran and produced nothing: it failed
        elif actions == [ACTION_DEFAULT_FALLBACK_NAME, APOLOGY]:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        fired = max(probabilities) > 0
        # inside a broken form Rasa ranks "no user" predictions above all others; mark ours so only when it fires
        return self._prediction(probabilities, is_no_user_prediction=fired and tracker.active_loop_name is not None)
