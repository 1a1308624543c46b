"""The Redis channel layers as configured in settings, against a real redis-server."""

from __future__ import annotations

import asyncio
import importlib
import os

import pytest
from django.utils.module_loading import import_string

from config.layers import RedisWorkQueueLayer
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


def layer_for(url: str, alias: str):
    cfg = configured_layers(url)[alias]
    return import_string(cfg["BACKEND"])(**cfg["CONFIG"])


def test_sockets_talk_over_pub_sub_and_workers_share_a_list_based_queue(redis_url):  # noqa: F811
    layers = configured_layers(redis_url)
    assert layers["rooms"]["BACKEND"] == "config.layers.PipelinedPubSubChannelLayer"
    assert layers["default"]["BACKEND"] == "config.layers.RedisWorkQueueLayer"


async def test_a_work_queue_serves_in_order_each_message_once_across_workers(redis_url):  # noqa: F811
    sender, first, second = (layer_for(redis_url, "default") for _ in range(3))
    # Sent together: they go to Redis in batches, still in order.
    await asyncio.gather(*(sender.send("inference", {"type": "classify", "n": n}) for n in range(40)))
    got: dict[str, list[int]] = {"first": [], "second": []}

    async def work(name, layer):
        while True:
            got[name].append((await layer.receive("inference"))["n"])

    workers = [asyncio.ensure_future(work("first", first)), asyncio.ensure_future(work("second", second))]
    for _ in range(100):
        if len(got["first"]) + len(got["second"]) >= 40:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # time for a duplicate to show up
    for task in workers:
        task.cancel()
    assert sorted(got["first"] + got["second"]) == list(range(40)), "each message exactly once"
    assert got["first"] == sorted(got["first"]) and got["second"] == sorted(got["second"]), "in order per worker"
    assert got["first"] and got["second"], "both workers took some"
    await sender.flush()


async def test_a_full_work_queue_drops_its_oldest_and_stale_messages_are_skipped(redis_url):  # noqa: F811
    layer = RedisWorkQueueLayer(hosts=[{"address": redis_url, "socket_timeout": None}], capacity=5, expiry=30)
    for n in range(8):
        await layer.send("inference", {"type": "classify", "n": n})
    assert [(await layer.receive("inference"))["n"] for _ in range(5)] == [3, 4, 5, 6, 7]
    stale = RedisWorkQueueLayer(hosts=[{"address": redis_url, "socket_timeout": None}], expiry=1)
    await stale.send("inference", {"type": "classify", "n": "old"})
    await asyncio.sleep(1.1)
    await stale.send("inference", {"type": "classify", "n": "new"})
    assert (await asyncio.wait_for(layer.receive("inference"), 5)) == {"type": "classify", "n": "new"}
    await layer.flush()


@pytest.mark.parametrize("alias", ["default", "rooms"])
async def test_an_idle_receiver_outlives_redis_py_socket_timeout(redis_url, alias):  # noqa: F811
    """channels_redis #422: with redis 8's default 5 s socket timeout an idle consumer dies; ours waits."""
    layer = layer_for(redis_url, alias)
    # The work queue's named channel (what `runworker inference` waits on) or a socket's own channel.
    channel = "inference" if alias == "default" else await layer.new_channel()
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


async def test_room_events_sent_together_arrive_once_each_and_in_order(redis_url):  # noqa: F811
    sender, receiver = layer_for(redis_url, "rooms"), layer_for(redis_url, "rooms")
    channel = await receiver.new_channel()
    await receiver.group_add("room.ORDER", channel)
    await asyncio.gather(*(sender.group_send("room.ORDER", {"type": "room.event", "n": n}) for n in range(300)))
    await sender.send(channel, {"type": "room.event", "n": "direct"})
    got = [(await asyncio.wait_for(receiver.receive(channel), 5))["n"] for _ in range(301)]
    assert got == [*range(300), "direct"]
    await receiver.flush()
    await sender.flush()


async def test_a_room_event_that_cannot_be_published_fails_its_sender():
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tests.redis_server import free_port

    layer = import_string("config.layers.PipelinedPubSubChannelLayer")(
        hosts=[{"address": f"redis://127.0.0.1:{free_port()}/0", "socket_timeout": None}]
    )
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(layer.group_send("room.DOWN", {"type": "room.event"}), 10)
