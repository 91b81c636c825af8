"""`ConversationGateway` over Rasa's HTTP API (token-protected).

Rasa 3.6 facts this relies on (read from rasa/server.py): appending a `bot` event with
`output_channel=latest&execute_side_effects=true` delivers it through the channel the customer
last wrote on and stores it in the tracker; `trigger_intent` is ignored while the conversation
is paused, so hand-back appends a `resume` event first (and a listen, see `hand_back`); sanic
matches the conversation id in the path without decoding it, so the id goes into the URL as it is
(the channels only admit ids made of characters a path carries unencoded, bot/channels/rest.py).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import requests

from bot.errors import SupportError

logger = logging.getLogger(__name__)
DELIVERY_ID = "delivery_id"  # the metadata key Rasa's side de-duplicates appended events by (bot.rasa_durability)

HANDED_BACK_INTENT = "handoff_resolved"


# Besides letters and digits, what a URL path segment carries unencoded (RFC 3986 "pchar").
PATH_SAFE = "._~:@!$&'()*+,;=-"


def _path_id(conversation_id: str) -> str:
    # characters legal in a path segment stay as they are: Rasa's routes would not decode "%3A" back to ":"
    return quote(conversation_id, safe=PATH_SAFE)


class GatewayError(SupportError):
    """The Rasa server did not accept the request (down, wrong token, unknown conversation)."""


class RasaHttpGateway:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0, session: Optional[requests.Session] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = session or requests.Session()

    def send_agent_message(self, conversation_id: str, text: str, agent_name: str, delivery_id: str) -> None:
        # the delivery id makes a post sent again after a timeout harmless (bot/rasa_durability.py appending_once)
        event = {"event": "bot", "text": text,
                 "metadata": {"agent": agent_name, "kind": "agent", DELIVERY_ID: delivery_id}}
        self._post(f"/conversations/{_path_id(conversation_id)}/tracker/events", [event],
                   output_channel="latest", execute_side_effects="true")

    def hand_back(self, conversation_id: str, delivery_id: str) -> None:
        path = f"/conversations/{_path_id(conversation_id)}"
        # Paused, Rasa logged the customer's messages without listening for them; the listen makes the
        # triggered intent look like any customer turn, which is what the rules match on. Each step carries the
        # delivery id, so a hand-back retried after a timeout neither resumes twice nor asks for a rating twice.
        self._post(f"{path}/tracker/events", [{"event": "resume", "metadata": {DELIVERY_ID: f"{delivery_id}-resume"}},
                                              {"event": "action", "name": "action_listen",
                                               "metadata": {DELIVERY_ID: f"{delivery_id}-listen"}}])
        self._post(f"{path}/trigger_intent", {"name": HANDED_BACK_INTENT, "entities": {DELIVERY_ID: delivery_id}},
                   output_channel="latest")

    def transcript(self, conversation_id: str) -> List[Dict[str, Any]]:
        response = self._request("GET", f"/conversations/{_path_id(conversation_id)}/tracker",
                                 None, include_events="ALL")
        return list(response.json().get("events") or [])

    def _post(self, path: str, body: Any, **params: str) -> requests.Response:
        return self._request("POST", path, body, **params)

    def _request(self, method: str, path: str, body: Any, **params: str) -> requests.Response:
        try:
            response = self.http.request(method, self.base_url + path, json=body, timeout=self.timeout,
                                         params={**params, "token": self.token})
        except requests.RequestException as error:
            # requests puts the URL, token included, into its message: the token must not reach logs or clients
            reason = str(error).replace(self.token, "***") if self.token else str(error)
            raise GatewayError(f"the conversation server at {self.base_url} is unreachable: {reason}") from None
        if response.status_code >= 400:
            raise GatewayError(f"the conversation server answered {response.status_code} to {method} {path.split('?')[0]}: "
                               f"{response.text[:300]}")
        return response
