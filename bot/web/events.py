"""The desk's live feed: Server-Sent Events built by polling the handoff service.

Polling the database (about once a second) rather than an in-process bus keeps the feed right when
the handoffs change in another process (the action server opens them, another web worker claims
them). Events:

- `queue`: the whole queue (same shape as GET /api/queue), on connect and whenever a handoff changed;
- `handoff`: one handoff whose state, agent or transcript changed;
- `message`: a new line of a handoff's transcript (customer, agent, note or system);
- `signed_out`: the session ended (expired, signed out, account deactivated); the stream then ends.

While the stream is open the agent counts as online (the service's heartbeat), which is what lets
the assistant offer customers a person.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta
from typing import AsyncIterator, Dict, List, Tuple

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bot.handoff.models import Handoff, HandoffMessage
from bot.handoff.service import HandoffService
from bot.web.schemas import handoff_out, message_out, queue_out
from bot.web.security import Caller

# Changes are looked up with this much overlap: a transaction that took its time before ours but
# committed after our query would otherwise fall between two polls. Duplicates are filtered here.
OVERLAP = timedelta(seconds=5)
HEARTBEAT_SECONDS = 20.0  # under the service's presence window (minutes) with room to spare
PING_SECONDS = 15.0  # a comment line keeps proxies from closing an idle stream and notices a gone client


def sse(event: str, data: object) -> str:
    # json.dumps never emits a raw newline, so one `data:` line always carries the whole payload
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=_iso)}\n\n"


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class LiveFeed:
    """One desk's stream; `run` yields SSE frames until the client leaves or the session ends."""

    def __init__(self, handoff: HandoffService, caller: Caller, request: Request, poll_seconds: float,
                 stopping: threading.Event) -> None:
        self.handoff = handoff
        self.stopping = stopping
        self.caller = caller
        self.request = request
        self.poll_seconds = poll_seconds
        self._states: Dict[int, Tuple] = {}
        self._cursors: Dict[int, int] = {}

    async def run(self) -> AsyncIterator[str]:
        started = await run_in_threadpool(self.handoff.clock)
        since = started - OVERLAP
        next_heartbeat = 0.0
        next_ping = time.monotonic() + PING_SECONDS
        yield "retry: 3000\n\n"  # how long the browser's EventSource waits before reconnecting
        yield sse("queue", await run_in_threadpool(self._queue))
        # the server stopping ends the stream, so a shutdown does not wait for every browser to hang up
        while not self.stopping.is_set() and not await self.request.is_disconnected():
            if time.monotonic() >= next_heartbeat:
                if not await run_in_threadpool(self._still_signed_in):
                    yield sse("signed_out", {"error": "your session has ended; sign in again"})
                    return
                next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
            now = await run_in_threadpool(self.handoff.clock)
            frames = await run_in_threadpool(self._changes, since, started)
            since = now - OVERLAP
            for frame in frames:
                yield frame
            if frames:
                next_ping = time.monotonic() + PING_SECONDS
            elif time.monotonic() >= next_ping:
                yield ": ping\n\n"
                next_ping = time.monotonic() + PING_SECONDS
            await asyncio.sleep(self.poll_seconds)

    def _still_signed_in(self) -> bool:
        agent = self.handoff.agent_for_token(self.caller.token)
        if agent is None:
            return False
        self.handoff.heartbeat(agent)
        return True

    def _queue(self) -> dict:
        return queue_out(self.handoff.queue(), self.handoff.clock()).dict()

    def _changes(self, since: datetime, started: datetime) -> List[str]:
        """The frames for what changed since `since` and was not sent yet (runs in a worker thread)."""
        frames: List[str] = []
        moved = False
        now = self.handoff.clock()
        for handoff in self.handoff.changed_since(since):
            state = (handoff.state, handoff.agent_id, handoff.updated_at)
            if self._states.get(handoff.id) != state:
                self._states[handoff.id] = state
                moved = True
                frames.append(sse("handoff", handoff_out(handoff, now).dict()))
            frames += [sse("message", message_out(m).dict()) for m in self._new_messages(handoff, started)]
        if moved:
            frames.append(sse("queue", self._queue()))
        return frames

    def _new_messages(self, handoff: Handoff, started: datetime) -> List[HandoffMessage]:
        known = handoff.id in self._cursors
        messages = self.handoff.messages(handoff.id, self._cursors.get(handoff.id, 0))
        if messages:
            self._cursors[handoff.id] = messages[-1].id
        else:
            self._cursors.setdefault(handoff.id, 0)
        if not known:  # first sight of this handoff on this stream: only what is new since the desk connected
            messages = [m for m in messages if m.at >= started - OVERLAP]
        return messages

