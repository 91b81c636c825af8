from typing import Dict, List

import numpy as np
import pytest
import sqlalchemy as sa

from actions.knowledge import ActionAnswerQuestion, ActionKnowledgeStatus, ActionRateAnswer, ActionShowArticle
from bot.container import LazyKnowledge
from bot.errors import NotFound
from bot.insights.log import ANSWERED, CLARIFIED, RATED, UNANSWERED, question_vectors, vector_of
from bot.knowledge.passages import Passage
from bot.knowledge.search import ANSWER, CLARIFY, NO_ANSWER, AnswerDecision, SearchHit
from tests.actions.test_orders import run, slots, texts
from tests.factories import make_tracker


def hit(article_id: str, score: float = 0.9, text: str = "Hold Power for 10 seconds.") -> SearchHit:
    passage = Passage(f"p-{article_id}", article_id, article_id.replace("-", " ").title(), "Steps", text, 0, text)
    return SearchHit(article_id, passage.title, f"https://help.brightwave.example/articles/{article_id}",
                     passage, score)


class FakeKnowledgeBase:
    """Answers every question with the decision and ranking it was given."""

    def __init__(self, decision: AnswerDecision, ranking: List[SearchHit]) -> None:
        self.decision, self.ranking = decision, ranking
        self.questions: List[str] = []

    def embed_query(self, question, shared=None):
        self.shared = shared
        return None

    def decide(self, question, vector=None):
        self.questions.append(question)
        return self.decision

    def search(self, question, k=5, vector=None):
        return self.ranking[:k]

    def article(self, article_id):
        for h in self.ranking:
            if h.article_id == article_id:
                return h
        raise NotFound(article_id)


def decision(action: str, hits) -> AnswerDecision:
    score = hits[0].score if hits else 0.1
    return AnswerDecision(action=action, hits=tuple(hits), top_score=score, margin=0.1, confidence=score,
                          reason="test")


# the entity a click on an offered article's button carries (/inform{"kb_article": "pair-headphones"})
PICK = [{"entity": "kb_article", "value": "pair-headphones"}]
RANKING = [hit("reset-pulse-700"), hit("pair-headphones", 0.7), hit("update-firmware", 0.6)]


@pytest.fixture
def kb(services) -> FakeKnowledgeBase:
    fake = FakeKnowledgeBase(decision(ANSWER, RANKING[:1]), RANKING)
    object.__setattr__(services, "knowledge", LazyKnowledge(lambda: fake))
    return fake


def kinds(services, conversation="test-user") -> List[Dict]:
    return [(e.kind, e.article_id, e.helpful) for e in services.insights.events(conversation)]


def test_answer_shows_passage_title_link_and_asks_if_it_helped(services, kb):
    events, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="how do i reset my pulse 700", intent="ask_question"))
    message = dispatcher.messages[0]
    assert "Hold Power for 10 seconds." in message["text"]
    assert 'From "Reset Pulse 700": https://help.brightwave.example/articles/reset-pulse-700' in message["text"]
    assert message["text"].endswith("Did this help?")
    assert [b["payload"] for b in message["buttons"]] == ["/answer_helped", "/answer_not_helpful"]
    assert slots(events)["kb_article"] == "reset-pulse-700"
    assert slots(events)["kb_alternatives"] == ["pair-headphones", "update-firmware"]
    assert kinds(services) == [(ANSWERED, "reset-pulse-700", None)]


def test_grey_zone_asks_which_article(services, kb):
    kb.decision = decision(CLARIFY, RANKING[:2])
    events, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="headphones problem", intent="ask_question"))
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ['/inform{"kb_article": "reset-pulse-700"}',
                                               '/inform{"kb_article": "pair-headphones"}', "/answer_not_helpful"]
    assert slots(events)["kb_question"] == "headphones problem"
    assert slots(events)["kb_alternatives"] == ["reset-pulse-700", "pair-headphones"]
    assert kinds(services) == [(CLARIFIED, "reset-pulse-700", None)]


def test_a_miss_is_recorded_with_the_question_s_vector_for_the_leads_content_gaps(services, kb):
    vector = np.linspace(-1, 1, 8).astype(np.float32)
    kb.embed_query = lambda question, shared=None: vector
    kb.embedder = type("Embedder", (), {"name": "all-MiniLM-L6-v2"})()
    kb.decision = decision(NO_ANSWER, [])
    run(ActionAnswerQuestion(), make_tracker(text="do you sell lawnmowers", intent="ask_question"))
    with services.insights._engine.connect() as conn:
        (row,) = conn.execute(sa.select(question_vectors)).all()
    assert row.model == "all-MiniLM-L6-v2" and np.array_equal(vector_of(row.vector), vector)


