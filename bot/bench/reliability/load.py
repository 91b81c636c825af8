"""Load and faults: many concurrent conversations over socket.io and REST, a share of them handed to an agent,
optionally with kill -9 of each product process mid-handoff, restarted by the runner.

What is checked is what a customer and an agent would notice, counted against Rasa's tracker (the record):
- lost: a message the customer sent that is not in the conversation, or that got no answer from the bot when
  the bot had the conversation; an agent's reply that neither reached the customer nor is in the transcript;
- duplicated: a customer message in the conversation twice, an agent's reply delivered or recorded twice;
- 5xx: any answer of the webhook, the desk's API or Rasa's API with a 5xx status.

The clients behave like the product's own: the widget (widget/src/widget.js) reconnects, re-joins its session
and, after a drop, looks the conversation up and offers to resend what never arrived (here: resent at once);
the desk retries a saved agent message that could not be delivered (POST /api/messages/{id}/retry) and, when
the web app did not answer at all, reloads the handoff before sending again. Each customer message carries the
client's id (`message_id`, which the product uses to handle a copy once) and the same id in its metadata, so the
tracker says exactly which messages arrived and how often.
"""
from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
import socketio

from bot.bench.reliability.product import AGENT, Product
from bot.bench.reliability.verdicts import Finding, Tally, clip, customer_messages, dead_processes, leaks
from bot.channels.rest import NOT_HANDLED

# How long a customer waits for an answer on a live connection, as the widget does (it shows "typing…" and never
# sends again by itself while connected): under this load one Rasa process on 2 cores queues messages for tens
# of seconds. A client that resent on mere slowness would duplicate messages the server still has queued.
PATIENCE = 300.0
QUIET = 0.8  # the bot's messages of one turn arrive together; this long without one ends the turn
RECOVERY_TIMEOUT = 300.0  # how long a client waits for a killed process to be back before it gives up
MESSAGE_ID = "battery_message_id"
PERSON = "/request_human"  # the widget's "Talk to a person" button
RATING = '/csat_rating{"rating": "5"}'
# mixed flows of the demo store: order status with verification, help-centre answers, a return and a
# cancellation started and left, small talk; a conversation strings them together until its turns are used
FLOWS: List[List[str]] = [
    ["hi"],
    ["where is my order 104512", "jane.doe@example.com"],
    ["how do I reset my sentry cam?", "yes"],
    ["can I pay in instalments with klarna", "no"],
    ["I want to return something", "104512", "jane.doe@example.com", "never mind"],
    ["I want to cancel an order", "never mind"],
    ["what payment methods do you accept"],
    ["how long does shipping take"],
    ["thanks"],
]


@dataclass
class Plan:
    conversations: int
    turns: int
    handoff_share: float = 0.10
    socket_share: float = 0.5
    faults: Sequence[str] = ()  # process names to kill -9 in turn, each while handoffs are under way
    kill_when_handoffs: int = 2  # a kill waits until at least this many handoffs are under way
    kill_after_messages: int = 0  # ... and until the customers have sent this many messages (half-time: half of them)
    arrival_seconds: float = 10.0  # conversations start spread over this long
    agent_pause: Tuple[float, float] = (0.5, 2.0)  # an agent's typing time before each reply, seconds
    think: Tuple[float, float] = (2.0, 8.0)  # a customer's reading and typing time between messages, seconds


@dataclass
class Outcome:
    """One conversation's record, from the client's side."""

    conversation_id: str
    channel: str
    sent: List[str] = field(default_factory=list)  # message ids, once each, as the customer meant them
    expects_answer: Dict[str, bool] = field(default_factory=dict)
    resent: int = 0
    agent_replies: List[str] = field(default_factory=list)
    received: List[str] = field(default_factory=list)  # texts received live (socket.io)
    handoffs: int = 0
    latencies: List[float] = field(default_factory=list)


