"""socket.io across Rasa workers: with REDIS_URL the channel's server shares its rooms through Redis."""
from __future__ import annotations

import socketio

from bot.channels.socketio import SupportSocketIOInput


async def _noop(message) -> None:  # noqa: ANN001
    return None


def test_rooms_go_through_redis_when_it_is_configured(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    channel = SupportSocketIOInput(session_persistence=True)
    channel.blueprint(_noop)
    assert isinstance(channel.sio.manager, socketio.AsyncRedisManager)
    assert channel.sio.manager.server is channel.sio and channel.sio.manager.redis_url == "redis://127.0.0.1:6379/0"


def test_one_worker_keeps_its_rooms_in_memory(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    channel = SupportSocketIOInput(session_persistence=True)
    channel.blueprint(_noop)
    assert type(channel.sio.manager) is socketio.AsyncManager
