import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import ActionAcknowledgeFeedback, sounds_unhappy
from tests.factories import make_tracker


def reply(text: str, frustration: dict | None) -> dict:
    tracker = make_tracker(text=text, intent="give_feedback")
    if frustration is not None:
        tracker.latest_message["frustration"] = frustration
    dispatcher = CollectingDispatcher()
    assert asyncio.run(ActionAcknowledgeFeedback().run(dispatcher, tracker, {})) == []
    assert len(dispatcher.messages) == 1
    return dispatcher.messages[0]


def test_kind_feedback_is_thanked() -> None:
    assert reply("love the new app", {"score": 0.05, "signals": []})["response"] == "utter_feedback_thanks"


@pytest.mark.parametrize("signals", [["negative"], ["negative", "sarcasm"], ["sarcasm"]])
def test_unhappy_or_sarcastic_feedback_gets_an_apology_not_thanks(signals: list) -> None:
    text = "great job, truly world-class logistics. still in transit"
    assert reply(text, {"score": 0.86, "signals": signals})["response"] == "utter_feedback_sorry"


def test_without_a_frustration_score_feedback_is_thanked() -> None:
    assert reply("the checkout could be simpler", None)["response"] == "utter_feedback_thanks"
    tracker = make_tracker(text="x", intent="give_feedback")
    tracker.latest_message["frustration"] = "not a dict"
    assert not sounds_unhappy(tracker)
