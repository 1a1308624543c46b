"""The message loop, the per-socket lane, the in-memory layer's queues and the shared room read."""

from __future__ import annotations

import asyncio
import time

import pytest

from config.consumers import SerialLane, dispatch_from
from config.layers import FastInMemoryChannelLayer


def source_of(items: list, then: BaseException | None = None):
    queue: asyncio.Queue = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def receive():
        if queue.empty() and then is not None:
            raise then
        return await queue.get()

    return receive, queue


async def test_dispatch_from_keeps_each_sources_order_and_serves_both():
    (a, _), (b, b_queue) = source_of([{"n": f"a{i}"} for i in range(5)]), source_of([{"n": "b0"}])
    got = []

    async def dispatch(message):
        got.append(message["n"])
        if message["n"] == "a2":
            b_queue.put_nowait({"n": "b1"})
        if len(got) == 7:
            raise StopAsyncIteration

    with pytest.raises(StopAsyncIteration):
        await dispatch_from([a, b], dispatch)
    assert [n for n in got if n[0] == "a"] == ["a0", "a1", "a2", "a3", "a4"]
    assert [n for n in got if n[0] == "b"] == ["b0", "b1"]


async def test_dispatch_from_handles_one_message_at_a_time_across_sources():
    (a, _), (b, _) = source_of([{"n": f"a{i}"} for i in range(3)]), source_of([{"n": f"b{i}"} for i in range(3)])
    running, got = [], []

    async def dispatch(message):
        running.append(message["n"])
        assert len(running) == 1, "handlers never overlap"
        await asyncio.sleep(0.001)
        running.remove(message["n"])
        got.append(message["n"])
        if len(got) == 6:
            raise StopAsyncIteration

    with pytest.raises(StopAsyncIteration):
        await dispatch_from([a, b], dispatch)
    assert sorted(got) == ["a0", "a1", "a2", "b0", "b1", "b2"]


async def test_a_failing_source_ends_the_loop_with_its_error_and_stops_the_other_reader():
    (good, good_queue), (bad, _) = source_of([]), source_of([{"n": 1}], then=ConnectionError("layer down"))
    seen = []

    async def dispatch(message):
        seen.append(message)

    with pytest.raises(ConnectionError, match="layer down"):
        await dispatch_from([good, bad], dispatch)
    assert seen == [{"n": 1}]
    good_queue.put_nowait({"n": "late"})
    await asyncio.sleep(0.01)
    assert good_queue.qsize() == 1, "the other source is no longer read"


async def test_a_lane_runs_its_calls_one_at_a_time_in_order_and_drains():
    failures = []

    async def failed(exc):
        failures.append(exc)

    lane, log, running = SerialLane(on_failure=failed), [], []

    async def work(n):
        running.append(n)
        assert len(running) == 1, "calls never overlap"
        await asyncio.sleep(0.001 * (5 - n))
        log.append(n)
        running.remove(n)

    for n in range(5):
        lane.submit(work, n)
    await lane.drain()
    assert log == [0, 1, 2, 3, 4] and failures == [] and len(lane) == 0


async def test_a_failed_call_goes_to_on_failure_and_drops_what_was_queued_behind_it():
    failures, log = [], []

    async def failed(exc):
        failures.append(exc)

    async def work(n):
        if n == 1:
            raise RuntimeError("database down")
        log.append(n)

    lane = SerialLane(on_failure=failed, limit=3)
    for n in range(3):
        lane.submit(work, n)
    assert lane.full()
    await lane.drain()
    assert log == [0] and [str(e) for e in failures] == ["database down"]
    lane.submit(work, 7)  # the lane itself goes on
    await lane.drain()
    assert log == [0, 7]


async def test_the_layer_delivers_in_order_and_forgets_a_drained_channel():
    layer = FastInMemoryChannelLayer()
    name = await layer.new_channel()
    waiting = asyncio.ensure_future(layer.receive(name))
    await asyncio.sleep(0)
    for n in (1, 2):
        await layer.send(name, {"type": "x", "n": n})
    assert (await waiting)["n"] == 1 and (await layer.receive(name))["n"] == 2
    assert name not in layer.channels, "a closed socket's channel leaves nothing behind"
    await layer.send(name, {"type": "x", "n": 3})
    assert (await layer.receive(name))["n"] == 3


