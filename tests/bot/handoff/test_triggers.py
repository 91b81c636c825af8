from bot.handoff.models import CUSTOMER_REQUEST, FRUSTRATED, POLICY_TOPIC
from bot.handoff.rules import load_rules
from bot.handoff.triggers import conversation_turns, decide


def user(text, score=0.1, signals=(), intent="order_status"):
    return {"event": "user", "text": text,
            "parse_data": {"intent": {"name": intent}, "frustration": {"score": score, "signals": list(signals)}}}


def test_turns_start_afresh_after_a_handoff_and_skip_buttons_and_ratings():
    events = [user("first", 0.9), {"event": "action", "name": "action_handoff"}, user("/request_human"),
              user("5", intent="csat_rating"), user("second", 0.2)]
    assert [t.text for t in conversation_turns(events)] == ["second"]
    resolved = [user("angry", 0.9), user("/handoff_resolved", intent="handoff_resolved"), user("calm", 0.1)]
    assert [t.text for t in conversation_turns(resolved)] == ["calm"]


def test_a_rating_typed_in_words_counts_a_button_does_not():
    events = [user("how do I pair the buds", 0.05, intent="ask_question"), user("/answer_not_helpful", intent="answer_not_helpful"),
              user("Super helpful, thanks so much. The steps I already did twice.", 0.75, ("negative", "sarcasm"), intent="answer_helped"),
              user("/answer_helped", intent="answer_helped")]
    assert [t.text for t in conversation_turns(events)] == ["how do I pair the buds",
                                                            "Super helpful, thanks so much. The steps I already did twice."]


def test_calm_conversation_stays_with_the_bot():
    assert decide([user("where is my order"), user("thanks, and can I change the address?")], load_rules()) is None


def test_policy_topic_in_the_latest_message():
    trigger = decide([user("hi"), user("I'll file a chargeback if this isn't fixed")], load_rules())
    assert trigger.reason == POLICY_TOPIC and "disputed charge" in trigger.detail


def test_rising_frustration_hands_off_and_says_why():
    events = [user("where is my order 104512", 0.2),
              user("it still hasn't arrived, this is really annoying", 0.75, ["negative"]),
              user("WHERE IS MY ORDER?? third time I'm asking", 0.95, ["negative", "caps", "repeat_ask"])]
    trigger = decide(events, load_rules())
    assert trigger is not None and trigger.reason == FRUSTRATED and trigger.score > 0.5
    assert trigger.detail.startswith("customer frustrated (")


def test_no_messages_no_trigger():
    assert decide([], load_rules()) is None


def test_a_message_rasa_takes_back_is_counted_once():
    # the two-stage fallback reverts the clarified message and logs it again: not a repetition
    events = [user("the thing won't work", 0.9), {"event": "rewind"}, user("the thing won't work", 0.9, intent="complain"),
              user("/answer_helped", intent="answer_helped"), {"event": "rewind"}, user("and now?", 0.2)]
    assert [t.text for t in conversation_turns(events)] == ["the thing won't work", "and now?"]
    assert conversation_turns([user("gone", 0.9), {"event": "restart"}, user("new", 0.1)])[0].text == "new"


def test_answers_to_a_form_are_information_unless_they_shout():
    events = [user("I want to return my buds", 0.3, intent="return_or_exchange"), {"event": "active_loop", "name": "order_form"},
              user("they don't fit my ears very well", 0.73, ["negative"], intent="inform"),
              user("REFUND. NOW.", 0.9, ["negative", "caps"], intent="inform"),
              {"event": "active_loop", "name": None}, user("thanks", 0.0, intent="thanks")]
    assert [t.text for t in conversation_turns(events)] == ["I want to return my buds", "REFUND. NOW.", "thanks"]


def test_a_request_for_a_person_the_nlu_missed_hands_off_even_inside_a_form():
    events = [user("where is my order 104512"), {"event": "active_loop", "name": "order_lookup_form"},
              user("actually can I just talk to someone from your team about it", intent="inform")]
    trigger = decide(events, load_rules())
    assert trigger is not None and trigger.reason == CUSTOMER_REQUEST
    assert "someone from your team" in trigger.detail
    # a button payload is the NLU's (and the rule's) business, and an old request does not count again
    assert decide([user("/request_human", intent="request_human")], load_rules()) is None
    assert decide([user("I'd like to speak to a manager"), user("ok, thanks for sorting it")], load_rules()) is None


def test_the_customers_words_after_did_you_mean_are_marked_as_restating_the_message_before():
    # Rasa's events for "ok but which day" (not understood), "did you mean ...?", then the customer's own rewording
    loop_on = {"event": "active_loop", "name": "action_two_stage_fallback"}
    loop_off = {"event": "active_loop", "name": None}
    events = [user("when is order 104901 going to arrive"),
              user("ok but which day", 0.05, intent="nlu_fallback"), {"event": "action", "name": "action_two_stage_fallback"},
              loop_on, user("which day will it arrive"), {"event": "action", "name": "action_two_stage_fallback"}, loop_off,
              {"event": "rewind"}, {"event": "action", "name": "action_listen"}, user("which day will it arrive"),
              user("which day will it arrive")]
    turns = conversation_turns(events)
    assert [t.text for t in turns] == ["when is order 104901 going to arrive", "ok but which day",
                                       "which day will it arrive", "which day will it arrive"]
    assert [t.restates_previous for t in turns] == [False, False, True, False]
    # the rewording, then the same words again: the customer has asked three times
    verdict = decide(events, load_rules())
    assert verdict is not None and verdict.reason == FRUSTRATED and "repeated the same question 3 times" in verdict.detail
    # an ordinary form closing is not a "did you mean ...?"
    form = [user("where is my order"), {"event": "active_loop", "name": "order_form"}, {"event": "active_loop", "name": None},
            user("and when will it arrive")]
    assert [t.restates_previous for t in conversation_turns(form)] == [False, False]


def test_the_message_after_a_did_not_help_rating_is_marked():
    events = [user("how do I pair the buds", 0.1, intent="ask_question"), user("/answer_not_helpful", intent="answer_not_helpful"),
              user("so I have to figure it out myself", 0.6, intent="complain"), user("ok", 0.1)]
    assert [t.after_failure for t in conversation_turns(events)] == [False, True, False]