def test_no_answer_is_honest_and_recorded(services, kb):
    kb.decision = decision(NO_ANSWER, [])
    events, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="do you sell lawnmowers", intent="ask_question"))
    assert "don't have a good answer" in texts(dispatcher)
    assert dispatcher.messages[0]["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert slots(events)["kb_misses"] == 1
    assert services.insights.unanswered() == [("do you sell lawnmowers", 1)]


def test_no_good_answer_twice_in_a_row_hands_off(services, kb):
    kb.decision = decision(NO_ANSWER, [])
    events, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="do you sell lawnmowers", intent="ask_question",
                                                                  slots={"kb_misses": 1}))
    assert dispatcher.messages == []
    assert slots(events)["handoff_reason"] == "kb_no_answer" and events[-1]["name"] == "action_handoff"


def test_not_understood_and_not_answered_starts_the_two_stage_fallback(services, kb):
    kb.decision = decision(NO_ANSWER, [])
    events, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="blorf", intent="nlu_fallback"))
    assert dispatcher.messages == []
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_two_stage_fallback"}


def test_without_an_index_the_customer_is_told_plainly(services):
    _, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="how do i pair", intent="ask_question"))
    assert "can't search our help centre right now" in texts(dispatcher)


def test_chosen_article_is_shown(services, kb):
    events, dispatcher = run(ActionShowArticle(), make_tracker(intent="inform", entities=PICK, slots={
        "kb_article": "pair-headphones", "kb_question": "headphones problem"}))
    assert "Pair Headphones" in dispatcher.messages[0]["text"]
    assert slots(events)["kb_article"] == "pair-headphones"


def test_details_typed_during_an_offer_are_not_a_pick(services, kb):
    # "jane.doe@example.com" after a question that named an order: no article was chosen, the help centre works
    events, dispatcher = run(ActionShowArticle(), make_tracker(text="jane.doe@example.com", intent="inform", slots={
        "kb_question": "my watch screen flickers, order 102250", "kb_misses": 1, "kb_offer_open": True}))
    assert "pick it" in texts(dispatcher) and "can't search" not in texts(dispatcher)
    assert events == []  # the offer stays open and counted
    assert kinds(services) == []
    # nor after an answer, whose article is still in the slot: it is not shown again, and no offer is mentioned
    events, dispatcher = run(ActionShowArticle(), make_tracker(text="order 102250", intent="inform", slots={
        "kb_article": "reset-pulse-700", "kb_question": "how do I reset my pulse 700"}))
    assert "in a few words" in texts(dispatcher) and "articles above" not in texts(dispatcher) and events == []


def test_helpful_rating_is_recorded(services, kb):
    events, dispatcher = run(ActionRateAnswer(), make_tracker(intent="answer_helped", slots={
        "kb_article": "reset-pulse-700", "kb_question": "reset pulse"}))
    assert "glad that helped" in texts(dispatcher)
    assert kinds(services) == [(RATED, "reset-pulse-700", True)]


def test_a_sarcastic_helpful_is_a_no(services, kb):
    tracker = make_tracker(text="Oh wonderful, the three steps I already did. Super helpful, thanks so much.", intent="answer_helped",
                           slots={"kb_article": "reset-pulse-700", "kb_question": "reset pulse", "kb_alternatives": ["pair-headphones"]})
    tracker.latest_message["frustration"] = {"score": 0.75, "signals": ["negative", "repeat_ask", "sarcasm"]}
    events, dispatcher = run(ActionRateAnswer(), tracker)
    assert "glad" not in texts(dispatcher) and "might fit better" in texts(dispatcher)
    assert kinds(services) == [(RATED, "reset-pulse-700", False)]


def test_unhelpful_answer_offers_the_next_best(services, kb):
    events, dispatcher = run(ActionRateAnswer(), make_tracker(intent="deny", slots={
        "kb_article": "reset-pulse-700", "kb_question": "reset pulse",
        "kb_alternatives": ["pair-headphones", "update-firmware"]}))
    assert "might fit better" in texts(dispatcher)
    assert slots(events)["kb_article"] == "pair-headphones"
    assert slots(events)["kb_alternatives"] == ["update-firmware"]
    assert events[-1]["name"] == "action_show_article"
    assert kinds(services) == [(RATED, "reset-pulse-700", False)]


