"""The Slack channel: customers talk to the assistant in Slack, agents work handoffs from Slack.

A custom Rasa input/output channel (registered in credentials.yml) that mounts a slack-bolt
`AsyncApp` on Rasa's web server at /webhooks/slack/events, the one Request URL the Slack app
uses for both events and interactivity. Being a Rasa channel is what lets agents' replies and
the hand-back reach Slack customers: Rasa's HTTP API delivers them through the output channel
of the channel the customer last wrote on (bot/handoff/rasa_gateway.py).

What slack-bolt and slack_sdk do here: request-signature checks (which we also make ourselves,
first, to log why a request was refused), url_verification, acknowledging events at once while
the listener runs on (Slack wants an answer within 3 s), ignoring the app's own messages, and
retrying Web API calls answered with HTTP 429 after their Retry-After delay.

What this module adds: one Rasa conversation per DM and per channel thread (bot/slack/places.py),
events handled once however often Slack delivers them (bot/slack/store.py), the customer's
Slack-verified email as a signed identity in direct messages only (a channel thread is read by
everyone in the channel, so order details are never linked there), Block Kit for what the
assistant says (bot/slack/blocks.py) and the agents' side (bot/slack/agents.py).

Without SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET the channel is switched off: it says so in the
log and answers its URL with 503.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_bolt.adapter.sanic import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.rest import MAX_MESSAGE_CHARS, NOT_HANDLED, as_customer_words
from bot.identity import sign_email
from bot.settings import Settings
from bot.slack.agents import SlackAgents, SlackUsers, slack_error
from bot.slack.blocks import answered, bot_message, unescape
from bot.slack.places import SlackPlace, is_direct_channel, place_for_message, place_of
from bot.slack.store import SlackStore
from bot.store.service import utcnow

logger = logging.getLogger(__name__)

MAX_SIGNATURE_AGE = 60 * 5  # seconds; Slack's own advice, and slack_sdk's
RATE_LIMIT_RETRIES = 3
# message subtypes that are a person writing; edits, deletions, joins and the like are not answered
CUSTOMER_SUBTYPES = (None, "file_share", "thread_broadcast")
TOO_LONG = f"That message is too long for me ({MAX_MESSAGE_CHARS:,} characters at most). Could you shorten it?"
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_SPECIAL = re.compile(r"<!(\w+)(?:\|([^>]+))?>")


def customer_text(raw: str, bot_user_id: Optional[str]) -> str:
    """A Slack message as the customer meant it: without the app's mention, links and mentions as
    words, Slack's escaping undone."""
    text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else "@someone", raw or "")
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    return as_customer_words(" ".join(unescape(text).split()))


