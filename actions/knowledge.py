"""Answers from the help centre: the best passage with its article, "Did this help?", and honesty
when there is no good answer. Every answer, rating and miss is recorded for the leads."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import frustration_signals
from actions.handoff import hand_off
from actions.services import get_services
from actions.wording import team_contact
from bot.container import KnowledgeUnavailable
from bot.embeddings import SHARED_EMBEDDING_KEY
from bot.errors import NotFound
from bot.handoff.models import KB_NO_ANSWER, NOT_HELPFUL
from bot.insights.log import ANSWERED, CLARIFIED, RATED, UNANSWERED, KnowledgeEvent
from bot.knowledge.answers import answer_card, answer_text
from bot.knowledge.publishing import STATUS_ACTION
from bot.knowledge.search import ANSWER, CLARIFY, SearchHit
from bot.store.service import utcnow

logger = logging.getLogger(__name__)

HELPFUL_BUTTONS = [{"title": "Yes, thanks", "payload": "/answer_helped"},
                   {"title": "No", "payload": "/answer_not_helpful"}]
HELPED = ("affirm", "answer_helped")
NO_ANSWER = "I'm sorry, I don't have a good answer to that in our help centre. You can ask me another way, or a person from our team can help."
PERSON_BUTTON = [{"title": "Talk to a person", "payload": "/request_human"}]
UNAVAILABLE = "I'm sorry, I can't search our help centre right now. Our team can help: "  # then team_contact()
# details typed while articles are on offer ("jane.doe@example.com" after a question that named an order), or
# after an answer
NOT_A_PICK = ("Thanks. If one of the articles above fits, pick it; otherwise tell me in a few words what you need "
              "and I'll take it from there.")
NOT_A_QUESTION = "Thanks. Tell me in a few words what you need, and I'll take it from there."


def question_of(tracker: Tracker) -> str:
    return " ".join(str(tracker.latest_message.get("text") or "").split())


def record(tracker: Tracker, kind: str, question: str, hit: Optional[SearchHit] = None,
           helpful: Optional[bool] = None, article_id: Optional[str] = None, vector: Optional[np.ndarray] = None) -> None:
    """`vector`: the question's embedding, kept with the record so the leads' content gaps need not embed it again."""
    model = get_services().knowledge.get().embedder.name if vector is not None else ""
    get_services().insights.record(KnowledgeEvent(
        conversation_id=tracker.sender_id, kind=kind, question=question[:2000], at=utcnow(),
        article_id=hit.article_id if hit else article_id, score=hit.score if hit else None, helpful=helpful),
        vector=vector, model=model)


def answer_with(hit: SearchHit, alternatives: List[str], question: str, dispatcher: CollectingDispatcher,
                tracker: Tracker) -> List[EventType]:
    # the text for every channel; the card for channels that render one (the website widget, Slack)
    card = answer_card(hit.article_id, hit.title, hit.url, hit.passage.text)
    dispatcher.utter_message(text=answer_text(hit.passage.text, hit.title, hit.url), buttons=HELPFUL_BUTTONS, json_message=card)
    record(tracker, ANSWERED, question, hit)
    return [SlotSet("kb_article", hit.article_id), SlotSet("kb_question", question),
            SlotSet("kb_alternatives", alternatives)]


def no_answer(tracker: Tracker, question: str, dispatcher: CollectingDispatcher, counted: bool = False,
              vector: Optional[np.ndarray] = None) -> List[EventType]:
    """Says so (or starts the two-stage fallback) and counts the miss; `counted`: the miss was counted
    already (an offer of articles the customer turned down with "None of these")."""
    record(tracker, UNANSWERED, question, vector=vector)
    misses = (tracker.get_slot("kb_misses") or 0) + (0 if counted else 1)
    closed = [SlotSet("kb_article", None), SlotSet("kb_offer_open", False)]
    if misses >= get_services().handoff.rules.kb_misses_in_a_row:
        return [SlotSet("kb_misses", 0), *closed,
                *hand_off(KB_NO_ANSWER, f"the help centre had no good answer {int(misses)} times in a row")]
    if tracker.latest_message.get("intent", {}).get("name") == "nlu_fallback":
        # not understood and not in the help centre: ask them to rephrase (two-stage fallback)
        return [SlotSet("kb_misses", misses), *closed, FollowupAction("action_two_stage_fallback")]
    dispatcher.utter_message(text=NO_ANSWER, buttons=PERSON_BUTTON)
    return [SlotSet("kb_misses", misses), *closed]


class ActionAnswerQuestion(Action):
    """Searches the help centre for the customer's message and answers, asks which, or says so."""

    def name(self) -> Text:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        question = question_of(tracker)
        try:
            kb = get_services().knowledge.get()
            # the NLU already embedded this message: its vector rides along in the parse data
            vector = kb.embed_query(question, tracker.latest_message.get(SHARED_EMBEDDING_KEY)) if question else None
            decision = kb.decide(question, vector=vector)
        except KnowledgeUnavailable:
            dispatcher.utter_message(text=UNAVAILABLE + team_contact())
            return []
        if decision.action == ANSWER:
            hit = decision.hits[0]
            # the next best articles, offered one by one if the customer says it did not help
            runners_up = [h.article_id for h in kb.search(question, k=3, vector=vector) if h.article_id != hit.article_id]
            return [*answer_with(hit, runners_up, question, dispatcher, tracker), SlotSet("kb_misses", 0),
                    SlotSet("kb_offer_open", False)]
        if decision.action == CLARIFY:
            record(tracker, CLARIFIED, question, decision.hits[0], vector=vector)
            # An offer of articles is not an answer: it counts as a miss unless the customer picks one
            # (action_show_article takes it back), so two unsure turns in a row bring a person whether the
            # customer clicks "None of these", ignores the offer or gets "no answer".
            misses = (tracker.get_slot("kb_misses") or 0) + 1
            if misses >= get_services().handoff.rules.kb_misses_in_a_row:
                dispatcher.utter_message(text="I'm still not finding a clear answer in our help centre.")
                return [SlotSet("kb_question", question), SlotSet("kb_misses", 0), SlotSet("kb_article", None),
                        SlotSet("kb_offer_open", False),
                        *hand_off(KB_NO_ANSWER, f"the help centre had no clear answer {int(misses)} times in a row")]
            dispatcher.utter_message(
                text="I found a few articles that might help. Which one is closest?",
                buttons=[{"title": h.title, "payload": f'/inform{{"kb_article": "{h.article_id}"}}'}
                         for h in decision.hits]
                + [{"title": "None of these", "payload": "/answer_not_helpful"}],
            )
            # the offered articles: once the customer picks one, the others are the next best if it does not help
            return [SlotSet("kb_question", question), SlotSet("kb_article", None),
                    SlotSet("kb_alternatives", [h.article_id for h in decision.hits]),
                    SlotSet("kb_misses", misses), SlotSet("kb_offer_open", True)]
        return no_answer(tracker, question, dispatcher, vector=vector)


