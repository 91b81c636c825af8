"""Agents working handoffs from a Slack channel, kept consistent with the desk.

The handoffs live in the app database (HandoffService); Slack shows them. One loop per Rasa
process reads what changed (opened, claimed, resolved, new transcript lines, whichever process
or desk changed it) and makes the channel match: a post per handoff with Claim / Resolve /
Open-in-desk, updated in place, and the transcript copied into the post's thread. Agents' clicks
and thread replies go to the same service calls the desk makes, so the rules (who may reply,
who wins a claim) are the desk's. A Slack user acts as the desk agent with the same email.

HandoffService is synchronous (SQLAlchemy, and requests to Rasa's HTTP API, which is this very
process): its calls run in a worker thread so this event loop stays free to answer them.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Callable, Dict, Optional, Tuple

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import NotAllowed, NotFound
from bot.handoff.models import Agent, Handoff
from bot.handoff.service import DeliveryFailed, HandoffService, InvalidInput
from bot.slack.blocks import desk_link, handoff_post, thread_line
from bot.slack.store import EVENT_MEMORY, SlackStore

logger = logging.getLogger(__name__)

NOT_AN_AGENT = ("Your Slack account's email ({email}) is not an agent account of the support desk, so this was not "
                "done. A team lead can add you in the desk's console.")
NO_EMAIL = "I can't see your Slack account's email, so I can't match you to a desk account (the app needs users:read.email)."
USER_CACHE_SECONDS = 600
CHANGE_OVERLAP = timedelta(seconds=5)  # re-read a little of the past: a change committed late is not missed


class SlackUsers:
    """Slack user id → the email Slack has for them (users.info), cached for a few minutes."""

    def __init__(self, client: AsyncWebClient, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.monotonic = monotonic
        self._cache: Dict[str, Tuple[float, Optional[str], bool]] = {}

    async def lookup(self, user_id: str) -> Tuple[Optional[str], bool]:
        """(email or None, is a bot); a failed lookup counts as no email and is logged."""
        cached = self._cache.get(user_id)
        if cached and self.monotonic() - cached[0] < USER_CACHE_SECONDS:
            return cached[1], cached[2]
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as error:
            logger.warning("users.info for %s failed (%s): treated as a user without an email", user_id,
                           slack_error(error))
            return None, False
        user = response.get("user") or {}
        email = (user.get("profile") or {}).get("email") or None
        is_bot = bool(user.get("is_bot"))
        self._cache[user_id] = (self.monotonic(), email.strip().lower() if email else None, is_bot)
        return self._cache[user_id][1], is_bot


class SlackAgents:
    def __init__(self, handoff: HandoffService, store: SlackStore, client: AsyncWebClient, users: SlackUsers,
                 channel: str, desk_url: str, clock: Callable[[], datetime], company: str = "") -> None:
        self.handoff = handoff
        self.company = company  # the company's short name (company.yml), on every post
        self.store = store
        self.client = client
        self.users = users
        self.channel = channel
        self.desk_url = desk_url
        self.clock = clock
        self._watermark: Optional[datetime] = None
        self._retry: set = set()  # handoffs whose post or update Slack refused: tried again next round
        # one round of syncing at a time, and none while an agent's Slack reply is being saved
        # (the reply must be marked as written in Slack before a round could copy it into the thread)
        self._lock = asyncio.Lock()

    # keeping the channel in step ---------------------------------------------------------

    async def run(self, every: float = 1.0) -> None:
        """Sync forever; a failed round is logged and the next one tries again."""
        logger.info("Slack: posting handoffs to channel %s", self.channel)
        rounds = 0
        while True:
            try:
                await self.sync()
                rounds += 1
                if rounds % 3600 == 1:
                    await asyncio.to_thread(self.store.forget_events_before, self.clock() - EVENT_MEMORY)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive a database restart; the cause is logged
                logger.exception("Slack: syncing handoffs to the agents' channel failed; retrying")
            await asyncio.sleep(every)

    async def sync(self) -> None:
        """Post new handoffs, update changed ones, copy new transcript lines into their threads."""
        async with self._lock:
            now = self.clock()
            if self._watermark is None:  # first round: everything still open, whenever it was opened
                changed = await asyncio.to_thread(self.handoff.queue)
            else:
                changed = await asyncio.to_thread(self.handoff.changed_since, self._watermark - CHANGE_OVERLAP)
            seen = {h.id for h in changed}
            retry, self._retry = self._retry - seen, set()
            for handoff_id in retry:
                changed.append(await asyncio.to_thread(self.handoff.handoff, handoff_id))
            for handoff in changed:
                await self._sync_handoff(handoff)
            self._watermark = now

    async def _sync_handoff(self, handoff: Handoff) -> None:
        post = await asyncio.to_thread(self.store.post, handoff.id)
        if post is None:
            if not handoff.active:
                return  # closed before it was ever posted (Slack was off then)
            if not await asyncio.to_thread(self.store.reserve_post, handoff.id, self.channel, handoff.state,
                                           handoff.agent_id, self.clock()):
                return  # another process is posting it
            text, blocks = handoff_post(handoff, self.desk_url, self.company)
            try:
                response = await self.client.chat_postMessage(channel=self.channel, text=text, blocks=blocks,
                                                              unfurl_links=False)
            except SlackApiError as error:
                logger.error("Slack: could not post handoff %s to %s: %s", handoff.id, self.channel, slack_error(error))
                await asyncio.to_thread(self.store.drop_post, handoff.id)
                self._retry.add(handoff.id)
                return
            await asyncio.to_thread(self.store.set_post_ts, handoff.id, str(response["ts"]))
            post = await asyncio.to_thread(self.store.post, handoff.id)
        if post is None or post.ts is None:
            return  # still being posted by another process
        if (post.state, post.agent_id) != (handoff.state, handoff.agent_id):
            if await asyncio.to_thread(self.store.move_state, post, handoff.state, handoff.agent_id):
                text, blocks = handoff_post(handoff, self.desk_url, self.company)
                try:
                    await self.client.chat_update(channel=post.channel, ts=post.ts, text=text, blocks=blocks)
                except SlackApiError as error:
                    logger.error("Slack: could not update the post of handoff %s: %s", handoff.id, slack_error(error))
                    moved = await asyncio.to_thread(self.store.post, handoff.id)
                    if moved is not None:  # show the old state again, so the next round makes the change again
                        await asyncio.to_thread(self.store.move_state, moved, post.state, post.agent_id)
                    self._retry.add(handoff.id)
            post = await asyncio.to_thread(self.store.post, handoff.id)
            if post is None:
                return
        messages = await asyncio.to_thread(self.handoff.messages, handoff.id, post.last_message_id)
        if not messages:
            return
        if not await asyncio.to_thread(self.store.move_messages, post, messages[-1].id):
            return  # another process copies these
        written = await asyncio.to_thread(self.store.written_in_slack, [m.id for m in messages])
        for message in messages:
            if message.id in written:
                continue
            try:
                await self.client.chat_postMessage(channel=post.channel, thread_ts=post.ts, unfurl_links=False,
                                                   text=thread_line(message, handoff.customer_name))
            except SlackApiError as error:  # the line stays in the desk; the thread misses it
                logger.error("Slack: could not copy message %s into the thread of handoff %s: %s", message.id,
                             handoff.id, slack_error(error))

    # what agents do in Slack -------------------------------------------------------------

    async def agent_for(self, user_id: str) -> Tuple[Optional[Agent], Optional[str]]:
        """The desk agent a Slack user is, or why not (a message for that user)."""
        email, _ = await self.users.lookup(user_id)
        if not email:
            return None, NO_EMAIL
        agent = await asyncio.to_thread(self.handoff.store.agent_by_email, email)
        if agent is None or not agent.active:
            logger.warning("Slack user %s (%s) acted on a handoff but is not an active desk agent", user_id, email)
            return None, NOT_AN_AGENT.format(email=email)
        await asyncio.to_thread(self.handoff.heartbeat, agent)
        return agent, None

    async def claim(self, handoff_id: int, user_id: str) -> Optional[str]:
        """Claim for the Slack user; None when done, else what to tell them."""
        return await self._act(handoff_id, user_id, self.handoff.claim)

    async def resolve(self, handoff_id: int, user_id: str) -> Optional[str]:
        return await self._act(handoff_id, user_id, self.handoff.resolve)

    async def _act(self, handoff_id: int, user_id: str, action) -> Optional[str]:
        agent, refusal = await self.agent_for(user_id)
        if agent is None:
            return refusal
        try:
            await asyncio.to_thread(action, handoff_id, agent)
        except (NotAllowed, NotFound, InvalidInput) as error:
            return str(error)
        await self.sync()  # the post shows it at once, not a second later
        return None

    async def reply(self, thread_ts: str, user_id: str, text: str) -> Optional[str]:
        """An agent's reply in a handoff's thread goes to the customer; None when sent (or not a handoff thread)."""
        post = await asyncio.to_thread(self.store.post_at, self.channel, thread_ts)
        if post is None:
            return None  # a thread about something else: agents may talk among themselves
        agent, refusal = await self.agent_for(user_id)
        if agent is None:
            return refusal
        async with self._lock:
            try:
                saved = await asyncio.to_thread(self.handoff.reply, post.handoff_id, agent, text)
            except DeliveryFailed as failed:
                await asyncio.to_thread(self.store.mark_written_in_slack, failed.saved.id)
                return f"Saved, but it could not reach the customer yet. Send it again from the desk: {desk_link(self.desk_url, post.handoff_id)}"
            except (NotAllowed, NotFound, InvalidInput) as error:
                return f"Not sent: {error}."
            await asyncio.to_thread(self.store.mark_written_in_slack, saved.id)
        return None

    async def tell(self, user_id: str, text: str, thread_ts: Optional[str] = None) -> None:
        """A message only that agent sees."""
        try:
            await self.client.chat_postEphemeral(channel=self.channel, user=user_id, text=text, thread_ts=thread_ts)
        except SlackApiError as error:
            logger.error("Slack: could not tell %s %r: %s", user_id, text, slack_error(error))

def slack_error(error: SlackApiError) -> str:
    """Slack's error code for a refused call (e.g. channel_not_found), for the log."""
    response = getattr(error, "response", None)
    return str(response.get("error")) if response is not None and response.get("error") else str(error)
