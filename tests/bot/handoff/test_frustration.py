"""Unit tests of the conversation-level frustration combination (pure: no model, no Rasa)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.handoff.frustration import (
    FrustrationRules,
    FrustrationVerdict,
    TurnSignal,
    conversation_frustration,
    repeats,
    same_question,
    similarity,
)


def turn(text: str, score: float, *signals: str) -> TurnSignal:
    return TurnSignal(text=text, score=score, signals=tuple(signals))


def level(*scores: float, recency: float = 0.6, start: float = 0.0) -> float:
    """The running level the rules should compute, written out independently."""
    value = start
    for score in scores:
        value = recency * score + (1 - recency) * value
    return value


def test_no_turns_is_calm() -> None:
    assert conversation_frustration([]) == FrustrationVerdict(0.0, False, ())


def test_one_calm_question_is_not_frustrated_and_gives_no_reason() -> None:
    verdict = conversation_frustration([turn("where is my order?", 0.2)])
    assert not verdict.frustrated
    assert verdict.score == pytest.approx(0.6 * 0.2)
    assert verdict.reasons == ()


def test_one_negative_message_alone_is_not_enough_a_second_one_is() -> None:
    # per-message false alarms ("kill the order i placed this morning") must not hand off on their own
    first = turn("this is ridiculous, worst service ever", 0.92, "negative")
    verdict = conversation_frustration([first])
    assert not verdict.frustrated
    assert verdict.score == pytest.approx(level(0.92))
    assert verdict.reasons == ("negative message (score 0.92)",)
    second = conversation_frustration([first, turn("nobody has answered my emails for a week", 0.85, "negative")])
    assert second.frustrated
    assert second.score == pytest.approx(level(0.92, 0.85))


def test_one_negative_message_with_a_cue_is_enough() -> None:
    verdict = conversation_frustration([turn("where the hell is my refund", 0.92, "negative", "profanity")])
    assert verdict.frustrated
    assert verdict.score == pytest.approx(level(0.92) + 0.15)


def test_start_level_is_configurable() -> None:
    rules = FrustrationRules(start_level=0.5)
    assert conversation_frustration([turn("this is ridiculous", 0.9)], rules).score == pytest.approx(level(0.9, start=0.5))


def test_the_level_leans_on_the_latest_messages_and_calms_down() -> None:
    angry_then_thanks = [turn("this is ridiculous", 0.9, "negative"), turn("ok that solved it, thanks", 0.05)]
    verdict = conversation_frustration(angry_then_thanks)
    assert not verdict.frustrated
    assert verdict.score == pytest.approx(level(0.9, 0.05))


def test_rising_negativity_is_named_and_pushes_over_the_threshold() -> None:
    turns = [turn("hi", 0.1), turn("my order is a few days late", 0.45), turn("nobody has told me anything, this is bad", 0.8)]
    without_rise = FrustrationRules(rising_weight=0.0)
    assert not conversation_frustration(turns, without_rise).frustrated
    verdict = conversation_frustration(turns)
    assert verdict.frustrated
    assert "rising negativity over 3 messages (0.10 → 0.80)" in verdict.reasons
    assert verdict.score == pytest.approx(level(0.1, 0.45, 0.8) + 0.15)


def test_a_small_climb_is_not_rising_negativity() -> None:
    verdict = conversation_frustration([turn("a", 0.05), turn("b", 0.1), turn("c", 0.3)])
    assert not any("rising" in reason for reason in verdict.reasons)


def test_falling_scores_break_the_rising_run() -> None:
    verdict = conversation_frustration([turn("a", 0.2), turn("b", 0.9), turn("c", 0.4), turn("d", 0.55)])
    assert not any("rising" in reason for reason in verdict.reasons)


def test_repeating_the_same_question_counts_each_repetition() -> None:
    turns = [turn("where is my order", 0.3), turn("Where is my order??", 0.35)]
    verdict = conversation_frustration(turns, FrustrationRules(rising_weight=0.0))
    assert "repeated the same question 2 times" in verdict.reasons
    assert verdict.score == pytest.approx(level(0.3, 0.35) + 0.15)
    counted = conversation_frustration(turns, FrustrationRules(rising_weight=0.0, repetition_handoff=4))
    assert counted.score == pytest.approx(level(0.3, 0.35) + 0.15)
    more = turns + [turn("WHERE IS MY ORDER", 0.4)]
    assert conversation_frustration(more, FrustrationRules(rising_weight=0.0, repetition_handoff=4)).score == pytest.approx(
        level(0.3, 0.35, 0.4) + 2 * 0.15
    )


def test_a_question_repeated_inside_new_words_is_repetition_and_rewordings_chain() -> None:
    first = turn("when will the refund for my headphones actually show up on my card? order 104777", 0.3)
    second = turn("ok but WHEN will the refund for my headphones actually show up on my card", 0.5)
    wrapped = turn("I'm asking a very simple question. when will the refund show up on my card. a date please", 0.05)
    assert similarity(wrapped.text, second.text) < 0.5  # as wholes they differ
    assert repeats(wrapped.text, second.text, 0.5, 3) and repeats(second.text, wrapped.text, 0.5, 3)
    # the third wording is close to the second and far from the first: it is still the third time
    verdict = conversation_frustration([first, turn("lucas.martin@example.com", 0.05), second, wrapped])
    assert verdict.frustrated and "repeated the same question 3 times" in verdict.reasons
    # a chain does not join questions about different orders
    orders = [turn("where is my order 104512", 0.1), turn("where is my order", 0.1), turn("where is my order 104513", 0.1)]
    assert "repeated the same question 3 times" not in conversation_frustration(orders).reasons
    # a shared pleasantry is not the same question
    assert not repeats("Where is my order? Thank you so much.", "Can I return the buds? Thank you so much.", 0.5, 3)


def test_a_demand_after_a_comma_is_a_repetition_of_the_same_demand_alone() -> None:
    # "no, I don't want X, I want Y" and then "I want Y." twice: three times the same demand
    turns = [turn("can you change the delivery address on 104633", 0.01),
             turn("I don't want to sign up for some courier account, I want you to change the address", 0.03),
             turn("I want you to change the address.", 0.07)]
    assert "repeated the same question 2 times" in conversation_frustration(turns).reasons
    verdict = conversation_frustration([*turns, turn("I want you to change the address.", 0.07)])
    assert verdict.frustrated and verdict.reasons[0] == "repeated the same question 3 times"
    # a clause shorter than repetition_min_words is not compared on its own
    assert not repeats("yes, the black one, order 104512 please", "the black one", 0.5, 4)


def test_the_third_time_the_same_question_is_frustration_however_calmly_asked() -> None:
    turns = [turn("when will my refund arrive", 0.1), turn("when will my refund arrive??", 0.2),
             turn("when will my refund arrive, please", 0.02)]
    verdict = conversation_frustration(turns)
    assert verdict.frustrated and verdict.reasons[0] == "repeated the same question 3 times"


def test_a_restatement_after_did_you_mean_is_the_same_question_in_any_words() -> None:
    not_understood = turn("ok but which day", 0.05)
    restated = TurnSignal("which day will it arrive", 0.1, restates_previous=True)
    again = turn("which day will it arrive", 0.1)
    verdict = conversation_frustration([turn("when is order 104901 going to arrive", 0.1), not_understood, restated, again])
    assert verdict.frustrated and verdict.reasons[0] == "repeated the same question 3 times"
    # the same words without the "did you mean ...?" in between: asked twice, not three times
    plain = conversation_frustration([turn("when is order 104901 going to arrive", 0.1), not_understood, turn(restated.text, 0.1), again])
    assert not plain.frustrated and "repeated the same question 2 times" in plain.reasons


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_same_question_in_other_words_counts_when_the_nlu_passed_embeddings() -> None:
    first = TurnSignal("when does the parcel get here", 0.1, vector=_unit(1, 0, 0))
    reworded = TurnSignal("I asked a simple thing: the delivery date please", 0.1, vector=_unit(0.9, 0.3, 0))  # cos 0.95
    other = TurnSignal("and can I add a gift note to it", 0.1, vector=_unit(0.3, 1, 0))  # cos 0.29
    assert same_question(first, reworded, FrustrationRules())
    assert not same_question(first, other, FrustrationRules())
    assert not same_question(first, TurnSignal(reworded.text, 0.1), FrustrationRules())  # no vector: text only
    assert "repeated the same question 2 times" in conversation_frustration([first, reworded]).reasons


def test_questions_about_different_orders_are_different_questions() -> None:
    one, two = turn("where is my order 104512", 0.1), turn("where is my order 104513", 0.1)
    assert not same_question(one, two, FrustrationRules())
    assert same_question(one, turn("where is my order 104512??", 0.1), FrustrationRules())


# Rewordings of one question and different questions about the same thing, written for this test; the
# default repetition_cosine sits between them with the real model.
REWORDED = [
    ("where is my order?", "I asked where my order is. where is it"),
    ("when will my refund arrive?", "ok but when does the refund actually arrive"),
    ("how do I reset my Pulse 700?", "that didn't help. how do I reset the Pulse 700 headphones"),
    ("why hasn't my tracking updated", "the tracking still hasn't updated, why"),
    ("can I return my earbuds?", "so can I send the earbuds back or not"),
    ("my watch won't charge", "the watch still won't charge, what do I do"),
    ("when will the parcel be delivered", "I'm asking a simple question: when is the parcel delivered. a date please"),
]
DIFFERENT = [
    ("where is my order?", "can I change the delivery address?"),
    ("when will my refund arrive?", "how do I start a return?"),
    ("how do I reset my Pulse 700?", "how do I pair the Pulse 700 with my laptop?"),
    ("my watch won't charge", "how long is the warranty on the watch?"),
    ("can I return my earbuds?", "do you have the earbuds in white?"),
    ("when will the parcel be delivered", "can someone else sign for the parcel"),
    ("what is your returns policy", "how long do refunds take to my card"),
]


def test_the_default_cosine_separates_rewordings_from_different_questions_with_the_real_model() -> None:
    from bot.embeddings import SentenceTransformerEmbedder

    embedder, rules = SentenceTransformerEmbedder(), FrustrationRules(repetition_similarity=1.0)  # meaning only
    for pairs, expected in ((REWORDED, True), (DIFFERENT, False)):
        for a, b in pairs:
            va, vb = embedder.embed([a, b])
            assert same_question(TurnSignal(a, 0.1, vector=va), TurnSignal(b, 0.1, vector=vb), rules) is expected, (a, b)


def test_short_answers_repeated_by_a_form_are_not_repetition() -> None:
    turns = [turn("104512", 0.1), turn("104512", 0.1), turn("yes", 0.05), turn("yes", 0.05)]
    verdict = conversation_frustration(turns)
    assert verdict.reasons == ()
    assert not verdict.frustrated


def test_different_questions_are_not_repetition() -> None:
    turns = [turn("where is my order", 0.3), turn("how do I return the speaker", 0.2)]
    assert not any("repeated" in reason for reason in conversation_frustration(turns).reasons)


def test_similarity_ignores_case_and_punctuation() -> None:
    assert similarity("Where is my order??", "where is my order") == pytest.approx(1.0)
    assert similarity("where is my order", "how do I reset my headphones") < 0.3
    assert similarity("", "anything") == 0.0


def test_caps_counts_only_on_a_negative_message() -> None:
    happy = conversation_frustration([turn("THANK YOU so much", 0.05, "caps")])
    assert happy.reasons == () and not happy.frustrated
    angry = conversation_frustration([turn("I WANT MY MONEY BACK", 0.6, "negative", "caps")])
    assert "ALL CAPS in the latest message" in angry.reasons
    assert angry.score == pytest.approx(level(0.6) + 0.1)


def test_explicit_repeat_ask_and_legal_threat_count_whatever_the_score() -> None:
    verdict = conversation_frustration([turn("this is the third time I ask about my refund", 0.25, "repeat_ask")])
    assert verdict.score == pytest.approx(level(0.25) + 0.2)
    assert verdict.reasons == ("says they are asking again in the latest message",)
    legal = conversation_frustration([turn("I will file a chargeback", 0.7, "threat_legal")])
    assert legal.frustrated
    assert legal.reasons == ("negative message (score 0.70)", "mentions a chargeback or legal action in the latest message")


def test_saying_they_are_upset_counts_on_a_negative_message() -> None:
    angry = conversation_frustration([turn("ok", 0.1), turn("I'm getting really fed up here", 0.9, "negative", "upset")])
    assert angry.frustrated and "says they are angry, fed up or leaving in the latest message" in angry.reasons
    assert angry.score == pytest.approx(level(0.1, 0.9) + 0.2)
    # the cue's words on a calm message ("I'm mad about this watch, it's brilliant") are not frustration
    calm = conversation_frustration([turn("I'm mad about this watch", 0.1, "upset")])
    assert calm.reasons == () and not calm.frustrated


def test_a_cue_kept_up_over_messages_counts_once_per_message() -> None:
    once = conversation_frustration([turn("ok", 0.1), turn("love that for me", 0.5, "negative", "sarcasm")])
    twice = conversation_frustration([turn("great, another delay", 0.5, "negative", "sarcasm"),
                                      turn("love that for me", 0.5, "negative", "sarcasm")])
    assert once.score == pytest.approx(level(0.1, 0.5) + 0.15)
    assert twice.score == pytest.approx(level(0.5, 0.5) + 2 * 0.15)
    assert twice.frustrated and not once.frustrated
    assert "sarcasm in 2 of the last 2 messages" in twice.reasons


def test_one_clearly_negative_message_with_sarcasm_crosses_the_threshold() -> None:
    assert conversation_frustration([turn("great job, still not here", 0.85, "negative", "sarcasm")]).frustrated
    assert not conversation_frustration([turn("great job, still not here", 0.75, "negative", "sarcasm")]).frustrated


def test_a_negative_message_right_after_an_unhelpful_answer_weighs_more() -> None:
    failed = TurnSignal("so I have to figure it out myself", 0.6, ("negative",), after_failure=True)
    verdict = conversation_frustration([turn("how do I pair the buds", 0.1), failed])
    assert verdict.score == pytest.approx(level(0.1, 0.6) + 0.1)
    assert "negative right after an answer that did not help" in verdict.reasons
    calm = TurnSignal("ok, what about the other setting?", 0.2, (), after_failure=True)
    assert conversation_frustration([turn("how do I pair the buds", 0.1), calm]).reasons == ()
    # "negative" is the per-message model's verdict at its own threshold, whatever the score
    flagged = TurnSignal("so I have to figure it out myself", 0.43, ("negative",), after_failure=True)
    assert "negative right after an answer that did not help" in conversation_frustration([flagged]).reasons
    unflagged = TurnSignal("so I have to figure it out myself", 0.43, (), after_failure=True)
    assert "negative right after an answer that did not help" not in conversation_frustration([unflagged]).reasons


def test_one_message_alone_never_crosses_the_default_threshold_without_a_cue() -> None:
    rules = FrustrationRules()
    assert rules.threshold > rules.recency  # the level of one message is at most `recency`
    assert not conversation_frustration([turn("cancel it now", 1.0, "negative")]).frustrated


def test_unhappy_in_each_of_the_latest_messages_weighs_more() -> None:
    # three messages that each read as unhappy, however politely put, then a sarcastic one
    polite = [turn("I'd like to know why my order hasn't shipped yet.", 0.75), turn("I paid for express.", 0.4),
              turn("I'll just keep refreshing the page then, shall I? Lovely.", 0.37, "sarcasm")]
    verdict = conversation_frustration(polite)
    assert verdict.frustrated
    assert verdict.score == pytest.approx(level(0.75, 0.4, 0.37) + 0.15 + 0.15)
    assert "unhappy in each of the last 3 messages" in verdict.reasons
    # one calm message in the run breaks it
    calm = [polite[0], turn("ok thanks", 0.1), polite[2]]
    assert "unhappy in each of the last 3 messages" not in conversation_frustration(calm).reasons
    # and it is a setting
    off = conversation_frustration(polite, FrustrationRules(sustained_weight=0.0))
    assert not off.frustrated


def test_cues_fade_after_cue_memory_messages() -> None:
    turns = [turn("what the hell", 0.7, "profanity"), turn("ok", 0.2), turn("fine", 0.2)]
    assert not any("swearing" in reason for reason in conversation_frustration(turns).reasons)
    two = conversation_frustration(turns[:2])
    assert "swearing in 1 of the last 2 messages" in two.reasons


def test_the_score_is_capped_at_one_and_reasons_are_ordered_by_weight() -> None:
    turns = [
        turn("where is my refund", 0.5, "negative"),
        turn("WHERE IS MY REFUND, third time I ask, I'll dispute the charge", 0.95, "negative", "caps", "repeat_ask", "threat_legal"),
    ]
    verdict = conversation_frustration(turns)
    assert verdict.score == 1.0 and verdict.frustrated
    assert verdict.reasons[0].startswith("negative tone over the last 2 messages")
    assert verdict.reasons[1] == "mentions a chargeback or legal action in the latest message"


def test_only_the_window_is_looked_at() -> None:
    old_anger = [turn("this is a disgrace", 1.0, "negative")] * 3
    questions = ["hi", "do you ship to Hawaii", "how much is express", "can I pay with Klarna", "is the Pulse 700 in stock",
                 "what colours are the buds", "ok thanks", "bye"]
    calm = [turn(text, 0.1) for text in questions]
    assert conversation_frustration(old_anger + calm, FrustrationRules(window=8)).score == pytest.approx(level(*[0.1] * 8), abs=1e-4)


def test_threshold_decides() -> None:
    turns = [turn("this is not ok", 0.6, "negative"), turn("really not ok", 0.6, "negative")]
    assert not conversation_frustration(turns).frustrated
    assert conversation_frustration(turns, FrustrationRules(threshold=0.5)).frustrated


def test_rules_from_an_empty_mapping_are_the_defaults() -> None:
    assert FrustrationRules.from_mapping({}) == FrustrationRules()
    assert FrustrationRules.from_mapping(None) == FrustrationRules()


def test_rules_from_mapping_reads_values_and_accepts_whole_numbers_for_weights() -> None:
    rules = FrustrationRules.from_mapping({"threshold": 1, "window": 5, "caps_weight": 0.2})
    assert rules.threshold == 1.0 and isinstance(rules.threshold, float)
    assert rules.window == 5 and rules.caps_weight == 0.2


def test_rules_from_mapping_names_an_unknown_key() -> None:
    with pytest.raises(ValueError, match="treshold"):
        FrustrationRules.from_mapping({"treshold": 0.5})


@pytest.mark.parametrize(
    "settings",
    [{"threshold": 1.5}, {"threshold": 0}, {"window": 0}, {"window": 2.5}, {"caps_weight": -0.1}, {"recency": "high"}, {"cue_memory": True}],
)
def test_rules_from_mapping_rejects_bad_values(settings: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        FrustrationRules.from_mapping(settings)
