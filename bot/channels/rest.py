"""Rasa's REST channel with its input checked before anything reaches the dialogue.

Rasa's own `RestInput` answers a JSON list with a 500, files messages without a sender under
one shared "default" conversation (so strangers would share a conversation), and silently
drops a message that is not a string. Here every malformed request gets a 400 that says what
is wrong, and the conversation it named is left untouched.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, NamedTuple, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.rasa_gateway import PATH_SAFE

logger = logging.getLogger(__name__)
# what a customer is told when their message could not be handled (the cause is in the log, never in the answer)
NOT_HANDLED = "the assistant could not take this message just now (it has been logged); please send it again in a moment"

MAX_MESSAGE_CHARS = 10_000
MAX_SENDER_CHARS = 128
# Metadata is kept with every message in the tracker store: a page, a locale, a signed identity. Bigger or
# deeper than this is not a widget's, and a deep one would exhaust the recursion of every JSON encoder after us.
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 16
# Conversation ids other channels mint (bot/slack/places.py). A website visitor choosing one would join a
# Slack customer's conversation, verified identity included, so the web channels refuse them.
RESERVED_SENDER_PREFIXES = ("slack:",)
# Rasa's HTTP API (sanic 21.12, routes without `unquote`) matches a conversation id in the URL as sent,
# so an id that needs percent-encoding (a space, "%", "?", "#", non-ASCII) could never be addressed by the
# desk's replies or hand-back. Such ids are refused when a conversation starts.
SENDER_PATTERN = re.compile(f"[A-Za-z0-9{re.escape(PATH_SAFE)}]+")
# Rasa reads "/intent" as that intent given and "/intent{...}" as entities given too: that is how the bot's
# buttons answer (an item to return, an article picked, a rating). What a button can send, a customer can type,
# so the entities are only ever values the customer could have typed in words, each checked by the action that
# uses it. What no button sends is refused as a shortcut and read as plain words: a confidence ("/intent@0.9"),
# entities that are not a flat object of short values, and Rasa's own session intents.
INTENT_SHORTCUT = re.compile(r"/([A-Za-z_][A-Za-z0-9_-]*)(\{.*\})?", re.DOTALL)
ENTITY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
MAX_ENTITY_VALUE_CHARS = 200
INTERNAL_INTENTS = frozenset({"session_start", "restart", "back", "nlu_fallback"})
# A client's own id for a message, kept when it sends the message again after a drop or a timeout: the second
# copy is then not handled again (bot/rasa_durability.py), and gets the answers the first one got.
MESSAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
USAGE = ('POST a JSON object: {"sender": "<conversation id>", "message": "<text>", "metadata": {...}, '
         '"message_id": "<your id for this message, optional>"}')


class InvalidRequest(ValueError):
    """The request cannot be turned into a user message; the text says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Incoming(NamedTuple):
    sender: str
    message: str
    metadata: Optional[Dict[str, Any]]
    message_id: Optional[str] = None  # the client's, when it gave one


def parse_body(raw: bytes) -> Incoming:
    """Validate a webhook body."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not UTF-8 text. " + USAGE) from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error.msg}). " + USAGE) from None
    except RecursionError:  # found by the reliability battery: "[[[[..." 100,000 deep was a 500
        raise InvalidRequest("the body's JSON is nested too deeply. " + USAGE) from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"the body must be a JSON object, not {type(body).__name__}. " + USAGE)
    return Incoming(*check_message(body.get("sender"), body.get("message"), body.get("metadata")),
                    check_message_id(body.get("message_id")))


def check_message_id(message_id: Any) -> Optional[str]:
    """The client's id for its message, or None when it gave none; InvalidRequest when it is not one."""
    if message_id is None:
        return None
    if not isinstance(message_id, str) or not MESSAGE_ID_PATTERN.fullmatch(message_id):
        raise InvalidRequest('"message_id" must be 8 to 64 letters, digits, "_" or "-" when given')
    return message_id


def check_message(sender: Any, message: Any, metadata: Any) -> tuple[str, str, Optional[Dict[str, Any]]]:
    """Validate one incoming message of any channel; raise InvalidRequest saying what is wrong."""
    if not isinstance(sender, str) or not sender.strip():
        raise InvalidRequest('"sender" must be a non-empty string identifying the conversation')
    problem = sender_problem(sender)
    if problem:
        raise InvalidRequest(f'"sender" {problem}')
    if not isinstance(message, str):
        raise InvalidRequest('"message" must be a string')
    if not message.strip():
        raise InvalidRequest('"message" is empty')
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(f'"message" is longer than {MAX_MESSAGE_CHARS} characters', status=413)
    message = as_customer_words(message)
    if not message.strip():
        raise InvalidRequest('"message" is empty')
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest('"metadata" must be a JSON object when given')
    if metadata:
        if _depth(metadata) > MAX_METADATA_DEPTH:
            raise InvalidRequest(f'"metadata" is nested more than {MAX_METADATA_DEPTH} levels deep')
        if len(json.dumps(metadata, ensure_ascii=False).encode("utf-8", errors="replace")) > MAX_METADATA_BYTES:
            raise InvalidRequest(f'"metadata" is larger than {MAX_METADATA_BYTES:,} bytes', status=413)
    return sender, message, metadata


def as_customer_words(text: str) -> str:
    """The text as Rasa may read it from a customer: a button's payload stays, any other "/..." loses its slashes.
    (Found by the reliability battery: "/session_start" typed in the widget was never answered.)"""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    shortcut = INTENT_SHORTCUT.fullmatch(stripped)
    if shortcut and shortcut.group(1) not in INTERNAL_INTENTS and _button_entities(shortcut.group(2)):
        return text
    return stripped.lstrip("/")


def _button_entities(entities: Optional[str]) -> bool:
    """Whether the "{...}" of a shortcut is what a button sends: absent, or a flat object of short values."""
    if entities is None:
        return True
    try:
        given = json.loads(entities)
    except (json.JSONDecodeError, RecursionError):
        return False
    return isinstance(given, dict) and all(
        ENTITY_NAME.fullmatch(name)
        and isinstance(value, (str, int, float))
        and not isinstance(value, bool)
        and len(str(value)) <= MAX_ENTITY_VALUE_CHARS
        for name, value in given.items()
    )


def _depth(value: Any) -> int:
    """How deeply containers nest in a decoded JSON value (iteratively: the value may be deeper than the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_METADATA_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def sender_problem(sender: str) -> Optional[str]:
    """Why a client-chosen conversation id cannot be used, or None when it can."""
    if len(sender) > MAX_SENDER_CHARS or not SENDER_PATTERN.fullmatch(sender):
        return f"must be at most {MAX_SENDER_CHARS} characters of letters, digits and {PATH_SAFE} (no spaces)"
    if sender.startswith(RESERVED_SENDER_PREFIXES):
        return "must not start with " + " or ".join(RESERVED_SENDER_PREFIXES)
    return None


class SupportRestInput(RestInput):
    """POST /webhooks/rest/webhook, answering with the bot's messages as JSON."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint("support_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata, message_id = parse_body(request.body or b"")
            except InvalidRequest as invalid:
                logger.info("rejected REST message from %s: %s", request.ip, invalid)
                return response.json({"error": str(invalid)}, status=invalid.status)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata,
                                message_id=message_id)
                )
            except Exception:  # the one place a failed turn is caught: log it, tell the client plainly
                logger.exception("could not handle a message of conversation %s", sender)
                return response.json({"error": NOT_HANDLED}, status=503)
            return response.json(collector.messages)

        return webhook
