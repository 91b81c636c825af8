"""Signed requests that are not what Slack sends get a 400, not a 500 inside slack-bolt (found by the battery)."""
import json
from urllib.parse import urlencode

import pytest

from bot.channels.slack import customer_text, malformed_body

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("raw, content_type, complaint", [
    (b"null", "application/json", "must be a JSON object"),
    (b"[]", "application/json", "must be a JSON object"),
    (b"{", "application/json", "not valid JSON"),
    (b'{"message": "\xff\xfe"}', "application/json", "not UTF-8"),
    (b'{"type": "event_callback", "event": 5}', "application/json", '"event" must be an object'),
    (urlencode({"payload": "{not json"}).encode(), FORM, "not valid JSON"),
    (urlencode({"other": "x"}).encode(), FORM, "must carry a payload"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "actions": "x"})}).encode(), FORM, '"actions" must be a list'),
    (urlencode({"payload": json.dumps({"type": "block_actions", "actions": [{"value": 1}]})}).encode(), FORM, '"action_id"'),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": "U1", "actions": []})}).encode(), FORM, '"user" must be'),
])
def test_malformed_bodies_are_named(raw, content_type, complaint):
    assert complaint in (malformed_body(raw, content_type) or "")


def test_what_slack_sends_passes():
    event = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "text": "hi", "user": "U1"}}
    assert malformed_body(json.dumps(event).encode(), "application/json") is None
    assert malformed_body(b'{"type": "url_verification", "challenge": "c"}', "application/json") is None
    click = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "handoff_claim", "value": "7"}]}
    assert malformed_body(urlencode({"payload": json.dumps(click)}).encode(), FORM) is None


def test_in_slack_a_customer_may_type_what_a_button_sends_and_nothing_more():
    # what the assistant's buttons send (an intent, flat entities) is the customer's to send, as on the web
    assert customer_text('/inform{"order_number": "104519"}', "UBOT") == '/inform{"order_number": "104519"}'
    assert customer_text("/request_human", "UBOT") == "/request_human"
    # a confidence, nested entities or Rasa's own session intents are read as words
    assert not customer_text("/inform@0.99", "UBOT").startswith("/")
    assert not customer_text('/inform{"a": {"b": 1}}', "UBOT").startswith("/")
    assert not customer_text("/session_start", "UBOT").startswith("/")