async def test_the_layer_skips_a_room_events_sender_caps_each_channel_and_expires_old_messages(monkeypatch):
    from channels.exceptions import ChannelFull

    from config import layers

    layer = FastInMemoryChannelLayer(capacity=2, expiry=60)
    drawer, guesser = await layer.new_channel(), await layer.new_channel()
    for channel in (drawer, guesser):
        await layer.group_add("room.ABC", channel)
    await layer.group_send("room.ABC", {"type": "room.event", "text": "{}", "sender": drawer})
    assert drawer not in layer.channels and len(layer.channels[guesser]._queue) == 1
    await layer.send(guesser, {"type": "x"})
    with pytest.raises(ChannelFull):
        await layer.send(guesser, {"type": "x"})
    await layer.group_send("room.ABC", {"type": "room.event", "text": "{}"})  # a full member is skipped
    assert len(layer.channels[guesser]._queue) == 2 and len(layer.channels[drawer]._queue) == 1
    clock = time.time() + 61
    monkeypatch.setattr(layers.time, "time", lambda: clock)
    monkeypatch.setattr(layers.time, "monotonic", lambda: clock)
    layer._clean_expired()
    assert not layer.channels, "expired messages are dropped"
    assert not layer.groups.get("room.ABC"), "and their channels leave the groups, as in Channels"


@pytest.mark.django_db(transaction=True)
async def test_sockets_share_one_read_of_a_room_and_an_older_read_is_not_taken_for_a_newer_change(monkeypatch):
    from asgiref.sync import sync_to_async

    from game import actions, room_reads, runtime
    from game.models import Room

    room = await sync_to_async(actions.do_create_room)()
    host = await sync_to_async(actions.do_join)(code=room.code, name="Host", address="h")
    version = (await sync_to_async(Room.objects.get)(pk=room.pk)).version
    reads = []
    real_read = room_reads._read

    async def counted(**kwargs):
        reads.append(kwargs["room_id"])
        return await real_read(**kwargs)

    monkeypatch.setattr(room_reads, "_read", counted)
    views = await asyncio.gather(*[room_reads.room_read(room.pk, version=version) for _ in range(4)])
    assert len(reads) == 1 and {v.version for v in views} == {version}
    assert len({id(v) for v in views}) == 1
    # A caller that waits for a newer version than the read in flight brings back reads until it sees it.
    await sync_to_async(actions.do_update_settings)(player_id=host.pk, rounds=2)  # a change: the next version
    newer = await room_reads.room_read(room.pk, version=version + 1)
    assert newer.version == version + 1 and len(reads) == 2
    views = await asyncio.gather(
        room_reads.room_read(room.pk, version=version + 5), room_reads.room_read(room.pk, version=version)
    )
    assert len(reads) == 2 + room_reads._ATTEMPTS, "a version never reached is given up on after a few reads"
    assert runtime.current().reading == {}


def test_an_event_committed_while_the_web_process_stops_is_dropped_without_hanging_its_exit(monkeypatch):
    """The database thread finishing a write after the loop stopped must not wait for that loop."""
    import threading

    from game import events, runtime

    stopped = asyncio.new_event_loop()  # bound once, no longer running (as Daphne's after SIGTERM)
    monkeypatch.setattr(runtime, "_current", runtime.Runtime(loop=stopped, outbox=asyncio.Queue()))
    done, sent = threading.Event(), []

    async def group_send(group, message):
        sent.append(group)

    monkeypatch.setattr(events, "get_channel_layer", lambda alias: type("Layer", (), {"group_send": group_send}))

    def commit_hook():
        events._group_send("room.X", {"type": "room.event", "text": "{}"})
        done.set()

    try:
        threading.Thread(target=commit_hook, daemon=True).start()
        assert done.wait(5), "the database thread hung on a stopped loop"
        # Not sent another way either: from inside Channels' database thread, async_to_sync would wait
        # for the stopped loop's thread forever (a web process that never exits after SIGTERM).
        assert sent == []
    finally:
        stopped.close()
