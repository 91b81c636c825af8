"""Agents in Slack against the fake Slack Web API and the real handoff service on SQLite."""
import asyncio
from datetime import datetime

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff.models import ASSIGNED, CUSTOMER_REQUEST, RESOLVED
from bot.handoff.rules import load_rules
from bot.handoff.service import HandoffService
from bot.handoff.store import SqlHandoffStore
from bot.slack.agents import SlackAgents, SlackUsers
from bot.slack.store import SlackStore
from tests.databases import sqlite_url
from tests.fakes import Clock, RecordingGateway
from tests.slack_fake import FakeSlack

OPEN = datetime(2026, 10, 6, 14, 0)  # a Tuesday, 10:00 in New York
CHANNEL = "CAGENTS01"


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    fake.add_user("UMAYA", "maya@brightwave.example", "Maya")
    fake.add_user("USTRANGER", "someone@else.example", "Stranger")
    yield fake
    fake.stop()


@pytest.fixture
def world(tmp_path, slack):
    clock = Clock(OPEN)
    gateway = RecordingGateway()
    service = HandoffService(SqlHandoffStore.from_url(sqlite_url(tmp_path)), load_rules(), gateway, clock,
                             staffed_in_slack=True)
    maya = service.create_agent("maya@brightwave.example", "Maya", "agent", "correct horse battery")
    client = AsyncWebClient(token="xoxb-test", base_url=slack.url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    agents = SlackAgents(service, SlackStore.from_url(sqlite_url(tmp_path)), client, SlackUsers(client), CHANNEL,
                         "http://desk.example", clock)
    return service, agents, gateway, maya


def open_handoff(service, conversation="slack:T1:D1"):
    return service.open_handoff(conversation_id=conversation, channel="slack", reason=CUSTOMER_REQUEST,
                                reason_detail="asked for a person", summary="Wants a person",
                                packet={"wants": "check on a refund", "transcript": []}, customer_name="Jane Doe")


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_slack_channel_counts_as_staffed_in_business_hours(world):
    service, *_ = world
    assert service.availability() is None  # nobody has the desk open
    assert open_handoff(service).position == 1


def test_a_handoff_is_posted_once_claimed_from_slack_and_updated_in_place(world, slack):
    service, agents, gateway, maya = world
    handoff = open_handoff(service).handoff
    run(agents.sync())
    run(agents.sync())
    posts = slack.posts(CHANNEL, thread_ts=None)
    assert len(posts) == 1 and posts[0]["blocks"][-1]["elements"][0]["action_id"] == "handoff_claim"
    assert run(agents.claim(handoff.id, "UMAYA")) is None
    assert service.handoff(handoff.id).state == ASSIGNED and service.handoff(handoff.id).agent_id == maya.id
    update = slack.posts(method="chat.update")[-1]
    assert "Maya has this conversation" in str(update["blocks"])


def test_someone_who_is_not_an_agent_cannot_claim(world, slack):
    service, agents, *_ = world
    handoff = open_handoff(service).handoff
    refusal = run(agents.claim(handoff.id, "USTRANGER"))
    assert "someone@else.example" in refusal and "not an agent account" in refusal
    assert service.handoff(handoff.id).state == "waiting"


def test_a_second_claim_is_refused_with_who_has_it(world, slack):
    service, agents, _, maya = world
    sam = service.create_agent("sam@brightwave.example", "Sam", "agent", "correct horse battery")
    slack.add_user("USAM", sam.email, "Sam")
    handoff = open_handoff(service).handoff
    service.claim(handoff.id, maya)
    assert run(agents.claim(handoff.id, "USAM")) == "Maya already took this conversation"


def test_thread_replies_reach_the_customer_and_the_thread_shows_the_customer(world, slack):
    service, agents, gateway, maya = world
    handoff = open_handoff(service).handoff
    service.record_customer_message("slack:T1:D1", "my card 4111 1111 1111 1234 was charged twice")
    run(agents.sync())
    post = slack.posts(CHANNEL, thread_ts=None)[0]
    root = slack.ts_of(post)
    thread = [p["text"] for p in slack.posts(CHANNEL, thread_ts=root)]
    assert thread == ["*Jane Doe:* my card [card ending 1234] was charged twice"]
    assert "claim" in run(agents.reply(root, "UMAYA", "Hi Jane, looking now")).lower()  # claim first
    run(agents.claim(handoff.id, "UMAYA"))
    assert run(agents.reply(root, "UMAYA", "Hi Jane, looking now")) is None
    assert gateway.sent == [("slack:T1:D1", "Hi Jane, looking now", "Maya")]
    run(agents.sync())
    thread = [p["text"] for p in slack.posts(CHANNEL) if p.get("thread_ts")]
    assert len(thread) == 1  # the agent's own reply is not copied back into the thread
    reply = service.reply(handoff.id, maya, "(from the desk) refunded")
    run(agents.sync())
    assert [p["text"] for p in slack.posts(CHANNEL) if p.get("thread_ts")][-1] == "*Maya* (from the desk): (from the desk) refunded"
    assert reply.delivered


def test_a_reply_in_an_unrelated_thread_is_left_alone(world, slack):
    _, agents, gateway, _ = world
    assert run(agents.reply("1699999999.000001", "UMAYA", "lunch?")) is None
    assert gateway.sent == [] and not slack.posts(method="chat.postEphemeral")


def test_resolve_from_slack_hands_back_and_the_post_says_so(world, slack):
    service, agents, gateway, _ = world
    handoff = open_handoff(service).handoff
    run(agents.sync())
    run(agents.claim(handoff.id, "UMAYA"))
    assert run(agents.resolve(handoff.id, "UMAYA")) is None
    assert service.handoff(handoff.id).state == RESOLVED and gateway.handed_back == ["slack:T1:D1"]
    assert "Resolved by Maya" in str(slack.posts(method="chat.update")[-1]["blocks"])


def test_a_rate_limited_post_is_retried_after_retry_after(world, slack):
    service, agents, *_ = world
    open_handoff(service)
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    run(agents.sync())
    attempts = [c for c in slack.calls if c.method == "chat.postMessage"]
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 1.0
    assert len(slack.posts(CHANNEL, thread_ts=None)) == 2  # both recorded by the fake; the second succeeded


def test_a_post_slack_refuses_is_tried_again_next_round(world, slack):
    service, agents, *_ = world
    open_handoff(service)
    slack.rate_limit("chat.postMessage", times=3, retry_after=0)  # more than the client retries
    run(agents.sync())
    assert agents.store.post(1) is None
    run(agents.sync())
    assert agents.store.post(1).ts is not None


def test_an_update_slack_refuses_is_made_next_round(world, slack):
    service, agents, _, maya = world
    handoff = open_handoff(service).handoff
    run(agents.sync())
    service.claim(handoff.id, maya)
    slack.rate_limit("chat.update", times=3, retry_after=0)
    run(agents.sync())
    assert agents.store.post(handoff.id).state == "waiting"
    run(agents.sync())
    assert agents.store.post(handoff.id).state == ASSIGNED
    assert "Maya has this conversation" in str(slack.posts(method="chat.update")[-1]["blocks"])
