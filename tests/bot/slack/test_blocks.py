"""What Slack shows: the assistant's messages as Block Kit, the agents' handoff posts, masking and escaping."""
from datetime import datetime

from bot.handoff.models import ASSIGNED, RESOLVED, WAITING, Handoff, HandoffMessage
from bot.slack.blocks import answered, bot_message, escape, handoff_post, mrkdwn, thread_line


def test_markdown_becomes_mrkdwn_and_customer_text_cannot_ping_or_link():
    assert mrkdwn("See **Returns** at [our policy](https://help.example/returns).") == \
        "See *Returns* at <https://help.example/returns|our policy>."
    assert mrkdwn("<!channel> <@U1> <https://evil.example|bank> & co") == \
        "&lt;!channel&gt; &lt;@U1&gt; &lt;https://evil.example|bank&gt; &amp; co"
    assert mrkdwn("[click](javascript:alert(1))") == "[click](javascript:alert(1))"  # only http(s) links


def test_text_with_buttons_is_sections_and_one_actions_block():
    text, blocks = bot_message({"text": "How would you rate it?", "buttons": [
        {"title": f"{n} ★", "payload": f'/csat_rating{{"rating": "{n}"}}'} for n in range(1, 6)]})
    assert text == "How would you rate it?"
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "How would you rate it?"}}
    buttons = blocks[-1]["elements"]
    assert [b["value"] for b in buttons][4] == '/csat_rating{"rating": "5"}'
    assert len({b["action_id"] for b in buttons}) == 5


def test_a_knowledge_base_answer_is_a_card_with_its_article_and_did_this_help():
    text, blocks = bot_message({
        "text": "Hold the button 10 s.\n\nFrom \"Reset your earbuds\": https://help.example/reset\n\nDid this help?",
        "buttons": [{"title": "Yes, thanks", "payload": "/answer_helped"}, {"title": "No", "payload": "/answer_not_helpful"}],
        "custom": {"kb": {"title": "Reset <your> earbuds", "url": "https://help.example/reset",
                          "passage": "Hold the **button** 10 s."}}})
    assert blocks[0]["text"]["text"] == "Hold the *button* 10 s."
    assert blocks[1]["elements"][0]["text"] == ":book: From <https://help.example/reset|Reset &lt;your&gt; earbuds>"
    assert blocks[2]["text"]["text"] == "Did this help?"
    assert [b["value"] for b in blocks[3]["elements"]] == ["/answer_helped", "/answer_not_helpful"]
    assert text.startswith("Hold the button")


def test_an_agents_message_says_who_wrote_it():
    text, blocks = bot_message({"text": "I've refunded it.", "agent": "Maya <b>"})
    assert blocks[0]["elements"][0]["text"] == "*Maya &lt;b&gt;* · support team"
    assert text == "Maya <b>: I've refunded it."


def test_long_text_is_split_within_slacks_limits():
    text, blocks = bot_message({"text": "\n\n".join(["word " * 500] * 4)})
    assert len(blocks) >= 2 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert len(text) <= 3900


def test_a_chosen_reply_replaces_the_buttons():
    _, blocks = bot_message({"text": "Did this help?", "buttons": [{"title": "No", "payload": "/no"}]})
    after = answered(blocks, "No", "U42")
    assert not any(b["type"] == "actions" for b in after)
    assert after[-1]["elements"][0]["text"] == "<@U42> chose *No*"


def handoff(state=WAITING, agent=None, **packet):
    return Handoff(id=7, conversation_id="slack:T1:D1", channel="slack", state=state, reason="frustrated",
                   reason_detail="frustration 0.81 (caps, repeated complaint)", summary="Wants a refund",
                   created_at=datetime(2026, 11, 24, 10), customer_name="Jane <script>", customer_email="jane.doe@example.com",
                   customer_verified=True, frustration=0.81, agent_id=3 if agent else None, agent_name=agent,
                   packet={"wants": "check on a refund", "tried": ["showed the refund status"],
                           "transcript": [{"who": "customer", "text": "my card 4111 1111 1111 1234 <!here>"},
                                          {"who": "bot", "text": "I'm sorry"}], **packet})


def test_a_waiting_handoff_post_has_the_context_and_claim():
    text, blocks = handoff_post(handoff(), "https://support.example")
    body = blocks[1]["text"]["text"]
    assert "*Jane &lt;script&gt;* (verified customer · j…@example.com) on *slack*" in body
    assert "*Wants:* check on a refund" in body and "*Frustration:* high (0.81)" in body
    assert "*Tried:* showed the refund status" in body
    recent = blocks[2]["text"]["text"]
    assert "[card ending 1234] &lt;!here&gt;" in recent and "4111" not in recent
    actions = blocks[-1]["elements"]
    assert [a["action_id"] for a in actions] == ["handoff_claim", "handoff_open"]
    assert actions[1]["url"] == "https://support.example/desk/#/handoff/7"
    assert "Handoff #7" in text


def test_the_post_follows_the_state():
    _, assigned = handoff_post(handoff(ASSIGNED, "Maya"), "http://x")
    assert "Maya has this conversation" in assigned[-2]["elements"][0]["text"]
    assert [a["action_id"] for a in assigned[-1]["elements"]] == ["handoff_resolve", "handoff_open"]
    _, resolved = handoff_post(handoff(RESOLVED, "Maya"), "http://x")
    assert "Resolved by Maya" in resolved[-2]["elements"][0]["text"]
    assert [a["action_id"] for a in resolved[-1]["elements"]] == ["handoff_open"]


def test_thread_lines_name_the_author_and_are_escaped():
    at = datetime(2026, 11, 24)
    assert thread_line(HandoffMessage(1, 7, "customer", "<@U1> hello & bye", at), "Jane") == "*Jane:* &lt;@U1&gt; hello &amp; bye"
    assert thread_line(HandoffMessage(2, 7, "agent", "On it", at, agent_name="Sam"), "Jane") == "*Sam* (from the desk): On it"
    assert escape("a<b") == "a&lt;b"


def test_the_post_names_the_company_of_the_profile_escaped():
    text, blocks = handoff_post(handoff(), "https://support.example", company="Acme & Sons")
    assert text.startswith("Acme &amp; Sons handoff #")
    assert blocks[-2]["elements"][0]["text"].startswith("Acme &amp; Sons support · ")
    _, unnamed = handoff_post(handoff(), "https://support.example")
    assert "support ·" not in unnamed[-2]["elements"][0]["text"]
