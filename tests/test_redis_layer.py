"""The Redis channel layer as configured in settings, against a real redis-server."""

from __future__ import annotations

import asyncio
import importlib
import os

import pytest
from channels_redis.core import RedisChannelLayer

from tests.redis_server import redis_url  # noqa: F401

pytestmark = pytest.mark.redis


def configured_layer(url: str) -> RedisChannelLayer:
    """The CHANNEL_LAYERS entry config/settings.py builds when REDIS_URL is set."""
    os.environ["REDIS_URL"] = url
    try:
        import config.settings as s

        cfg = importlib.reload(s).CHANNEL_LAYERS["default"]
    finally:
        del os.environ["REDIS_URL"]
        importlib.reload(s)
    assert cfg["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    return RedisChannelLayer(**cfg["CONFIG"])


async def test_an_idle_receiver_outlives_redis_py_socket_timeout(redis_url):  # noqa: F811
    """channels_redis #422: with redis 8's default 5 s socket timeout an idle consumer dies; ours waits."""
    layer = configured_layer(redis_url)
    channel = await layer.new_channel()
    receiver = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(6.5)
    assert not receiver.done(), f"the idle receive failed: {receiver.exception() if receiver.done() else ''}"
    await layer.send(channel, {"type": "hello"})
    assert (await asyncio.wait_for(receiver, 5))["type"] == "hello"
    await layer.flush()
