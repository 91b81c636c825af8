"""Rasa's socket.io channel (the website channel) with two fixes.

- Rasa 3.6 calls python-socketio's `enter_room` without `await` (RasaHQ/rasa#13027); since
  python-socketio 5.10 it is a coroutine, so with `session_persistence` no answer ever reached
  the browser. The session handler here awaits it.
- Messages are checked like the REST channel's (bot/channels/rest.py): a malformed one is
  answered with an `error` event instead of being dropped or crashing the handler. A message
  must name a session this client joined with `session_request`. A `message_id` the widget gives
  its message makes a copy sent again after a drop harmless (bot/rasa_durability.py).

And one change: each bot message reaches the browser as ONE `bot_uttered` event carrying its
text, buttons (Rasa's `quick_replies` shape), custom payload (knowledge-base card, queue
place, rating prompt) and who wrote it (`agent` for a person from the team). Rasa's output
splits text at blank lines, drops that metadata, and its `send_custom_json` passes the payload
as keyword arguments to `emit`, which fails.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput

from bot.channels.rest import NOT_HANDLED, InvalidRequest, check_message, check_message_id, sender_problem

logger = logging.getLogger(__name__)


class SupportSocketIOOutput(SocketIOOutput):
    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        payload: Dict[Text, Any] = {}
        if message.get("text"):
            payload["text"] = message["text"]
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if buttons:
            payload["quick_replies"] = [{"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
                                        for b in buttons if isinstance(b, dict)]
        if isinstance(message.get("custom"), dict):
            payload["custom"] = message["custom"]
        for key in ("agent", "kind"):
            if message.get(key):
                payload[key] = message[key]
        if message.get("timestamp"):
            payload["timestamp"] = message["timestamp"]
        if payload.keys() - {"timestamp"}:
            await self._send_message(recipient_id, payload)
        if message.get("image"):
            await self.send_image_url(recipient_id, message["image"])
        if message.get("attachment"):
            await self.send_attachment(recipient_id, message["attachment"])


class SupportSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        redis_url = os.environ.get("REDIS_URL", "").strip()  # bot/settings.py: REDIS_URL
        if redis_url:
            # several Rasa workers: emits to a room go through Redis to whichever worker holds the connection
            # (Rasa builds the server without a manager option; none has been used before the first connection)
            manager = socketio.AsyncRedisManager(redis_url, channel="support-socketio")
            manager.set_server(sio)
            sio.manager = manager
            logger.info("socket.io rooms shared between workers through Redis")

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            valid = isinstance(requested, str) and bool(requested) and sender_problem(requested) is None
            session_id = requested if valid else uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            try:
                if not isinstance(data, dict):
                    raise InvalidRequest("the event must carry an object {message, session_id, metadata}")
                sender = data.get("session_id") if self.session_persistence else sid
                if self.session_persistence and isinstance(sender, str) and sender not in sio.rooms(sid, namespace=self.namespace):
                    # A conversation is joined by session_request (and answered in its room): a client naming a
                    # session it has not joined would write into someone else's conversation without seeing replies.
                    raise InvalidRequest('send "session_request" for this session_id before messages')
                metadata = data.get(self.metadata_key)
                if isinstance(metadata, str):
                    try:
                        metadata = json.loads(metadata)
                    except json.JSONDecodeError:
                        raise InvalidRequest('"metadata" is not valid JSON') from None
                sender, text, metadata = check_message(sender, data.get("message"), metadata)
                message_id = check_message_id(data.get("message_id"))
            except InvalidRequest as invalid:
                logger.info("rejected socket.io message from %s: %s", sid, invalid)
                await sio.emit("error", {"error": str(invalid)}, room=sid)
                return
            output = SupportSocketIOOutput(sio, self.bot_message_evt)
            try:
                await on_new_message(
                    UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata or {},
                                message_id=message_id)
                )
            except Exception:  # e.g. the conversation store refused the write (disk full, read-only file)
                # Without this the failure ends in python-socketio's task and the widget waits for ever.
                logger.exception("could not handle a message of conversation %s", sender)
                await sio.emit("error", {"error": NOT_HANDLED}, room=sid)

        return webhook

    def get_output_channel(self) -> Optional[SocketIOOutput]:
        """The channel agents' messages and hand-back go out on (Rasa's HTTP API with output_channel=latest)."""
        if self.sio is None:
            return None
        return SupportSocketIOOutput(self.sio, self.bot_message_evt)
