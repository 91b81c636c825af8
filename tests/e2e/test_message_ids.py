"""A message sent twice with the client's own id is handled once (bot/rasa_durability.py), on real servers:
the widget and REST clients resend after a drop or a timeout, when the first copy may still be queued."""
import queue
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio

from tests.e2e.conftest import new_sender, text_of

pytestmark = pytest.mark.integration


def post(servers, sender, text, message_id):
    reply = requests.post(servers.webhook, json={"sender": sender, "message": text, "message_id": message_id},
                          timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()


def user_texts(servers, sender):
    return [e["text"] for e in servers.tracker(sender)["events"] if e["event"] == "user"]


def test_a_rest_message_sent_again_gets_the_same_answers_and_is_in_the_conversation_once(servers):
    customer = new_sender()
    first = post(servers, customer, "where is my order?", "rest-copy-0001")
    again = post(servers, customer, "where is my order?", "rest-copy-0001")
    assert text_of(first) and text_of(again) == text_of(first)
    assert user_texts(servers, customer) == ["where is my order?"]
    assert text_of(post(servers, customer, "where is my order?", "rest-copy-0002"))  # a new id: a new message
    assert user_texts(servers, customer) == ["where is my order?"] * 2


def test_two_copies_racing_for_the_conversation_are_handled_once(servers):
    customer = new_sender()
    post(servers, customer, "hi", "race-warm-0001")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(servers, customer, "how long does shipping take", "race-copy-0001"),
                                range(4)))
    assert len({text_of(a) for a in answers}) == 1 and text_of(answers[0])
    assert user_texts(servers, customer) == ["hi", "how long does shipping take"]


def test_a_widget_message_sent_again_after_a_drop_is_not_handled_twice(servers):
    session_id = uuid.uuid4().hex
    received: "queue.Queue[dict]" = queue.Queue()

    def joined() -> socketio.Client:
        client = socketio.Client(reconnection=False)
        client.on("bot_uttered", received.put)
        client.on("session_confirm", lambda sid: received.put({"session_confirm": sid}))
        client.connect(servers.settings.rasa_url, transports=["polling"], wait_timeout=20)
        client.emit("session_request", {"session_id": session_id})
        assert received.get(timeout=20) == {"session_confirm": session_id}
        return client

    message = {"message": "hello", "session_id": session_id, "message_id": "widget-msg-0001"}
    client = joined()
    client.emit("user_uttered", message)
    first = received.get(timeout=60)
    client.disconnect()  # the drop; the widget offers "Send again" and the customer clicks it
    client = joined()
    try:
        client.emit("user_uttered", message)
        again = received.get(timeout=60)
    finally:
        client.disconnect()
    # the same message, timestamp included, so the widget (which keys messages by it) shows it once
    assert again["text"] == first["text"] and again.get("timestamp") == first.get("timestamp")
    assert user_texts(servers, session_id) == ["hello"]


def test_a_message_id_that_is_not_one_is_refused_before_anything_is_written(servers):
    customer = new_sender()
    reply = requests.post(servers.webhook, json={"sender": customer, "message": "hi", "message_id": "x y"}, timeout=30)
    assert reply.status_code == 400 and '"message_id"' in reply.json()["error"]
    assert user_texts(servers, customer) == []


def test_an_agent_reply_posted_again_after_a_timeout_is_recorded_and_delivered_once(servers):
    """The desk's post to Rasa timed out while Rasa still appended it; the desk posts it again."""
    from bot.handoff.rasa_gateway import RasaHttpGateway

    session_id = uuid.uuid4().hex
    received: "queue.Queue[dict]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", received.put)
    client.on("session_confirm", lambda sid: received.put({"session_confirm": sid}))
    client.connect(servers.settings.rasa_url, transports=["websocket"], wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": session_id})
        assert received.get(timeout=20) == {"session_confirm": session_id}
        client.emit("user_uttered", {"message": "hi", "session_id": session_id, "message_id": "agent-copy-0001"})
        received.get(timeout=60)
        while not received.empty():
            received.get_nowait()
        gateway = RasaHttpGateway(servers.settings.rasa_url, servers.settings.rasa_token)
        gateway.send_agent_message(session_id, "Maya here: I'm on it.", "Maya", "agent-message-41-20261207")
        gateway.send_agent_message(session_id, "Maya here: I'm on it.", "Maya", "agent-message-41-20261207")
        gateway.send_agent_message(session_id, "Maya here: found it.", "Maya", "agent-message-42-20261207")
        texts = [received.get(timeout=20)["text"] for _ in range(2)]
        with pytest.raises(queue.Empty):
            received.get(timeout=2)
    finally:
        client.disconnect()
    assert texts == ["Maya here: I'm on it.", "Maya here: found it."]
    recorded = [e["text"] for e in servers.tracker(session_id)["events"] if e["event"] == "bot"]
    assert recorded.count("Maya here: I'm on it.") == 1 and recorded.count("Maya here: found it.") == 1


def test_a_hand_back_done_again_after_a_timeout_is_done_once(servers):
    """The web app retries a hand-back whose request timed out; Rasa may have done it already."""
    from bot.handoff.rasa_gateway import RasaHttpGateway
    from tests.e2e.test_handoff import Customer, texts

    customer = Customer(servers.settings.rasa_url)
    gateway = RasaHttpGateway(servers.settings.rasa_url, servers.settings.rasa_token)
    try:
        customer.say("hi")
        paused = requests.post(f"{servers.settings.rasa_url}/conversations/{customer.session_id}/tracker/events",
                               params={"token": servers.settings.rasa_token}, json=[{"event": "pause"}], timeout=30)
        assert paused.status_code == 200, paused.text
        assert customer.say("hello?", wait=4) == []  # with an agent: the bot is silent
        gateway.hand_back(customer.session_id, "hand-back-e2e-0001")
        gateway.hand_back(customer.session_id, "hand-back-e2e-0001")
        prompts = customer.collect(first_timeout=30, quiet=4)
    finally:
        customer.close()
    # no handoff record here, so the bot says the chat ended (with one, it asks for a rating): once
    assert len(prompts) == 1 and "chat with our team has ended" in texts(prompts), prompts
    events = servers.tracker(customer.session_id)["events"]
    assert [e["event"] for e in events].count("resume") == 1
    assert sum(e["event"] == "user" and e["parse_data"]["intent"]["name"] == "handoff_resolved" for e in events) == 1