class Run:
    def __init__(self, product: Product, plan: Plan, seed: int, paths: Sequence[str], tally: Tally) -> None:
        self.product, self.plan, self.paths, self.tally = product, plan, paths, tally
        self.rng = random.Random(seed)
        self.rasa_url = product.rasa_url
        self.web_url = product.web_url
        self.token = product.settings.rasa_token
        self.in_handoff: set = set()  # conversations an agent has claimed and not resolved yet
        self.kills: List[Dict[str, Any]] = []
        self.sent_total = 0  # customer messages sent so far, all conversations
        self.done = asyncio.Event()
        self.http: aiohttp.ClientSession

    # --- the run ---

    async def run(self) -> List[Outcome]:
        timeout = aiohttp.ClientTimeout(total=PATIENCE)
        # the website customers' socket.io clients connect in threads (WebsiteCustomer), all at once
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(self.plan.conversations + 8))
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=400)) as http:
            self.http = http
            self.agent = DeskAgent(self, *AGENT[::2])
            await self.agent.sign_in()
            stream = asyncio.create_task(self.agent.stay_online())
            count, socket_count = self.plan.conversations, round(self.plan.conversations * self.plan.socket_share)
            handoffs = set(self.rng.sample(range(socket_count), round(count * self.plan.handoff_share)))
            conversations = [self._conversation(i, "socketio" if i < socket_count else "rest", i in handoffs)
                             for i in range(count)]
            faults = asyncio.create_task(self._faults())
            try:
                outcomes = await asyncio.gather(*conversations)
            finally:
                self.done.set()
                await faults
                stream.cancel()
            for outcome in outcomes:
                await self._verify(outcome)
            return list(outcomes)

    async def _conversation(self, index: int, channel: str, hand_off: bool) -> Outcome:
        rng = random.Random(self.rng.random())
        await asyncio.sleep(rng.uniform(0, self.plan.arrival_seconds))  # arrivals spread over the run's start
        outcome = Outcome(f"load-{uuid.uuid4().hex[:16]}", channel)
        lines: List[str] = []
        while len(lines) < self.plan.turns:
            lines.extend(rng.choice(FLOWS))
        lines = lines[: self.plan.turns]
        person_at = rng.randrange(2, max(3, self.plan.turns - 8)) if hand_off else None
        customer: Customer = WebsiteCustomer(self, outcome) if channel == "socketio" else RestCustomer(self, outcome)
        try:
            await customer.open()
            turn, noticed = 0, 0
            while turn < len(lines):
                text = PERSON if turn == person_at else lines[turn]
                await customer.say(text, expects_answer=True)
                turn += 1
                await asyncio.sleep(rng.uniform(*self.plan.think))  # the customer reads and types
                # asked for, or the bot's own decision; the notice may come after the turn's first answers (the
                # bot's messages of a turn go out as its actions run, seconds apart under load), as in the widget
                if customer.handoff_notices > noticed:
                    turn = await self._handed_off(customer, outcome, turn, len(lines))
                    noticed = customer.handoff_notices
        except Exception as error:  # a client that gave up: counted, the others go on
            self.tally.fail(Finding("client gave up", outcome.channel, clip(f"{type(error).__name__}: {error}")))
        finally:
            await customer.close()
        return outcome

    async def _handed_off(self, customer: "Customer", outcome: Outcome, turn: int, turns: int) -> int:
        """The agent takes the conversation, writes twice while the customer writes too, and resolves it."""
        outcome.handoffs += 1
        handoff_id = await self.agent.claim(outcome.conversation_id)
        self.in_handoff.add(outcome.conversation_id)
        try:
            for number in (1, 2):
                await asyncio.sleep(random.uniform(*self.plan.agent_pause))  # the agent reads and types
                # unique per handoff: a conversation the bot hands off twice gets the same agent's words twice
                reply = f"Agent reply {number} of handoff {outcome.handoffs} for {outcome.conversation_id}: I'm on it."
                await self.agent.reply(handoff_id, reply)
                outcome.agent_replies.append(reply)
                await customer.wait_for(reply)
                if turn < turns - 1:
                    await customer.say(f"ok, thanks ({number})", expects_answer=False)  # the bot stays silent
                    turn += 1
            await self.agent.resolve(handoff_id)
        finally:
            self.in_handoff.discard(outcome.conversation_id)
        await customer.wait_for("How would you rate")
        if turn < turns:
            await customer.say(RATING, expects_answer=True)
            turn += 1
        return turn

    # --- faults ---

    async def _faults(self) -> None:
        loop = asyncio.get_running_loop()
        for name in self.plan.faults:
            process = next(p for p in self.product.processes if p.name == name)
            while (len(self.in_handoff) < self.plan.kill_when_handoffs or self.sent_total < self.plan.kill_after_messages) \
                    and not self.done.is_set():
                await asyncio.sleep(0.5)
            if self.done.is_set():
                self.tally.fail(Finding("not run", name, "the load ended before a kill could happen mid-handoff"))
                continue
            mid_handoff = len(self.in_handoff)
            killed = time.perf_counter()
            await loop.run_in_executor(None, process.kill)
            await asyncio.sleep(2)  # the customers and agents notice
            await loop.run_in_executor(None, process.start)
            try:
                await loop.run_in_executor(None, process.wait_healthy)
                back: Any = round(time.perf_counter() - killed, 1)
            except TimeoutError as error:  # found by the full run: a restart under this load can take minutes
                self.tally.fail(Finding("slow restart", name, clip(str(error).splitlines()[0])))
                await self.healthy()  # the customers wait on; so does the next kill
                back = f"{time.perf_counter() - killed:.0f} (not healthy within the runner's limit)"
            self.kills.append({"process": name, "handoffs under way": mid_handoff, "back after s": back})
            await asyncio.sleep(5)  # traffic on the restarted product before the next kill

    async def healthy(self) -> None:
        """Until every product process answers its health check again (after a kill)."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        for process in self.product.processes:
            while True:
                try:
                    async with self.http.get(process.health_url, timeout=aiohttp.ClientTimeout(total=5)) as answer:
                        if answer.status == 200:
                            break
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{process.name} did not come back")
                await asyncio.sleep(1)

    # --- the record ---

    async def tracker(self, conversation_id: str) -> Dict[str, Any]:
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while True:
            try:
                async with self.http.get(f"{self.rasa_url}/conversations/{conversation_id}/tracker",
                                         params={"token": self.token}) as answer:
                    self.count_status("Rasa HTTP API", answer.status, await answer.text())
                    if answer.status == 200:
                        return await answer.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the tracker of {conversation_id} could not be read")
            await asyncio.sleep(1)

    async def arrived(self, conversation_id: str, message_id: str) -> bool:
        """Whether the message is in the conversation (what the widget's history shows after a drop)."""
        await self.healthy()
        events = (await self.tracker(conversation_id)).get("events", [])
        return any(_message_id(e) == message_id for e in events)

    def count_status(self, where: str, status: int, text: str) -> None:
        self.tally.outcomes[f"{where} {status // 100}xx"] += 1
        if status >= 500:
            self.tally.fail(Finding("5xx", where, f"HTTP {status}: {clip(text)}"))
        problem = leaks(text, "", self.paths)
        if problem:
            self.tally.fail(Finding("internals shown", where, problem))

    async def _verify(self, outcome: Outcome) -> None:
        events = (await self.tracker(outcome.conversation_id)).get("events", [])
        copies = {id(e) for e in events if e.get("event") == "user"} - {id(e) for e in customer_messages(events)}
        user = [(i, _message_id(e)) for i, e in enumerate(events) if e.get("event") == "user" and id(e) not in copies]
        times: Dict[str, int] = {}
        for _i, message_id in user:
            if message_id:
                times[message_id] = times.get(message_id, 0) + 1
        self.tally.tried += len(outcome.sent)
        for message_id in outcome.sent:
            seen = times.get(message_id, 0)
            if seen == 0:
                self.tally.fail(Finding("lost", outcome.channel, f"customer message {message_id} is not in the conversation"))
            elif seen > 1:
                self.tally.fail(Finding("duplicated", outcome.channel, f"customer message {message_id} is in it {seen} times"))
        # a message that reached a conversation paused for an agent rightly gets no answer from the bot (the customer
        # sent it just before the bot's handoff notice reached them)
        paused, while_paused = False, set()
        for i, e in enumerate(events):
            paused = {"pause": True, "resume": False}.get(e.get("event"), paused)
            if paused and e.get("event") == "user":
                while_paused.add(i)
        bounds = [i for i, _ in user] + [len(events)]
        for (index, message_id), end in zip(user, bounds[1:]):
            if message_id and outcome.expects_answer.get(message_id) and index not in while_paused and not any(
                    e.get("event") == "bot" and (e.get("text") or (e.get("data") or {}).get("custom"))
                    for e in events[index + 1:end]):
                self.tally.fail(Finding("lost", outcome.channel, f"customer message {message_id} got no answer"))
        recorded = [e.get("text") for e in events if e.get("event") == "bot"]
        for reply in outcome.agent_replies:
            in_record, live = recorded.count(reply), outcome.received.count(reply)
            if in_record == 0 and live == 0:
                self.tally.fail(Finding("lost", "agent reply", f"{reply!r} never reached the customer"))
            if in_record > 1 or live > 1:
                self.tally.fail(Finding("duplicated", "agent reply", f"{reply!r}: {in_record}× in the transcript, {live}× received"))
            self.tally.outcomes["agent replies received live" if live else "agent replies shown from the history"] += 1


def _handoff_of(message: Dict[str, Any]) -> bool:
    custom = message.get("custom") or {}
    return isinstance(custom, dict) and "handoff" in custom


def _message_id(event: Dict[str, Any]) -> Optional[str]:
    if event.get("event") != "user":
        return None
    return (event.get("metadata") or {}).get(MESSAGE_ID)


# --- the clients ---

class Customer:
    def __init__(self, run: Run, outcome: Outcome) -> None:
        self.run, self.outcome = run, outcome
        self.handoff_notices = 0  # the bot's "you are being handed to a person" messages received so far

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def say(self, text: str, expects_answer: bool) -> List[Dict[str, Any]]:
        raise NotImplementedError

    async def wait_for(self, text: str) -> None:
        """Until a message containing `text` reached the customer (live, or in the history after a drop)."""


class RestCustomer(Customer):
    """A client of the REST webhook: the bot's answers come back in the response."""

    async def say(self, text: str, expects_answer: bool) -> List[Dict[str, Any]]:
        message_id = uuid.uuid4().hex
        self.outcome.sent.append(message_id)
        self.outcome.expects_answer[message_id] = expects_answer
        self.run.sent_total += 1
        body = {"sender": self.outcome.conversation_id, "message": text, "message_id": message_id,
                "metadata": {MESSAGE_ID: message_id}}
        url = f"{self.run.rasa_url}/webhooks/rest/webhook"
        while True:
            started = time.perf_counter()
            try:
                async with self.run.http.post(url, json=body) as answer:
                    raw = await answer.text()
                    self.run.count_status("REST webhook", answer.status, raw)
                    if answer.status == 200:
                        self.outcome.latencies.append(time.perf_counter() - started)
                        answers = json.loads(raw)
                        self.outcome.received.extend(m.get("text") or "" for m in answers)
                        self.handoff_notices += sum(_handoff_of(m) for m in answers)
                        return answers
                    if answer.status == 503 and NOT_HANDLED in raw:  # told to send it again (counted as a 5xx)
                        self.outcome.resent += 1
                        await asyncio.sleep(1)
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            # no answer: the server went away mid-turn. Resend only what it never recorded.
            if await self.run.arrived(self.outcome.conversation_id, message_id):
                return [{"text": "(answered, shown from the history)"}]
            self.outcome.resent += 1

    async def wait_for(self, text: str) -> None:
        await _in_history(self.run, self.outcome, text)


class WebsiteCustomer(Customer):
    """The widget over socket.io: session persistence, reconnection, answers pushed to the session's room.

    python-socketio's threaded client (over websocket-client): its asyncio client needs aiohttp ≥ 3.10 for
    websockets, and Rasa 3.6 holds aiohttp at 3.9. Its handlers run on the client's thread and hand each event
    to this loop."""

    def __init__(self, run: Run, outcome: Outcome) -> None:
        super().__init__(run, outcome)
        self.loop = asyncio.get_running_loop()
        # 15 s to connect, as the widget waits (widget/src/widget.js: socket.io-client `timeout: 15000`); python-socketio's
        # default 5 s gave up on handshakes that a Rasa worker busy with a queue of turns answers in 5-15 s
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=3, request_timeout=15)
        self.inbox: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.joined = asyncio.Event()
        self.sio.on("connect", self._on_connect)
        self.drops = 0  # disconnections so far: only after one does the widget look for what never arrived
        self.recovered_drops = 0  # drops whose unconfirmed messages were looked up already
        self.unconfirmed: List[Tuple[str, str, bool]] = []  # (message id, text, expects an answer) sent, not yet seen in the record
        self.first_answer_at = 0.0  # when this turn's first answer arrived
        self.sio.on("disconnect", lambda *_reason: self.loop.call_soon_threadsafe(self._dropped))
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("bot_uttered", self._on_message)
        self.sio.on("error", lambda data: self.loop.call_soon_threadsafe(self.inbox.put_nowait, {"error": data}))

    def _dropped(self) -> None:
        self.drops += 1
        self.joined.clear()

    def _on_connect(self) -> None:
        self.sio.emit("session_request", {"session_id": self.outcome.conversation_id})

    def _on_confirm(self, session_id: Any) -> None:
        if session_id == self.outcome.conversation_id:
            self.loop.call_soon_threadsafe(self.joined.set)

    def _on_message(self, data: Any) -> None:
        if isinstance(data, dict):
            def deliver() -> None:
                self.outcome.received.append(data.get("text") or "")
                self.handoff_notices += _handoff_of(data)
                self.inbox.put_nowait(data)
            self.loop.call_soon_threadsafe(deliver)

    async def open(self) -> None:
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while True:
            try:
                await self.loop.run_in_executor(None, lambda: self.sio.connect(
                    self.run.rasa_url, transports=["websocket"], wait_timeout=20))
                break
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        await self._joined()

    async def _joined(self) -> None:
        await asyncio.wait_for(self.joined.wait(), RECOVERY_TIMEOUT)

    async def close(self) -> None:
        await self._recover()
        await self.loop.run_in_executor(None, self.sio.disconnect)

    async def _recover(self) -> None:
        """Back after a drop, as the widget's `recover()`: every message sent before it that the conversation does
        not have is marked "Not delivered", and the customer sends it again (the same id). A message can be lost
        in a connection that died before its turn's answers came, even when an earlier turn's late message
        looked like its answer."""
        if self.drops == self.recovered_drops or not self.unconfirmed:
            return
        self.recovered_drops = self.drops
        await self._joined()
        await self.run.healthy()
        recorded = {_message_id(e) for e in (await self.run.tracker(self.outcome.conversation_id)).get("events", [])}
        missing = [m for m in self.unconfirmed if m[0] not in recorded]
        self.unconfirmed = []
        for message_id, text, expects_answer in missing:
            self.outcome.resent += 1
            # with an agent now, the bot rightly stays silent
            await self._send(message_id, text, expects_answer and self.outcome.conversation_id not in self.run.in_handoff)

    async def say(self, text: str, expects_answer: bool) -> List[Dict[str, Any]]:
        await self._recover()
        message_id = uuid.uuid4().hex
        self.outcome.sent.append(message_id)
        self.outcome.expects_answer[message_id] = expects_answer
        self.run.sent_total += 1
        return await self._send(message_id, text, expects_answer)

    async def _send(self, message_id: str, text: str, expects_answer: bool) -> List[Dict[str, Any]]:
        notices = self.handoff_notices
        self.unconfirmed.append((message_id, text, expects_answer))
        while True:
            await self._joined()
            while not self.inbox.empty():  # late messages of an earlier turn are not this turn's answer
                self.inbox.get_nowait()
            started, drops = time.perf_counter(), self.drops
            try:
                self.sio.emit("user_uttered", {"message": text, "session_id": self.outcome.conversation_id,
                                               "message_id": message_id, "metadata": {MESSAGE_ID: message_id}})
            except socketio.exceptions.BadNamespaceError:
                continue  # dropped between the check and the send: nothing went out
            answers = await self._answers(PATIENCE if expects_answer else QUIET * 2, drops, notices)
            errors = [a for a in answers if "error" in a]
            if errors:
                if NOT_HANDLED not in json.dumps(errors):
                    self.run.tally.fail(Finding("wrong answer", "socketio", f"an error event: {clip(errors)}"))
                # the widget shows "Not sent: … send it again", and the customer does (counted as refused)
                self.run.tally.fail(Finding("refused (send again)", "socketio", clip(errors)))
                self.outcome.resent += 1
                await asyncio.sleep(1)
                continue
            if answers and expects_answer:
                self.outcome.latencies.append(self.first_answer_at - started)  # what the customer waited for
                return answers
            if self.handoff_notices > notices:  # handed to a person meanwhile: the bot rightly stays silent
                return answers
            if self.drops == drops:  # connected all along: silence is the answer (during a handoff) or the bot's
                if expects_answer:
                    self.run.tally.fail(Finding("no answer", "socketio", f"nothing in {PATIENCE:.0f} s on a live connection"))
                return answers
            # the connection dropped meanwhile: the widget looks in the history, and offers to resend what is not there
            if await self.run.arrived(self.outcome.conversation_id, message_id):
                return answers
            self.outcome.resent += 1

    async def _answers(self, first_timeout: float, drops: int, notices: int) -> List[Dict[str, Any]]:
        """The bot's messages of this turn: the first within `first_timeout` (or until the connection drops, or
        a handoff notice of an earlier turn arrives)."""
        answers: List[Dict[str, Any]] = []
        deadline = time.monotonic() + first_timeout
        while not answers and time.monotonic() < deadline and self.drops == drops and self.handoff_notices == notices:
            try:
                answers.append(await asyncio.wait_for(self.inbox.get(), min(1.0, max(0.05, deadline - time.monotonic()))))
            except asyncio.TimeoutError:
                pass
        if not answers:
            return answers
        self.first_answer_at = time.perf_counter()
        try:
            while True:
                answers.append(await asyncio.wait_for(self.inbox.get(), QUIET))
        except asyncio.TimeoutError:
            return answers

    async def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(text in r for r in self.outcome.received):
                return
            await asyncio.sleep(0.3)
        await _in_history(self.run, self.outcome, text)  # missed live (a drop): the widget shows it from the history