class ActionShowArticle(Action):
    """The customer picked one of the offered articles."""

    def name(self) -> Text:
        return "action_show_article"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        chosen = tracker.get_slot("kb_article")
        typed = (tracker.latest_message.get("intent", {}).get("name") == "inform"
                 and next(tracker.get_latest_entity_values("kb_article"), None) is None)
        if not chosen or typed:
            # an `inform` with no article in it (an email, an order number) is not a pick: the offer stays open.
            # (A "no" to an answer also runs this action, with the next best article chosen by action_rate_answer.)
            dispatcher.utter_message(text=NOT_A_PICK if tracker.get_slot("kb_offer_open") else NOT_A_QUESTION)
            return []
        question = tracker.get_slot("kb_question") or question_of(tracker)
        offered = [a for a in (tracker.get_slot("kb_alternatives") or []) if a != chosen]
        try:
            kb = get_services().knowledge.get()
            hits = [h for h in kb.search(question, k=5) if h.article_id == chosen]
            if not hits:  # picked from an older offer: show the article's best passage for its title
                article = kb.article(chosen or "")
                hits = [h for h in kb.search(article.title, k=5) if h.article_id == chosen]
        except (KnowledgeUnavailable, NotFound):
            dispatcher.utter_message(text=UNAVAILABLE + team_contact())
            return [SlotSet("kb_article", None)]
        if not hits:
            return no_answer(tracker, question, dispatcher)
        events = answer_with(hits[0], offered, question, dispatcher, tracker)
        if tracker.get_slot("kb_offer_open"):  # picked from the offer: the offer helped, it was not a miss
            events += [SlotSet("kb_offer_open", False), SlotSet("kb_misses", max(0, (tracker.get_slot("kb_misses") or 0) - 1))]
        return events


