"""The handoff policy inside Rasa: it predicts action_handoff with the reason only when the conversation calls for it."""
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.handoff_policy import HandoffPolicy
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path):
    return HandoffPolicy.create(HandoffPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("handoff"),
                                ExecutionContext(GraphSchema({}), "test"))


def said(text, score, intent="order_status", signals=()):
    return UserUttered(text, intent={"name": intent, "confidence": 0.9},
                       parse_data={"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text,
                                   "frustration": {"score": score, "signals": list(signals)}})


def predict(policy, domain, *events):
    tracker = DialogueStateTracker.from_events("c", [ActionExecuted("action_listen"), *events], slots=domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return (domain.action_names_or_texts[best] if prediction.probabilities[best] > 0 else None), prediction


ANGRY = [said("where is my order", 0.2), ActionExecuted("action_order_status"), ActionExecuted("action_listen"),
         said("this is ridiculous, still nothing", 0.8, "complain", ["negative"]), ActionExecuted("utter_complain"),
         ActionExecuted("action_listen"), said("WHERE IS IT?? third time I ask", 0.95, "order_status", ["caps", "repeat_ask"])]


def test_frustrated_customer_gets_a_person_with_the_reason(policy, domain):
    action, prediction = predict(policy, domain, *ANGRY)
    assert action == "action_handoff" and prediction.policy_priority == 7
    reasons = {e.key: e.value for e in prediction.optional_events if isinstance(e, SlotSet)}
    assert reasons["handoff_reason"] == "frustrated" and reasons["handoff_detail"].startswith("customer frustrated")


def test_calm_customer_is_left_to_the_other_policies(policy, domain):
    action, prediction = predict(policy, domain, said("where is my order", 0.1))
    assert action is None and not prediction.optional_events


def test_legal_threat_goes_to_a_person(policy, domain):
    action, prediction = predict(policy, domain, said("I'm calling my lawyer about this", 0.3))
    assert action == "action_handoff"
    assert {e.key: e.value for e in prediction.optional_events}["handoff_reason"] == "policy_topic"


def test_only_right_after_the_customer_speaks(policy, domain):
    action, _ = predict(policy, domain, *ANGRY, ActionExecuted("action_handoff"))
    assert action is None


def test_not_again_after_the_handoff_it_caused(policy, domain):
    action, _ = predict(policy, domain, *ANGRY, ActionExecuted("action_handoff"), ActionExecuted("action_listen"),
                        said("hello?", 0.3))
    assert action is None


def test_a_frustrated_customer_inside_a_form_gets_a_person(policy, domain):
    """RulePolicy's prediction of an active form is a "no user" prediction, which Rasa's ensemble puts above every
    other; the handoff is marked the same way, or the customer would only be asked for the order number again."""
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.shared.core.events import ActiveLoop

    in_form = [*ANGRY[:-1], ActionExecuted("order_form"), ActiveLoop("order_form"), ActionExecuted("action_listen"),
               ANGRY[-1]]
    action, prediction = predict(policy, domain, *in_form)
    assert action == "action_handoff" and prediction.is_no_user_prediction
    form = [0.0] * len(domain.action_names_or_texts)
    form[domain.index_for_action("order_form")] = 1.0
    loop = PolicyPrediction(form, "RulePolicy", 6, is_no_user_prediction=True)
    best = DefaultPolicyPredictionEnsemble._pick_best_policy([loop, prediction])
    assert best.probabilities[domain.index_for_action("action_handoff")] == 1.0
    _, calm = predict(policy, domain, said("where is my order", 0.1))
    assert not calm.is_no_user_prediction
