"""The Redis channel layers as configured in settings, against a real redis-server."""

from __future__ import annotations

import asyncio
import importlib
import os

import pytest
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from tests.redis_server import redis_url  # noqa: F401

pytestmark = pytest.mark.redis


def configured_layers(url: str) -> dict[str, dict]:
    """The CHANNEL_LAYERS config/settings.py builds when REDIS_URL is set."""
    os.environ["REDIS_URL"] = url
    try:
        import config.settings as s

        return importlib.reload(s).CHANNEL_LAYERS
    finally:
        del os.environ["REDIS_URL"]
        importlib.reload(s)


def test_sockets_talk_over_pub_sub_and_workers_share_a_list_based_queue(redis_url):  # noqa: F811
    layers = configured_layers(redis_url)
    assert layers["rooms"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert layers["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize("alias", ["default", "rooms"])
async def test_an_idle_receiver_outlives_redis_py_socket_timeout(redis_url, alias):  # noqa: F811
    """channels_redis #422: with redis 8's default 5 s socket timeout an idle consumer dies; ours waits."""
    cfg = configured_layers(redis_url)[alias]
    layer = (RedisChannelLayer if alias == "default" else RedisPubSubChannelLayer)(**cfg["CONFIG"])
    channel = await layer.new_channel()
    receiver = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(6.5)
    assert not receiver.done(), f"the idle receive failed: {receiver.exception() if receiver.done() else ''}"
    await layer.send(channel, {"type": "hello"})
    assert (await asyncio.wait_for(receiver, 5))["type"] == "hello"
    if alias == "rooms":  # and a group message reaches an idle member
        await layer.group_add("room.IDLE", channel)
        receiver = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(6.5)
        await layer.group_send("room.IDLE", {"type": "room.event", "text": "{}"})
        assert (await asyncio.wait_for(receiver, 5))["type"] == "room.event"
    await layer.flush()