class ActionRateAnswer(Action):
    """Records "Did this help?"; a "no" gets the next best article, then the offer of a person."""

    def name(self) -> Text:
        return "action_rate_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        article_id = tracker.get_slot("kb_article")
        question = tracker.get_slot("kb_question") or ""
        # "Super helpful, thanks so much" about steps already tried twice is a no, whatever the NLU filed it as
        helpful = tracker.latest_message.get("intent", {}).get("name") in HELPED and "sarcasm" not in frustration_signals(tracker)
        if not article_id:  # "none of these", or a rating with no answer pending
            if helpful:  # a late "yes, thanks" for an answer already rated: nothing was missed
                dispatcher.utter_message(text="Glad I could help! Anything else I can do for you?")
                return []
            # "None of these" on an offer: the offer was counted as a miss when it was made
            return [SlotSet("kb_alternatives", []),
                    *no_answer(tracker, question, dispatcher, counted=bool(tracker.get_slot("kb_offer_open")))]
        record(tracker, RATED, question, helpful=helpful, article_id=article_id)
        if helpful:
            dispatcher.utter_message(text="Great, glad that helped! Anything else I can do for you?")
            return [SlotSet("kb_article", None), SlotSet("kb_misses", 0)]
        alternatives = list(tracker.get_slot("kb_alternatives") or [])
        misses = (tracker.get_slot("kb_misses") or 0) + 1
        if misses >= get_services().handoff.rules.not_helpful_in_a_row:
            record(tracker, UNANSWERED, question)
            dispatcher.utter_message(text="Sorry those answers didn't help.")
            return [SlotSet("kb_article", None), SlotSet("kb_alternatives", []), SlotSet("kb_misses", 0),
                    *hand_off(NOT_HELPFUL, f"{int(misses)} help-centre answers in a row did not help")]
        if alternatives:
            # shown by action_show_article, so a typed yes/no rates the new answer (data/rules/knowledge.yml)
            dispatcher.utter_message(text="Sorry about that. This one might fit better:")
            return [SlotSet("kb_article", alternatives[0]), SlotSet("kb_alternatives", alternatives[1:]),
                    SlotSet("kb_misses", misses), FollowupAction("action_show_article")]
        record(tracker, UNANSWERED, question)
        dispatcher.utter_message(text="Sorry I couldn't find the right answer. A person from our team can help.",
                                 buttons=PERSON_BUTTON)
        return [SlotSet("kb_article", None), SlotSet("kb_alternatives", []), SlotSet("kb_misses", misses)]


class ActionKnowledgeStatus(Action):
    """Not part of any conversation (it is in no story or rule): the leads' workspace runs it to ask which
    help-centre index version this action server answers customers from (bot/knowledge/publishing.py)."""

    def name(self) -> Text:
        return STATUS_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            version: Optional[str] = get_services().knowledge.get().version  # checks the pointer, loads a newer build
        except KnowledgeUnavailable:
            version = None
        dispatcher.utter_message(json_message={"kb_version": version})
        return []