async def _in_history(run: Run, outcome: Outcome, text: str) -> None:
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while time.monotonic() < deadline:
        await run.healthy()
        events = (await run.tracker(outcome.conversation_id)).get("events", [])
        if any(e.get("event") == "bot" and text in (e.get("text") or "") for e in events):
            return
        await asyncio.sleep(1)
    raise TimeoutError(f"{text!r} never reached {outcome.conversation_id}")


class DeskAgent:
    """An agent at the desk: signed in, the live stream open (online for the queue), claiming and replying."""

    def __init__(self, run: Run, email: str, password: str) -> None:
        self.run, self.email, self.password = run, email, password
        self.headers: Dict[str, str] = {}

    async def sign_in(self) -> None:
        """Through the handoff service, as the API fuzz does: the desk part's password guessing leaves this
        machine's address throttled at the login route for 15 minutes (as it should)."""
        from bot.container import build_handoff

        handoff = build_handoff(self.run.product.settings)
        agent = handoff.store.agent_by_email(self.email)
        if agent is not None and not agent.active:  # the API fuzz, signed in as a lead, may have deactivated it
            handoff.store.set_agent_active(agent.id, True)
        token, _agent = handoff.sign_in(self.email, self.password)
        self.headers = {"Authorization": f"Bearer {token}"}

    async def stay_online(self) -> None:
        """The desk's event stream, reopened whenever the web app went away (it marks the agent online)."""
        while True:
            try:
                async with self.run.http.get(f"{self.run.web_url}/api/events", headers=self.headers,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as stream:
                    async for _line in stream.content:
                        pass
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(1)

    async def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None, auth: bool = True,
                    ok: Sequence[int] = (200,)) -> Any:
        """One desk request, repeated while the web app is away; a 5xx is counted, then retried as the desk would."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while True:
            try:
                async with self.run.http.request(method, self.run.web_url + path, json=body,
                                                 headers=self.headers if auth else {}) as answer:
                    text = await answer.text()
                    self.run.count_status("desk API", answer.status, text)
                    if answer.status in ok:
                        return json.loads(text) if text else {}
                    if answer.status < 500:
                        raise RuntimeError(f"{method} {path}: HTTP {answer.status} {clip(text)}")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path}: the web app did not answer")
            await asyncio.sleep(1)

    async def claim(self, conversation_id: str) -> int:
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while True:
            queue = await self._call("GET", "/api/queue")
            found = [h["id"] for h in queue["handoffs"] if h["conversation_id"] == conversation_id]
            if found:
                await self._call("POST", f"/api/handoffs/{found[0]}/claim")
                return found[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no handoff for {conversation_id} in the queue")
            await asyncio.sleep(0.5)

    async def reply(self, handoff_id: int, text: str) -> None:
        """Send once: a saved but undelivered message is retried by its id, never written again."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        saved_id: Optional[int] = None
        while time.monotonic() < deadline:
            try:
                path = f"/api/messages/{saved_id}/retry" if saved_id else f"/api/handoffs/{handoff_id}/reply"
                async with self.run.http.post(self.run.web_url + path, headers=self.headers,
                                              json=None if saved_id else {"text": text}) as answer:
                    raw = await answer.text()
                    if answer.status != 502:  # 502 is the desk's "saved, not delivered yet": expected while Rasa is away
                        self.run.count_status("desk API", answer.status, raw)
                    if answer.status == 200:
                        return
                    if answer.status == 502:
                        saved_id = json.loads(raw).get("message_id") or saved_id
                        self.run.tally.outcomes["agent replies retried after a 502"] += 1
                    elif answer.status < 500:
                        raise RuntimeError(f"reply: HTTP {answer.status} {clip(raw)}")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                # no answer at all: reload the handoff, as the desk does, to see whether it was saved
                messages = (await self._call("GET", f"/api/handoffs/{handoff_id}"))["messages"]
                mine = [m for m in messages if m["author"] == "agent" and m["text"] == text]
                if mine and mine[-1]["delivered"]:
                    return
                saved_id = mine[-1]["id"] if mine else None
            await asyncio.sleep(1)
        raise TimeoutError(f"reply to handoff {handoff_id} could not be delivered")

    async def resolve(self, handoff_id: int) -> None:
        await self._call("POST", f"/api/handoffs/{handoff_id}/resolve")


