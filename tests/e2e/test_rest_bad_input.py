"""Malformed and odd input over REST: a clear 4xx or a normal answer, never a 5xx, nothing lost."""
import json

import pytest
import requests

from tests.e2e.conftest import new_sender, text_of

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("body, complaint", [
    (b"", "not valid JSON"),
    (b"not json", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'[{"sender": "x", "message": "hi"}]', "must be a JSON object"),
    (b'{"message": "hi"}', '"sender"'),
    (b'{"sender": "", "message": "hi"}', '"sender"'),
    (b'{"sender": {"id": 1}, "message": "hi"}', '"sender"'),
    (b'{"sender": "x"}', '"message" must be a string'),
    (b'{"sender": "x", "message": 42}', '"message" must be a string'),
    (b'{"sender": "x", "message": ["hi"]}', '"message" must be a string'),
    (b'{"sender": "x", "message": ""}', '"message" is empty'),
    (b'{"sender": "x", "message": "hi", "metadata": "vip"}', '"metadata"'),
    (b'{"sender": "slack:T1:D1", "message": "hi"}', "must not start with slack:"),  # a Slack customer's conversation
    (b'{"sender": "jane doe", "message": "hi"}', "no spaces"),  # Rasa's HTTP API could not address it later
    (b'{"sender": "a%3Ab", "message": "hi"}', "no spaces"),
    ('{"sender": "x", "message": "caf\u00e9 \u00ff"}'.encode("latin-1"), "not UTF-8"),
    # found by the reliability battery (500s before)
    (b"[" * 100_000, "nested too deeply"),
    (b'{"sender": "x", "message": "hi", "metadata": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001, "nested too deeply"),
])
def test_malformed_requests_get_a_clear_400(servers, body, complaint):
    reply = requests.post(servers.webhook, data=body, headers={"content-type": "application/json"}, timeout=30)
    assert reply.status_code == 400
    assert complaint in reply.json()["error"]


def test_odd_messages_are_answered_and_the_conversation_is_intact(servers):
    customer = new_sender()
    servers.say(customer, "where is my order 104512")
    odd = [
        "x" * 10_000,
        "😀🙏📦 where's my stuff?? 🤬",
        "مرحبا، أين طلبي؟",  # right-to-left text
        "שלום",
        "\u202e\u0000 zero\u200bwidth",
        "<script>alert(1)</script>",
    ]
    for text in odd:
        reply = requests.post(servers.webhook, json={"sender": customer, "message": text}, timeout=60)
        assert reply.status_code == 200, (text[:20], reply.text)
        assert isinstance(reply.json(), list)
    too_long = requests.post(servers.webhook, json={"sender": customer, "message": "y" * 10_001}, timeout=30)
    assert too_long.status_code == 413
    # nothing was lost: every message is in the conversation, and it still works
    user_texts = [e["text"] for e in servers.tracker(customer)["events"] if e["event"] == "user"]
    assert user_texts[0] == "where is my order 104512" and user_texts[1:] == odd
    fresh = new_sender()
    servers.say(fresh, "where is my order 104512")
    assert "on its way" in text_of(servers.say(fresh, "jane.doe@example.com"))


def test_html_in_a_message_comes_back_as_plain_data(servers):
    reply = servers.say(new_sender(), "<img src=x onerror=alert(1)> order 999999 status")
    assert all(isinstance(m.get("text", ""), str) for m in reply)
    assert json.dumps(reply)  # serialisable; rendering safely is the widget's job (escaped there)