def malformed_body(raw: bytes, content_type: str) -> Optional[str]:
    """Why a (correctly signed) body is not an event or interaction as Slack sends them, or None.
    Found by the reliability battery: signed `null`, `[]` or invalid UTF-8 bodies were 500s inside slack-bolt."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    try:
        if "application/x-www-form-urlencoded" in content_type:
            form = parse_qs(text)
            if "payload" not in form:
                return "an interaction must carry a payload"
            body = json.loads(form["payload"][0])
        else:
            body = json.loads(text)
    except (ValueError, RecursionError):
        return "the body is not valid JSON"
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    for key in ("event", "user", "team", "channel", "container", "message"):
        if key in body and not isinstance(body[key], dict):
            return f'"{key}" must be an object'
    actions = body.get("actions", [])
    if not isinstance(actions, list) or not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
        return '"actions" must be a list of objects with an "action_id"'
    return None


class SupportSlackOutput(OutputChannel):
    """Posts what the assistant (or an agent, through Rasa's API) says into the conversation's DM or thread."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    @classmethod
    def name(cls) -> Text:
        return "slack"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        place = place_of(recipient_id)
        if place is None:
            logger.error("Slack: %r is not a Slack conversation; message not sent", recipient_id)
            return
        text, blocks = bot_message(message)
        if message.get("image"):
            blocks.append({"type": "image", "image_url": str(message["image"]), "alt_text": "image"})
        if not blocks:
            return
        try:
            await self.client.chat_postMessage(channel=place.channel, thread_ts=place.thread_ts, text=text or " ",
                                               blocks=blocks, unfurl_links=False)
        except SlackApiError as error:
            logger.error("Slack: could not post to %s: %s", recipient_id, slack_error(error))
            raise

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


class SupportSlackInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SupportSlackInput":
        # tokens and secrets come from the environment only (bot/settings.py), never from credentials.yml
        return cls(Settings.from_env())

    def __init__(self, settings: Settings, store: Optional[SlackStore] = None,
                 agents: Optional[SlackAgents] = None) -> None:
        self.settings = settings
        self.enabled = settings.slack_enabled
        self.client: Optional[AsyncWebClient] = None
        self.agents: Optional[SlackAgents] = None
        self._sync_task: Optional[asyncio.Task] = None
        if not self.enabled:
            logger.info("Slack is switched off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to switch it on)")
            return
        self.client = AsyncWebClient(token=settings.slack_bot_token,
                                     base_url=settings.slack_api_url or "https://slack.com/api/")
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
        self.store = store or SlackStore.from_url(settings.app_db_url)
        self.users = SlackUsers(self.client)
        if agents is not None:
            self.agents = agents
        elif settings.slack_agents_enabled:
            from bot.company import load_company
            from bot.container import build_handoff

            self.agents = SlackAgents(build_handoff(settings), self.store, self.client, self.users,
                                      settings.slack_agents_channel, settings.web_url, utcnow,
                                      company=load_company(settings.company_profile).short_name)
        self.bolt = AsyncApp(token=settings.slack_bot_token, signing_secret=settings.slack_signing_secret,
                             client=self.client, process_before_response=False, logger=logging.getLogger("slack_bolt"))
        self._listen(self.bolt)
        logger.info("Slack is on: events and interactivity at /webhooks/slack/events%s",
                    f"; handoffs posted to {settings.slack_agents_channel}" if self.agents else "")

    # the Slack app's listeners ------------------------------------------------------------

    def _listen(self, app: AsyncApp) -> None:
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_message)
        app.action(re.compile(r"^reply_\d+$"))(self._on_reply_button)
        app.action("handoff_claim")(self._on_claim)
        app.action("handoff_resolve")(self._on_resolve)
        app.action("handoff_open")(self._on_open)  # a link button: Slack opens the desk; it only wants the ack

    async def _on_message(self, body: Dict[str, Any], event: Dict[str, Any], context: Dict[str, Any]) -> None:
        if event.get("bot_id") or event.get("subtype") not in CUSTOMER_SUBTYPES or not event.get("user"):
            return  # bots (this app included), edits, deletions, joins
        channel, ts, user = str(event.get("channel") or ""), str(event.get("ts") or ""), str(event["user"])
        keys = [f"event:{body.get('event_id')}" if body.get("event_id") else "", f"message:{channel}:{ts}"]
        if not await asyncio.to_thread(self.store.first_sighting, keys, utcnow()):
            logger.info("Slack: event %s (message %s in %s) already handled; retry %s ignored", body.get("event_id"), ts,
                        channel, context.get("retry_num") or "-")
            return
        if channel == self.settings.slack_agents_channel:
            if self.agents is not None and event.get("thread_ts"):
                text = customer_text(str(event.get("text") or ""), context.get("bot_user_id"))
                refusal = await self.agents.reply(str(event["thread_ts"]), user, text) if text else None
                if refusal:
                    await self.agents.tell(user, refusal, thread_ts=str(event["thread_ts"]))
            return
        email, is_bot = await self.users.lookup(user)
        if is_bot:
            return
        team = str(body.get("team_id") or event.get("team") or "T")
        place = place_for_message(team, channel, ts, event.get("thread_ts"), event.get("channel_type"))
        text = customer_text(str(event.get("text") or ""), context.get("bot_user_id")) or "/greet"
        if len(text) > MAX_MESSAGE_CHARS:
            await SupportSlackOutput(self.client).send_response(place.conversation_id, {"text": TOO_LONG})
            return
        await self._deliver(context, place, text, user, email)

    async def _on_reply_button(self, ack: Callable[[], Awaitable[Any]], body: Dict[str, Any],
                               action: Dict[str, Any], context: Dict[str, Any]) -> None:
        await ack()
        container = body.get("container") or {}
        channel, message_ts = str(container.get("channel_id") or ""), str(container.get("message_ts") or "")
        user = str((body.get("user") or {}).get("id") or "")
        # one answer per message: a double click, or a second person clicking, does nothing more
        if not await asyncio.to_thread(self.store.first_sighting, [f"reply:{channel}:{message_ts}"], utcnow()):
            return
        team = str((body.get("team") or {}).get("id") or body.get("team_id") or "T")
        thread_ts = container.get("thread_ts")
        place = SlackPlace(team, channel) if is_direct_channel(channel) else SlackPlace(team, channel, thread_ts or message_ts)
        title = str((action.get("text") or {}).get("text") or action.get("value") or "")
        message = body.get("message") or {}
        try:
            await self.client.chat_update(channel=channel, ts=message_ts, text=str(message.get("text") or title),
                                          blocks=answered(message.get("blocks") or [], title, user))
        except SlackApiError as error:  # the answer still goes to the assistant
            logger.warning("Slack: could not mark the reply chosen on %s: %s", message_ts, slack_error(error))
        email = (await self.users.lookup(user))[0] if place.is_direct else None
        await self._deliver(context, place, str(action.get("value") or title), user, email)

    async def _deliver(self, context: Dict[str, Any], place: SlackPlace, text: str, user: str,
                       email: Optional[str]) -> None:
        metadata: Dict[str, Any] = {"slack": {"user": user, "team": place.team, "channel": place.channel}}
        if place.is_direct and email:
            # the same signed claim the website's host page gives (bot/identity.py), from Slack's verified email;
            # in channel threads nobody is identified: everyone in the channel reads the answers
            metadata["customer"] = {"email": email, "signature": sign_email(self.settings.identity_secret, email)}
        on_new_message = context["on_new_message"]
        output = SupportSlackOutput(self.client)
        try:
            await on_new_message(UserMessage(text, output, place.conversation_id,
                                             input_channel=self.name(), metadata=metadata))
        except Exception:  # e.g. the conversation store refused the write (disk full, read-only file)
            # Slack has had its acknowledgement, so it will not send the event again: without this the customer's
            # message would go unanswered for good. Told to send it again, as the website's channels tell theirs.
            logger.exception("Slack: could not handle a message of conversation %s", place.conversation_id)
            await output.send_response(place.conversation_id, {"text": f"Sorry, {NOT_HANDLED}."})

    async def _on_claim(self, ack, body: Dict[str, Any], action: Dict[str, Any]) -> None:
        await ack()
        await self._agent_action(body, action, "claim")

    async def _on_resolve(self, ack, body: Dict[str, Any], action: Dict[str, Any]) -> None:
        await ack()
        await self._agent_action(body, action, "resolve")

    async def _on_open(self, ack) -> None:
        await ack()

    async def _agent_action(self, body: Dict[str, Any], action: Dict[str, Any], what: str) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        if self.agents is None:
            return
        try:
            handoff_id = int(action.get("value") or "")
        except ValueError:
            logger.warning("Slack: %s button without a handoff id: %r", what, action.get("value"))
            return
        refusal = await getattr(self.agents, what)(handoff_id, user)
        if refusal:
            await self.agents.tell(user, refusal)

    # Rasa's side ----------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("slack_webhook", __name__)
        handler = AsyncSlackRequestHandler(self.bolt) if self.enabled else None

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "off",
                                  "agents_channel": bool(self.agents)})

        @webhook.route("/events", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if handler is None:
                return response.json({"error": "Slack is switched off on this server (SLACK_BOT_TOKEN and "
                                               "SLACK_SIGNING_SECRET are not set)"}, status=503)
            refusal = self._refusal(request)
            if refusal:
                logger.warning("Slack: refused a request from %s: %s", request.ip, refusal)
                return response.json({"error": "invalid request signature"}, status=401)
            malformed = malformed_body(request.body or b"", request.headers.get("content-type", ""))
            if malformed:  # signed, but not something Slack sends: slack-bolt would fail on it with a 500
                logger.warning("Slack: refused a signed request from %s: %s", request.ip, malformed)
                return response.json({"error": malformed}, status=400)
            return await handler.handle(request, {"on_new_message": on_new_message})

        @webhook.listener("after_server_start")
        async def start_agents(app: Any, loop: Any) -> None:
            if self.agents is not None and self._sync_task is None:
                self._sync_task = loop.create_task(self.agents.run())

        @webhook.listener("before_server_stop")
        async def stop_agents(app: Any, loop: Any) -> None:
            if self._sync_task is not None:
                self._sync_task.cancel()

        return webhook

    def _refusal(self, request: Request) -> Optional[str]:
        """Why a request is not from Slack (missing, stale or wrong signature), or None."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp") or ""
        signature = request.headers.get("X-Slack-Signature") or ""
        if not timestamp or not signature:
            return "no signature headers"
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return f"timestamp {timestamp[:20]!r} is not a number"
        if age > MAX_SIGNATURE_AGE:
            return f"stale timestamp ({int(age)} s old; replayed or the clock is off)"
        # over the raw bytes (slack_sdk's verifier decodes the body first, and fails on invalid UTF-8)
        expected = "v0=" + hmac.new(self.settings.slack_signing_secret.encode(), f"v0:{timestamp}:".encode() + (request.body or b""),
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "signature does not match (wrong signing secret, or not from Slack)"
        return None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The channel agents' messages and hand-back go out on (Rasa's HTTP API with output_channel=latest)."""
        return SupportSlackOutput(self.client) if self.client is not None else None
