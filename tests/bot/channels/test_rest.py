"""The REST body checks (bot/channels/rest.py), including the cases the reliability battery found."""
import json

import pytest

from bot.channels.rest import MAX_METADATA_BYTES, InvalidRequest, parse_body


def body(**fields) -> bytes:
    return json.dumps({"sender": "rel-1", "message": "hi", **fields}).encode()


def test_a_plain_message_passes():
    assert parse_body(body(metadata={"page": "/orders", "customer": {"email": "a@b.example"}})) == (
        "rel-1", "hi", {"page": "/orders", "customer": {"email": "a@b.example"}}, None)


def test_a_client_may_name_its_message_so_a_resent_copy_is_known():
    assert parse_body(body(message_id="c1f0e2a9-7d")).message_id == "c1f0e2a9-7d"


@pytest.mark.parametrize("message_id", ["", "short", 12345678, "x" * 65, "has space 123", {"id": "abcdefgh"}])
def test_a_message_id_that_is_not_one_is_refused(message_id):
    with pytest.raises(InvalidRequest) as refused:
        parse_body(body(message_id=message_id))
    assert '"message_id"' in str(refused.value) and refused.value.status == 400


@pytest.mark.parametrize("raw, complaint, status", [
    # found by the battery: json.loads raises RecursionError, not a decode error, so these were 500s
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply", 400),
    (b'{"sender": "rel-1", "message": "hi", "metadata": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001, "nested too deeply", 400),
    # deep or big metadata would be stored with every message of the conversation
    (body(metadata=json.loads('{"a": ' * 40 + "1" + "}" * 40)), "nested more than 16 levels", 400),
    (body(metadata={"blob": "m" * MAX_METADATA_BYTES}), "larger than 16,384 bytes", 413),
])
def test_hostile_bodies_get_a_clear_error(raw, complaint, status):
    with pytest.raises(InvalidRequest) as refused:
        parse_body(raw)
    assert complaint in str(refused.value) and refused.value.status == status


def test_metadata_at_the_limits_passes():
    nested = json.loads('{"a": ' * 15 + "1" + "}" * 15)
    assert parse_body(body(metadata=nested))[2] == nested
    assert parse_body(body(metadata={"blob": "m" * (MAX_METADATA_BYTES - 20)}))[2]


@pytest.mark.parametrize("typed, read_as", [
    ("/request_human", "/request_human"),  # a button's payload, typed or clicked
    ("  /thanks ", "  /thanks "),
    ("/session_start", "session_start"),  # found by the battery: never answered
    ("/restart", "restart"),
    ('/inform{"order_number": "104519"}', '/inform{"order_number": "104519"}'),  # what the order buttons send
    ('/csat_rating{"rating": "5"}', '/csat_rating{"rating": "5"}'),
    ('/inform{"order_number": {"a": 1}}', 'inform{"order_number": {"a": 1}}'),  # no button sends a nested value
    ('/inform{"order_number": true}', 'inform{"order_number": true}'),
    ('/inform{"order_number": "' + "9" * 201 + '"}', 'inform{"order_number": "' + "9" * 201 + '"}'),
    ('/inform{order_number}', 'inform{order_number}'),
    ('/inform["x"]', 'inform["x"]'),
    ('/session_start{"email": "a@b.c"}', 'session_start{"email": "a@b.c"}'),
    ("/greet@0.99", "greet@0.99"),
    ("//", ""),
    ("where is /my order", "where is /my order"),
])
def test_customers_give_a_button_shortcut_at_most(typed, read_as):
    from bot.channels.rest import as_customer_words

    assert as_customer_words(typed) == read_as


def test_a_message_of_slashes_only_is_empty():
    with pytest.raises(InvalidRequest, match="is empty"):
        parse_body(body(message="///"))
