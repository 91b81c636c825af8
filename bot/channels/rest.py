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
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.rasa_gateway import PATH_SAFE

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 10_000
MAX_SENDER_CHARS = 128
# Conversation ids other channels mint (bot/slack/places.py). A website visitor choosing one would join a
# Slack customer's conversation, verified identity included, so the web channels refuse them.
RESERVED_SENDER_PREFIXES = ("slack:",)
# Rasa's HTTP API (sanic 21.12, routes without `unquote`) matches a conversation id in the URL as sent,
# so an id that needs percent-encoding (a space, "%", "?", "#", non-ASCII) could never be addressed by the
# desk's replies or hand-back. Such ids are refused when a conversation starts.
SENDER_PATTERN = re.compile(f"[A-Za-z0-9{re.escape(PATH_SAFE)}]+")
USAGE = 'POST a JSON object: {"sender": "<conversation id>", "message": "<text>", "metadata": {...}}'


class InvalidRequest(ValueError):
    """The request cannot be turned into a user message; the text says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_body(raw: bytes) -> tuple[str, str, Optional[Dict[str, Any]]]:
    """Validate a webhook body and return (sender, message, metadata)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not UTF-8 text. " + USAGE) from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error.msg}). " + USAGE) from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"the body must be a JSON object, not {type(body).__name__}. " + USAGE)
    return check_message(body.get("sender"), body.get("message"), body.get("metadata"))


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
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest('"metadata" must be a JSON object when given')
    return sender, message, metadata


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
                sender, text, metadata = parse_body(request.body or b"")
            except InvalidRequest as invalid:
                logger.info("rejected REST message from %s: %s", request.ip, invalid)
                return response.json({"error": str(invalid)}, status=invalid.status)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
                )
            except Exception:  # the one place a failed turn is caught: log it, tell the client plainly
                logger.exception("could not handle a message of conversation %s", sender)
                return response.json(
                    {"error": "the assistant could not handle this message; it has been logged"}, status=503
                )
            return response.json(collector.messages)

        return webhook
