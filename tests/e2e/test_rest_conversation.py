"""A customer talks to the real servers over REST; the conversation survives a restart of both."""
import pytest
import requests

from bot.identity import sign_identity
from tests.e2e.conftest import new_sender, text_of

pytestmark = pytest.mark.integration


def test_order_status_conversation_survives_restart_of_both_servers(servers):
    customer = new_sender()
    assert "welcome to Brightwave" in text_of(servers.say(customer, "hi there"))
    assert "what email address" in text_of(servers.say(customer, "where is my order 104512?"))
    status = text_of(servers.say(customer, "jane.doe@example.com"))
    assert "on its way with UPS" in status and "1Z999AA10123456784" in status

    servers.restart()

    # the same conversation: the verified email is remembered, so a second order needs no email
    second = text_of(servers.say(customer, "ok and where is my other order 103877?"))
    assert "was delivered on" in second and "email" not in second
    events = servers.tracker(customer)["events"]
    user_texts = [e["text"] for e in events if e["event"] == "user"]
    assert user_texts[:3] == ["hi there", "where is my order 104512?", "jane.doe@example.com"]


def test_wrong_email_never_reveals_the_order(servers):
    customer = new_sender()
    servers.say(customer, "where's my order 104512")
    reply = text_of(servers.say(customer, "sam.patel@example.com"))
    assert "doesn't match order #104512" in reply
    assert "UPS" not in reply and "Pulse" not in reply
    for attempt in ("other@example.com", "third@example.com"):
        reply = text_of(servers.say(customer, attempt))
    assert "for your security" in reply and "UPS" not in reply


def test_unknown_order_number(servers):
    customer = new_sender()
    reply = text_of(servers.say(customer, "where is order 999999"))
    assert "can't find an order #999999" in reply


def test_cancel_before_shipping_with_confirmation(servers):
    customer = new_sender()
    servers.say(customer, "I need to cancel order 105233")
    assert "shall I cancel order #105233" in text_of(servers.say(customer, "aisha.okafor@example.com"))
    assert "is cancelled" in text_of(servers.say(customer, "yes"))
    assert "was cancelled" in text_of(servers.say(customer, "what's the status of order 105233"))


def test_cancel_after_shipping_explains_what_we_can_do(servers):
    customer = new_sender()
    servers.say(customer, "cancel my order 104901 please")
    reply = text_of(servers.say(customer, "tom.becker@example.com"))
    assert "already shipped" in reply and "refuse the delivery" in reply


def test_address_change_before_shipping(servers):
    customer = new_sender()
    servers.say(customer, "I need to change the shipping address on order 105310")
    assert "new delivery address" in text_of(servers.say(customer, "priya.nair@example.com"))
    assert "one line" in text_of(servers.say(customer, "my new flat"))
    reply = text_of(servers.say(customer, "221 Baker Street, Chicago, IL 60614"))
    assert "will ship to 221 Baker Street, Chicago, IL 60614" in reply


def test_return_with_item_choice_and_refund(servers):
    customer = new_sender()
    servers.say(customer, "i want to return something from order 103877")
    assert "Which item" in text_of(servers.say(customer, "jane.doe@example.com"))
    assert "refund or an exchange" in text_of(servers.say(customer, '/inform{"return_item": "BW-CABLE2"}'))
    assert "reason" in text_of(servers.say(customer, "refund"))
    reply = text_of(servers.say(customer, '/inform{"return_reason": "does not suit me"}'))
    assert "RA-103877-" in reply and "label" in reply


def test_a_typed_reason_that_sounds_like_stop_keeps_the_return_going(servers):
    # "changed my mind" typed at the reason question (not clicked): the NLU reads it as `stop`
    customer = new_sender()
    servers.say(customer, "i want to return something from order 103877")
    servers.say(customer, "jane.doe@example.com")
    servers.say(customer, '/inform{"return_item": "BW-WBP"}')  # the other test returns the cable
    assert "reason" in text_of(servers.say(customer, "refund"))
    reply = text_of(servers.say(customer, "I changed my mind"))
    assert "RA-103877-" in reply and "label" in reply


def test_return_past_the_window_offers_warranty(servers):
    customer = new_sender()
    servers.say(customer, "I'd like to send back my watch, order 102250")
    reply = text_of(servers.say(customer, "jane.doe@example.com"))
    assert "return window" in reply and "warranty" in reply


def test_refund_status(servers):
    customer = new_sender()
    servers.say(customer, "where is my refund for order 101932")
    assert "We refunded $59.99" in text_of(servers.say(customer, "sam.patel@example.com"))


def test_signed_identity_greets_by_name_and_skips_the_email(servers):
    customer = new_sender()
    secret = servers.settings.identity_secret
    metadata = {"customer": {"customer_id": "C1004", "email": "wei.chen@example.com",
                             "signature": sign_identity(secret, "C1004", "wei.chen@example.com")}}
    assert "Hi Wei" in text_of(servers.say(customer, "hello", metadata))
    reply = servers.say(customer, "where is my order?", metadata)
    assert [b["title"].split(" ")[0] for b in reply[0]["buttons"]] == ["#104633", "#104090"]
    assert "on its way with FedEx" in text_of(servers.say(customer, '/inform{"order_number": "104633"}', metadata))


def test_forged_identity_is_anonymous(servers):
    customer = new_sender()
    metadata = {"customer": {"customer_id": "C1004", "email": "wei.chen@example.com", "signature": "0" * 64}}
    assert "Wei" not in text_of(servers.say(customer, "hello", metadata))
    reply = servers.say(customer, "where is my order?", metadata)
    assert "buttons" not in reply[0] and "order number" in text_of(reply)


def test_http_api_needs_the_token(servers):
    url = f"{servers.settings.rasa_url}/conversations/anyone/tracker"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, params={"token": servers.settings.rasa_token}, timeout=10).status_code == 200
