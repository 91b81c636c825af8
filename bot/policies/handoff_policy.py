"""A Rasa policy that steps aside for a person when the conversation calls for it.

After each customer message it asks `bot.handoff.triggers.decide` (frustration over the
conversation, topics people handle; the numbers are in handoff.yml) and, when that says so,
predicts `action_handoff` with the reason set for the context packet. It outranks the rules
(priority 7 > RulePolicy's 6): a frustrated customer is not sent round another loop.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.rules import HandoffRules, load_rules
from bot.handoff.triggers import decide

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff"
# loops during which a handoff is already under way or pointless
QUIET_LOOPS = ("offline_form",)
QUIET_INTENTS = ("request_human", "handoff_resolved", "csat_rating", "nps_score", "session_start", "proactive_message")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoffPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rules: Optional[HandoffRules] = None

    @property
    def rules(self) -> HandoffRules:
        if self._rules is None:  # read on first use: nothing happens at import or load time
            self._rules = load_rules()
        return self._rules

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        # nothing to learn: the decision is rules and the NLU pipeline's frustration score
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None, **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if (tracker.latest_action_name != ACTION_LISTEN_NAME or tracker.active_loop_name in QUIET_LOOPS
                or HANDOFF_ACTION not in domain.action_names_or_texts
                or (tracker.latest_message and tracker.latest_message.intent.get("name") in QUIET_INTENTS)):
            return self._prediction(probabilities)
        events = [event.as_dict() for event in tracker.events]
        trigger = decide(events, self.rules)
        if trigger is None:
            return self._prediction(probabilities)
        logger.info("handing conversation %s to a person: %s", tracker.sender_id, trigger.detail)
        probabilities[domain.index_for_action(HANDOFF_ACTION)] = 1.0
        # While a form (or the two-stage fallback) runs, RulePolicy predicts it as a "no user" prediction, which
        # Rasa's ensemble puts above every prediction from the customer's message whatever its priority. Marked
        # the same way, the handoff competes with the loop on confidence and priority, and wins.
        # optional: Rasa applies a prediction's `events` even when it loses, its `optional_events` only when it wins
        return self._prediction(probabilities, optional_events=[SlotSet("handoff_reason", trigger.reason),
                                                                SlotSet("handoff_detail", trigger.detail)],
                                is_no_user_prediction=tracker.active_loop_name is not None)