def test_unhelpful_with_nothing_left_offers_the_team(services, kb):
    events, dispatcher = run(ActionRateAnswer(), make_tracker(intent="answer_not_helpful", slots={
        "kb_article": "update-firmware", "kb_question": "reset pulse", "kb_alternatives": []}))
    assert "couldn't find the right answer" in texts(dispatcher)
    assert dispatcher.messages[0]["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert slots(events)["kb_misses"] == 1
    assert [k for k, _, _ in kinds(services)] == [RATED, UNANSWERED]


def test_second_unhelpful_answer_in_a_row_hands_off(services, kb):
    events, dispatcher = run(ActionRateAnswer(), make_tracker(intent="answer_not_helpful", slots={
        "kb_article": "update-firmware", "kb_question": "reset pulse", "kb_alternatives": ["pair-headphones"], "kb_misses": 1}))
    assert "didn't help" in texts(dispatcher)
    assert slots(events)["handoff_reason"] == "not_helpful" and events[-1]["name"] == "action_handoff"


def test_none_of_these_offers_the_team(services, kb):
    _, dispatcher = run(ActionRateAnswer(), make_tracker(intent="answer_not_helpful", slots={
        "kb_question": "headphones problem"}))
    assert "don't have a good answer" in texts(dispatcher)
    assert services.insights.unanswered() == [("headphones problem", 1)]


def test_an_offer_of_articles_counts_as_a_miss_until_one_is_picked(services, kb):
    kb.decision = decision(CLARIFY, RANKING[:2])
    events, _ = run(ActionAnswerQuestion(), make_tracker(text="headphones problem", intent="ask_question"))
    assert slots(events)["kb_misses"] == 1 and slots(events)["kb_offer_open"] is True
    # picked: the offer helped, the miss is taken back
    events, _ = run(ActionShowArticle(), make_tracker(intent="inform", entities=PICK, slots={
        "kb_article": "pair-headphones", "kb_question": "headphones problem", "kb_misses": 1, "kb_offer_open": True,
        "kb_alternatives": ["reset-pulse-700", "pair-headphones"]}))
    assert slots(events)["kb_misses"] == 0 and slots(events)["kb_offer_open"] is False
    # the other offered article is the next best if this one does not help
    assert slots(events)["kb_alternatives"] == ["reset-pulse-700"]
    # "None of these": the offer was the miss, it is not counted twice
    events, dispatcher = run(ActionRateAnswer(), make_tracker(intent="answer_not_helpful", slots={
        "kb_question": "headphones problem", "kb_misses": 1, "kb_offer_open": True}))
    assert "don't have a good answer" in texts(dispatcher)
    assert slots(events)["kb_misses"] == 1 and slots(events)["kb_offer_open"] is False


def test_a_second_unsure_turn_in_a_row_hands_off(services, kb):
    # the customer ignored the first offer and asked something else the help centre is unsure about
    kb.decision = decision(CLARIFY, RANKING[:2])
    events, dispatcher = run(ActionAnswerQuestion(), make_tracker(text="a student discount?", intent="ask_question",
                                                                  slots={"kb_misses": 1, "kb_offer_open": True}))
    assert "still not finding a clear answer" in texts(dispatcher) and not dispatcher.messages[0].get("buttons")
    assert slots(events)["handoff_reason"] == "kb_no_answer" and events[-1]["name"] == "action_handoff"


def test_a_late_thanks_is_not_a_miss(services, kb):
    events, dispatcher = run(ActionRateAnswer(), make_tracker(intent="answer_helped", slots={"kb_question": "reset pulse"}))
    assert "Glad I could help" in texts(dispatcher) and events == []
    assert services.insights.unanswered() == []


def test_the_nlus_embedding_goes_to_the_search(services, kb):
    tracker = make_tracker(text="how do i reset my pulse 700", intent="ask_question")
    shared = {"model": "all-MiniLM-L6-v2", "vector": "AAAA"}
    tracker.latest_message["text_embedding"] = shared
    run(ActionAnswerQuestion(), tracker)
    assert kb.shared == shared


def test_the_status_action_tells_the_workspace_which_index_it_serves(services, kb):
    kb.version = "v20261205T100000000000Z-abcd1234"
    events, dispatcher = run(ActionKnowledgeStatus(), make_tracker(text=""))
    assert events == [] and dispatcher.messages[0]["custom"] == {"kb_version": "v20261205T100000000000Z-abcd1234"}


def test_the_status_action_without_an_index_says_none(services):
    events, dispatcher = run(ActionKnowledgeStatus(), make_tracker(text=""))
    assert dispatcher.messages[0]["custom"] == {"kb_version": None}