def _percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def load_battery(product: Product, plan: Plan, seed: int, paths: Sequence[str], part: str) -> Tally:
    tally = Tally(part)
    run = Run(product, plan, seed, paths, tally)
    started = time.perf_counter()
    outcomes = asyncio.run(run.run())
    seconds = time.perf_counter() - started
    latencies = [x for o in outcomes for x in o.latencies]
    messages = sum(len(o.sent) for o in outcomes)
    tally.figures.update({
        "conversations": f"{plan.conversations} × {plan.turns} turns "
                         f"({sum(o.channel == 'socketio' for o in outcomes)} socket.io, {sum(o.channel == 'rest' for o in outcomes)} REST)",
        "customer messages": messages,
        "handoffs": sum(o.handoffs for o in outcomes),
        "agent replies": sum(len(o.agent_replies) for o in outcomes),
        "resent by clients": sum(o.resent for o in outcomes),
        "seconds": round(seconds, 1),
        "messages/s": round(messages / seconds, 1) if seconds else 0,
        "answer p50 s": round(statistics.median(latencies), 2) if latencies else None,
        "answer p95 s": round(_percentile(latencies, 0.95), 2),
        "answer p99 s": round(_percentile(latencies, 0.99), 2),
    })
    if run.kills:
        tally.figures["kills"] = run.kills
    dead_processes(tally, product.processes)
    return tally
