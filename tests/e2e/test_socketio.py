"""The website channel: Rasa's socket.io channel with session persistence."""
import queue
import uuid

import pytest
import socketio

pytestmark = pytest.mark.integration


def test_socketio_conversation_keeps_its_session(servers):
    session_id = uuid.uuid4().hex
    received: "queue.Queue[dict]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", received.put)
    client.on("session_confirm", lambda sid: received.put({"session_confirm": sid}))
    client.connect(servers.settings.rasa_url, transports=["polling"], wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": session_id})
        assert received.get(timeout=20) == {"session_confirm": session_id}
        client.emit("user_uttered", {"message": "hello", "session_id": session_id})
        assert "welcome to Brightwave" in received.get(timeout=60)["text"]
    finally:
        client.disconnect()
    # the conversation is stored under the session id, so a reload (same session id) continues it
    events = servers.tracker(session_id)["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["hello"]


def test_malformed_socketio_messages_get_an_error_event(servers):
    errors: "queue.Queue[dict]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("error", errors.put)
    client.connect(servers.settings.rasa_url, transports=["polling"], wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": uuid.uuid4().hex})
        for bad in ("just a string", {"message": 42, "session_id": "s"}, {"message": "hi"},
                    {"message": "hi", "session_id": "s", "metadata": "{not json"}):
            client.emit("user_uttered", bad)
            assert "error" in errors.get(timeout=20)
    finally:
        client.disconnect()


@pytest.mark.parametrize("requested", ["slack:T0TEST001:DJANE0001", "jane doe", "a%3Ab"])
def test_a_session_id_the_server_could_not_serve_is_replaced(servers, requested):
    # a Slack customer's id would join their conversation; one needing percent-encoding could not be
    # addressed through Rasa's HTTP API by the desk later
    confirmed: "queue.Queue[str]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("session_confirm", confirmed.put)
    client.connect(servers.settings.rasa_url, transports=["polling"], wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": requested})
        fresh = confirmed.get(timeout=20)
        assert fresh != requested and len(fresh) == 32
    finally:
        client.disconnect()


def test_a_message_for_a_session_not_joined_is_refused(servers):
    # found by the reliability battery: naming another visitor's session id wrote into their conversation
    victim = uuid.uuid4().hex
    events: "queue.Queue[tuple]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("error", lambda e: events.put(("error", e)))
    client.on("bot_uttered", lambda m: events.put(("bot", m)))
    client.on("session_confirm", lambda s: events.put(("confirm", s)))
    client.connect(servers.settings.rasa_url, transports=["polling"], wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": uuid.uuid4().hex})
        assert events.get(timeout=20)[0] == "confirm"
        client.emit("user_uttered", {"message": "cancel my order", "session_id": victim})
        kind, body = events.get(timeout=20)
        assert kind == "error" and "session_request" in body["error"]
    finally:
        client.disconnect()
    assert not [e for e in servers.tracker(victim)["events"] if e["event"] == "user"]


def test_rasas_own_intent_syntax_typed_by_a_customer_is_answered_as_words(servers):
    # found by the reliability battery: "/session_start" typed in the chat was never answered
    session_id = uuid.uuid4().hex
    received: "queue.Queue[dict]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", received.put)
    client.on("session_confirm", lambda sid: received.put({"session_confirm": sid}))
    client.connect(servers.settings.rasa_url, transports=["polling"], wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": session_id})
        assert received.get(timeout=20) == {"session_confirm": session_id}
        client.emit("user_uttered", {"message": "/session_start", "session_id": session_id})
        assert received.get(timeout=60).get("text")
    finally:
        client.disconnect()
