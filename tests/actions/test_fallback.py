from actions.fallback import ActionDefaultAskAffirmation
from tests.actions.test_orders import run
from tests.factories import make_tracker


def test_asks_in_customers_words_with_the_best_guess():
    tracker = make_tracker(text="hmm my thing", intent="nlu_fallback", intent_ranking=[
        {"name": "nlu_fallback", "confidence": 0.45}, {"name": "order_status", "confidence": 0.3},
        {"name": "cancel_order", "confidence": 0.2}])
    _, dispatcher = run(ActionDefaultAskAffirmation(), tracker)
    message = dispatcher.messages[0]
    assert message["text"] == "Sorry, just to be sure: did you want to check where an order is?"
    assert [b["payload"] for b in message["buttons"]] == ["/order_status", "/out_of_scope"]


def test_without_a_guess_asks_to_rephrase():
    tracker = make_tracker(text="?", intent="nlu_fallback", intent_ranking=[{"name": "nlu_fallback", "confidence": 1}])
    _, dispatcher = run(ActionDefaultAskAffirmation(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_ask_rephrase"
