import asyncio
import hashlib

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import ActionAcknowledgeFeedback, ActionRecordNps, sounds_unhappy
from actions.handoff import ActionAskCsat, ActionHandoff, ActionRecordCsat
from bot.insights.feedback import AFTER, INSTEAD, FeedbackRules
from tests.actions.test_orders import run, slots, texts
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


# NPS after a resolved conversation (feedback.yml) ---------------------------------------------------------------

def in_share_here(conversation_id: str, share: float) -> bool:
    """The share rule computed here from its definition: the first 8 bytes of SHA-256 as a fraction of 2**64."""
    return int(hashlib.sha256(conversation_id.encode()).hexdigest()[:16], 16) / 2 ** 64 < share


def resolved(services, agent, sender_id: str):  # noqa: ANN001, ANN201 - a handoff resolved by the agent
    run(ActionHandoff(), make_tracker("human", "request_human", sender_id=sender_id))
    [handoff] = services.handoff.queue()
    services.handoff.claim(handoff.id, agent)
    services.handoff.resolve(handoff.id, agent)
    return handoff


@pytest.fixture
def agent(services):
    found = services.handoff.create_agent("maya@brightwave.example", "Maya", "agent", "a long password")
    services.handoff.heartbeat(found)
    return found


def nps_payloads(dispatcher: CollectingDispatcher) -> list:
    return [b["payload"] for b in dispatcher.messages[-1].get("buttons") or []]


def test_after_csat_the_share_the_hash_picks_is_asked_nps_and_the_rest_is_not(services, agent):
    services.feedback.rules = FeedbackRules(nps_share=0.5, nps_when=AFTER)
    asked = next(f"web-{n}" for n in range(100) if in_share_here(f"web-{n}", 0.5))
    not_asked = next(f"web-{n}" for n in range(100) if not in_share_here(f"web-{n}", 0.5))
    for sender, expect_nps in ((asked, True), (not_asked, False)):
        resolved(services, agent, sender)
        events, dispatcher = run(ActionAskCsat(), make_tracker("/handoff_resolved", "handoff_resolved", sender_id=sender))
        assert nps_payloads(dispatcher)[-1] == '/csat_rating{"rating": "5"}' and slots(events) == {"csat_pending": True}
        events, dispatcher = run(ActionRecordCsat(), make_tracker("4", "csat_rating", sender_id=sender,
                                                                  slots={"csat_pending": True}))
        if expect_nps:
            assert slots(events) == {"csat_pending": False, "nps_pending": True}
            assert "How likely are you to recommend us" in texts(dispatcher)
            assert nps_payloads(dispatcher) == [f'/nps_score{{"rating": "{n}"}}' for n in range(11)]
        else:
            assert slots(events) == {"csat_pending": False} and "recommend" not in texts(dispatcher)
    assert [r.rating for r in services.handoff.store.csat()] == [4, 4]


def test_instead_of_csat_the_resolved_conversation_is_asked_nps_and_its_answer_is_stored(services, agent):
    services.feedback.rules = FeedbackRules(nps_share=1.0, nps_when=INSTEAD)
    handoff = resolved(services, agent, "web-instead")
    events, dispatcher = run(ActionAskCsat(), make_tracker("/handoff_resolved", "handoff_resolved", sender_id="web-instead"))
    assert slots(events) == {"nps_pending": True} and "Maya has marked this conversation as resolved" in texts(dispatcher)
    assert nps_payloads(dispatcher)[0] == '/nps_score{"rating": "0"}' and len(nps_payloads(dispatcher)) == 11
    # typed, with words: the score and the comment (a bare number read as a CSAT rating goes here too, by the rules)
    events, dispatcher = run(ActionRecordNps(), make_tracker("9 out of 10, Maya sorted it quickly", "csat_rating",
                                                             sender_id="web-instead", slots={"nps_pending": True}))
    assert slots(events) == {"nps_pending": False} and "great to hear" in texts(dispatcher)
    [score] = services.feedback.store.nps()
    assert (score.conversation_id, score.score, score.handoff_id) == ("web-instead", 9, handoff.id)
    [comment] = services.feedback.store.comments()
    assert (comment.survey, comment.score, comment.text) == ("nps", 9, "9 out of 10, Maya sorted it quickly")
    assert services.handoff.store.csat() == []


@pytest.mark.parametrize("text, entities, score, reply", [
    ('/nps_score{"rating": "3"}', [{"entity": "rating", "value": "3"}], 3, "fell short"),  # the button: no comment
    ("a seven", [], 7, "Thank you!"),
    ("10", [], 10, "great to hear"),
    ("0", [], 0, "fell short"),
])
def test_an_nps_answer_from_a_button_or_typed(services, text, entities, score, reply):
    events, dispatcher = run(ActionRecordNps(), make_tracker(text, "nps_score", entities=entities, slots={"nps_pending": True}))
    assert slots(events) == {"nps_pending": False} and reply in texts(dispatcher)
    assert [s.score for s in services.feedback.store.nps()] == [score]
    assert services.feedback.store.comments() == []


def test_an_nps_answer_needs_the_question_and_a_number(services):
    _, dispatcher = run(ActionRecordNps(), make_tracker("8", "nps_score"))
    assert "anything I can help you with" in texts(dispatcher)
    events, dispatcher = run(ActionRecordNps(), make_tracker("hard to say", "nps_score", slots={"nps_pending": True}))
    assert events == [] and "from 0 (not at all likely) to 10" in texts(dispatcher) and len(nps_payloads(dispatcher)) == 11
    assert run(ActionRecordNps(), make_tracker("11", "nps_score", slots={"nps_pending": True}))[0] == []
    assert services.feedback.store.nps() == []


def test_words_typed_with_a_csat_rating_are_its_comment(services, agent):
    resolved(services, agent, "web-csat")
    run(ActionRecordCsat(), make_tracker("2 stars, still not sorted", "csat_rating", sender_id="web-csat",
                                         slots={"csat_pending": True}))
    run(ActionRecordCsat(), make_tracker("5", "csat_rating", sender_id="web-csat", slots={"csat_pending": True}))
    [comment] = services.feedback.store.comments()
    assert (comment.conversation_id, comment.survey, comment.score, comment.text) == (
        "web-csat", "csat", 2, "2 stars, still not sorted")
    assert [r.rating for r in services.handoff.store.csat()] == [2, 5]


def test_a_channel_left_out_of_the_rule_is_never_asked(services, agent):
    services.feedback.rules = FeedbackRules(nps_share=1.0, nps_when=INSTEAD, nps_channels=("website",))
    resolved(services, agent, "slack:T1:D1")
    events, _ = run(ActionAskCsat(), make_tracker("/handoff_resolved", "handoff_resolved", sender_id="slack:T1:D1"))
    assert slots(events) == {"csat_pending": True}
