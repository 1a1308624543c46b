"""Hostile input: rate limits per message type, abuse closes only the abuser's socket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from game import actions
from game.ratelimit import ABUSE_CLOSE_CODE, ConnectionLimits, TokenBucket
from tests.wsclient import Client, room_with

pytestmark = pytest.mark.django_db(transaction=True)


def test_token_bucket_allows_bursts_then_the_rate():
    bucket = TokenBucket(rate=5, burst=8)
    assert sum(bucket.allow(0.0) for _ in range(20)) == 8
    assert sum(bucket.allow(1.0) for _ in range(20)) == 5
    assert bucket.allow(1.25) and not bucket.allow(1.25)


def test_connection_limits_flag_abuse_only_after_many_refusals():
    limits = ConnectionLimits()
    refused = sum(not limits.allow("guess", 0.0) for _ in range(30))
    assert refused == 22 and not limits.abusive()
    for _ in range(30):
        limits.allow("guess", 0.5)
    assert limits.abusive()
    later = ConnectionLimits()
    for t in range(100):  # a steady 4 guesses a second is fine for ever
        for k in range(4):
            assert later.allow("guess", t + k * 0.25)


async def test_guess_flood_is_throttled_with_errors_and_the_socket_survives():
    room, (ana, bo) = await room_with("Ana", "Bo")
    for i in range(20):
        await bo.send({"type": "guess", "text": f"guess {i}"})
    got = await bo.drain(0.5)
    limited = [m for m in got if m["type"] == "error" and m["code"] == "rate_limited"]
    chats = [m for m in got if m["type"] == "chat" and m["kind"] == "guess"]
    assert limited and 5 <= len(chats) < 20
    await bo.send({"type": "ping"})
    await bo.wait_for(lambda m: m["type"] == "pong")
    await ana.close()
    await bo.close()


async def test_garbage_flood_closes_only_the_abuser():
    room, (ana, eve) = await room_with("Ana", "Eve")
    for _ in range(80):
        await eve.send("{not json")
    output = await eve.comm.receive_output(timeout=3)
    while output["type"] != "websocket.close":
        output = await eve.comm.receive_output(timeout=3)
    assert output["code"] == ABUSE_CLOSE_CODE
    await ana.send({"type": "guess", "text": "still here"})
    chat = await ana.wait_for(lambda m: m["type"] == "chat" and m.get("name") == "Ana")
    assert chat["text"] == "still here"
    await ana.close()


def test_an_address_cannot_create_rooms_or_try_codes_without_limit(client):
    from django.core.cache import cache

    from game.address_limits import LIMITS

    cache.clear()
    made = [client.post("/rooms/new").status_code for _ in range(LIMITS["create_room"][0] + 2)]
    assert made[: LIMITS["create_room"][0]] == [302] * LIMITS["create_room"][0]
    assert made[-1] == 429
    tried = [client.get("/rooms/join", {"code": f"ZZZZ{i:02d}"}).status_code for i in range(LIMITS["try_code"][0] + 2)]
    assert set(tried[: LIMITS["try_code"][0]]) == {404} and tried[-1] == 429
    cache.clear()
    # Room pages by URL count unknown codes the same way; a real room's page never counts and still opens.
    real = actions.do_create_room()
    pages = [client.get(f"/r/YYYY{i:02d}").status_code for i in range(LIMITS["try_code"][0] + 2)]
    assert set(pages[: LIMITS["try_code"][0]]) == {404} and pages[-1] == 429
    assert client.get(f"/r/{real.code}").status_code == 200
    cache.clear()


async def test_walking_the_code_space_over_websockets_is_cut_off():
    from django.core.cache import cache

    from game.address_limits import LIMITS

    await sync_to_async(cache.clear)()
    closes = []
    for i in range(LIMITS["try_code"][0] + 2):
        c = Client(f"QQQQ{i:02d}", "x", address="10.9.9.9")  # one address walking the codes
        await c.connect()
        out = await c.comm.receive_output(timeout=3)
        while out["type"] != "websocket.close":
            out = await c.comm.receive_output(timeout=3)
        closes.append(out["code"])
    assert closes[0] == 4404 and closes[-1] == ABUSE_CLOSE_CODE
    await sync_to_async(cache.clear)()
