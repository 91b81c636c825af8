"""With the action server down a failed action is followed by Rasa's own apology, then listening."""
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUtteranceReverted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.last_resort import LastResortPolicy
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path):
    return LastResortPolicy.create(LastResortPolicy.get_default_config(), LocalModelStorage(tmp_path),
                                   Resource("last_resort"), ExecutionContext(GraphSchema({}), "test"))


def predict(policy, domain, *events):
    tracker = DialogueStateTracker.from_events("c", [ActionExecuted("action_listen"), UserUttered("hmm"), *events],
                                               slots=domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return domain.action_names_or_texts[best] if prediction.probabilities[best] > 0 else None


def test_a_fallback_that_returned_nothing_is_followed_by_the_apology(policy, domain):
    assert predict(policy, domain, ActionExecuted("action_default_fallback")) == "utter_default"


def test_after_the_apology_the_bot_listens(policy, domain):
    assert predict(policy, domain, ActionExecuted("action_default_fallback"), ActionExecuted("utter_default"),
                   BotUttered("I'm sorry")) == "action_listen"


def test_a_working_fallback_is_left_alone(policy, domain):
    assert predict(policy, domain, ActionExecuted("action_default_fallback"), BotUttered("sorry"),
                   UserUtteranceReverted()) is None
    assert predict(policy, domain, ActionExecuted("action_default_fallback"), SlotSet("handoff_reason", "x")) is None


def test_ordinary_turns_are_left_alone(policy, domain):
    assert predict(policy, domain) is None
    assert predict(policy, domain, ActionExecuted("utter_default"), BotUttered("sorry")) is None


def test_when_silent_it_never_claims_priority_inside_a_form(policy, domain):
    tracker = DialogueStateTracker.from_events("c", [ActionExecuted("action_listen"), UserUttered("stop")],
                                               slots=domain.slots)
    tracker.change_loop_to("order_form")
    assert not policy.predict_action_probabilities(tracker, domain).is_no_user_prediction


@pytest.mark.parametrize("action", ["order_form", "offline_form", "action_session_start"])
def test_a_form_or_session_start_that_returned_nothing_is_followed_by_the_apology(policy, domain, action):
    assert predict(policy, domain, ActionExecuted(action)) == "utter_default"
    assert predict(policy, domain, ActionExecuted(action), ActionExecuted("utter_default"), BotUttered("I'm sorry")) == "action_listen"


def test_a_working_form_is_left_alone(policy, domain):
    assert predict(policy, domain, ActionExecuted("order_form"), SlotSet("requested_slot", "order_number")) is None
    assert predict(policy, domain, ActionExecuted("order_form"), BotUttered("What is your order number?")) is None


def test_actions_that_may_return_nothing_are_left_alone(policy, domain):
    custom = next(a for a in domain.user_actions if a.startswith("action_") and a != "action_default_fallback"
                  and a != "action_session_start")
    assert predict(policy, domain, ActionExecuted(custom)) is None
