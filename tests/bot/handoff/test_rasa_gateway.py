"""What the gateway asks of Rasa's HTTP API (a recording session stands in for the server)."""
import pytest
import requests

from bot.handoff.rasa_gateway import GatewayError, RasaHttpGateway


class Response:
    def __init__(self, status=200, body=None):
        self.status_code, self._body, self.text = status, body or {}, str(body)

    def json(self):
        return self._body


class RecordingSession:
    def __init__(self, response=None, error=None):
        self.calls, self.response, self.error = [], response or Response(), error

    def request(self, method, url, json=None, timeout=None, params=None):
        self.calls.append((method, url, json, params))
        if self.error:
            raise self.error
        return self.response


def test_agent_message_goes_out_on_the_customers_channel():
    session = RecordingSession()
    RasaHttpGateway("http://rasa:5005/", "tok", session=session).send_agent_message("web/1", "Hello <b>", "Maya", "agent-message-7")
    method, url, body, params = session.calls[0]
    assert (method, url) == ("POST", "http://rasa:5005/conversations/web%2F1/tracker/events")
    assert body == [{"event": "bot", "text": "Hello <b>", "metadata": {"agent": "Maya", "kind": "agent", "delivery_id": "agent-message-7"}}]
    assert params == {"output_channel": "latest", "execute_side_effects": "true", "token": "tok"}


def test_conversation_ids_go_into_the_path_as_they_are():
    # Rasa's routes do not decode the path: "slack%3AT1..." would name another, empty conversation
    session = RecordingSession()
    RasaHttpGateway("http://rasa:5005", "tok", session=session).send_agent_message("slack:T1:C1:1700000000.000100", "Hi", "Maya", "m1")
    assert session.calls[0][1] == "http://rasa:5005/conversations/slack:T1:C1:1700000000.000100/tracker/events"


def test_hand_back_resumes_listens_then_triggers_the_rating():
    session = RecordingSession()
    RasaHttpGateway("http://rasa:5005", "tok", session=session).hand_back("c1", "hand-back-3")
    assert [c[2] for c in session.calls] == [
        [{"event": "resume", "metadata": {"delivery_id": "hand-back-3-resume"}},
         {"event": "action", "name": "action_listen", "metadata": {"delivery_id": "hand-back-3-listen"}}],
        {"name": "handoff_resolved", "entities": {"delivery_id": "hand-back-3"}}]
    assert session.calls[1][1].endswith("/conversations/c1/trigger_intent")


def test_errors_say_what_failed():
    down = RasaHttpGateway("http://rasa:5005", "tok", session=RecordingSession(error=requests.ConnectionError("refused")))
    with pytest.raises(GatewayError, match="unreachable"):
        down.hand_back("c1", "hand-back-1")
    refused = RasaHttpGateway("http://rasa:5005", "bad", session=RecordingSession(Response(401, {"message": "no"})))
    with pytest.raises(GatewayError, match="401"):
        refused.transcript("c1")


def test_the_token_never_appears_in_an_error():
    error = requests.ConnectionError("HTTPConnectionPool: Max retries exceeded with url: /conversations/c1?token=s3cret")
    down = RasaHttpGateway("http://rasa:5005", "s3cret", session=RecordingSession(error=error))
    with pytest.raises(GatewayError) as raised:
        down.transcript("c1")
    assert "s3cret" not in str(raised.value) and raised.value.__cause__ is None
