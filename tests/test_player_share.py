"""One client never takes more than one player's share (issue 12), against the real consumer.

One socket per seat, seats and sockets per address, votes per address, a removed player kept out,
endless strokes, strict types, names, and a consumer that crashes giving its seat back.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from game import actions, consumers, presence, protocol, selectors
from game.models import Player
from tests.wsclient import Client, room_with

pytestmark = pytest.mark.django_db(transaction=True)


async def _closed_with(client: Client, timeout: float = 5.0) -> int:
    output = await client.comm.receive_output(timeout=timeout)
    while output["type"] != "websocket.close":
        if output["type"] == "websocket.send":
            client.inbox.append(json.loads(output["text"]))
        output = await client.comm.receive_output(timeout=timeout)
    return output.get("code", 1000)


async def _started(ana: Client, bo: Client) -> tuple[Client, Client, str]:
    await ana.send({"type": "start"})
    seen = {c: await c.state(lambda s: s["phase"] == "choosing") for c in (ana, bo)}
    drawer, guesser = (ana, bo) if seen[ana]["choices"] else (bo, ana)
    choices = seen[drawer]["choices"]
    await drawer.send({"type": "choose_word", "word": choices[0]})
    await guesser.state(lambda s: s["phase"] == "drawing")
    await drawer.state(lambda s: s["phase"] == "drawing")
    return drawer, guesser, choices[0]


async def test_a_second_socket_on_a_seat_replaces_the_first_and_limits_carry_over():
    room, (ana, bo) = await room_with("Ana", "Bo")
    for i in range(8):  # the seat's whole burst of guesses
        await bo.send({"type": "guess", "text": f"first tab {i}"})
    await bo.drain(0.5)
    again = Client(room.code, "Bo", address=bo.address)
    await again.connect()
    await again.join(token=bo.token)
    assert await _closed_with(bo) == consumers.REPLACED_CLOSE_CODE
    assert any(m["type"] == "error" and m["code"] == "replaced" for m in bo.inbox)
    # The new tab has the seat, and the seat's allowance is not refilled by opening it.
    for i in range(8):
        await again.send({"type": "guess", "text": f"second tab {i}"})
    got = await again.drain(0.5)
    limited = [m for m in got if m["type"] == "error" and m["code"] == "rate_limited"]
    assert limited and limited[0]["message"] == "You're sending guesses too fast: wait a moment."
    player = await sync_to_async(Player.objects.get)(pk=bo.player_id)
    assert player.connections == 1 and player.seat_epoch == 2
    for c in (ana, again):
        await c.close()


async def test_one_address_holds_at_most_its_seats_and_sockets(settings):
    settings.SEATS_PER_ADDRESS = 2
    settings.SOCKETS_PER_ADDRESS = 3
    room, (host,) = await room_with("Host")
    home = "192.0.2.7"
    mine = []
    for name in ("One", "Two"):
        c = Client(room.code, name, address=home)
        await c.connect()
        await c.join()
        mine.append(c)
    third = Client(room.code, "Three", address=home)
    await third.connect()
    await third.send({"type": "join", "name": "Three"})
    refused = await third.wait_for(lambda m: m["type"] == "error")
    assert refused["code"] == "too_many_seats"
    fourth = Client(room.code, "Four", address=home)  # a fourth open socket from the address
    await fourth.connect()
    assert await _closed_with(fourth) == consumers.TOO_MANY_CLOSE_CODE
    assert fourth.inbox[0]["code"] == "too_many_connections"
    await third.close()
    fifth = Client(room.code, "Five", address=home)  # a closed socket gave its place back
    await fifth.connect()
    await fifth.send({"type": "ping"})
    await fifth.wait_for(lambda m: m["type"] == "pong")
    for c in (host, *mine, fifth):
        await c.close()


async def test_a_socket_that_never_joins_is_closed(monkeypatch):
    monkeypatch.setattr(consumers, "JOIN_TIMEOUT_SECONDS", 0.3)
    room, (ana,) = await room_with("Ana")
    idle = Client(room.code, "Idle")
    await idle.connect()
    assert await _closed_with(idle) == consumers.JOIN_TIMEOUT_CLOSE_CODE
    await ana.close()


async def test_seats_on_one_connection_are_one_voice_in_a_votekick():
    room, (ana, target) = await room_with("Ana", "Target")
    home = "198.51.100.4"
    twins = []
    for name in ("Twin A", "Twin B"):
        c = Client(room.code, name, address=home)
        await c.connect()
        await c.join()
        twins.append(c)
    # Voices other than the target's: Ana and the twins' address (2): a majority needs both.
    for twin in twins:
        await twin.send({"type": "votekick", "player_id": target.player_id})
    state = await ana.state(lambda s: any(p["kick_votes"] for p in s["players"]))
    assert next(p for p in state["players"] if p["id"] == target.player_id)["kick_votes"] == 1
    assert not (await sync_to_async(Player.objects.get)(pk=target.player_id)).left
    await ana.send({"type": "votekick", "player_id": target.player_id})
    await target.wait_for(lambda m: m["type"] == "error" and m["code"] == "kicked")
    for c in (ana, *twins):
        await c.close()


async def test_a_kicked_player_cannot_come_straight_back_from_the_same_address():
    room, (host, eve) = await room_with("Host", "Eve")
    await host.send({"type": "kick", "player_id": eve.player_id})
    await eve.wait_for(lambda m: m["type"] == "error" and m["code"] == "kicked")
    back = Client(room.code, "Eve again", address=eve.address)
    await back.connect()
    await back.send({"type": "join", "name": "Eve again", "token": eve.token})
    refused = await back.wait_for(lambda m: m["type"] == "error")
    assert refused["code"] == "banned"
    other = Client(room.code, "Someone")  # another address is welcome
    await other.connect()
    await other.join()
    for c in (host, back, other):
        await c.close()


async def test_an_endless_stroke_is_cut_at_the_stroke_limit(monkeypatch):
    requested = []
    real = consumers.request_inference

    async def counting(**kwargs):
        requested.append(sum(len(s[0]) for s in kwargs["strokes"]))
        await real(**kwargs)

    monkeypatch.setattr(consumers, "request_inference", counting)
    monkeypatch.setattr(consumers, "PARTIAL_INFERENCE_SECONDS", 0.0)
    room, (ana, bo) = await room_with("Ana", "Bo")
    drawer, guesser, _ = await _started(ana, bo)
    batch = [[100 + i % 50, 100 + i % 40, i] for i in range(protocol.MAX_POINTS_PER_BATCH)]
    sent = 0
    while sent < protocol.MAX_POINTS_PER_STROKE + 5 * protocol.MAX_POINTS_PER_BATCH:
        await drawer.send({"type": "points", "stroke": 0, "points": batch, "width": 10})
        sent += len(batch)
        await asyncio.sleep(0.03)  # under the points rate limit
    refused = await drawer.wait_for(lambda m: m["type"] == "error", timeout=10)
    assert refused["code"] == "stroke_too_long"
    relayed = sum(len(m["points"]) for m in await guesser.drain(1.0) if m["type"] == "points")
    assert relayed == protocol.MAX_POINTS_PER_STROKE
    assert max(requested) <= protocol.MAX_POINTS_PER_STROKE
    assert not [m for m in await drawer.drain(0.3) if m["type"] == "error"], "told once, not per batch"
    # The stroke's end starts afresh.
    await drawer.send({"type": "stroke", "stroke": 0, "points": batch, "width": 10})
    await guesser.wait_for(lambda m: m["type"] == "stroke")
    for c in (ana, bo):
        await c.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "kick", "player_id": "4"},
        {"type": "settings", "rounds": True},
        {"type": "settings", "rounds": 3.0},
        {"type": "votekick", "player_id": False},
        {"type": "stroke", "stroke": "0", "points": [[1, 1, 0]], "width": 10},
        {"type": "points", "stroke": 0, "points": [[1, "1", 0]], "width": 10},
    ],
)
def test_wrong_types_are_refused_not_coerced(bad):
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_client_message(json.dumps(bad))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("AI", "taken by the AI"),
        ("a.i.", "taken by the AI"),
        ("A\u200bI", "taken by the AI"),
        ("\u0430I", "taken by the AI"),
        ("\u202eIA", None),
        ("\u200b\u200b", "Pick a name"),
    ],
)
def test_names_are_cleaned_and_the_ais_is_reserved(raw, problem):
    message = json.dumps({"type": "join", "name": raw})
    if problem is None:
        assert protocol.parse_client_message(message).name == "IA"
        return
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse_client_message(message)
    assert problem in refused.value.message


async def test_a_name_taken_in_the_room_is_refused_however_it_is_written():
    room, (ana,) = await room_with("Ana")
    for twin in ("ana", "ANA", "A n a", "Ana\u200d"):
        copy = Client(room.code, twin)
        await copy.connect()
        await copy.send({"type": "join", "name": twin})
        refused = await copy.wait_for(lambda m: m["type"] == "error")
        assert refused["code"] == "bad_name" and "already has that name" in refused["message"]
        await copy.close()
    await ana.close()


async def test_a_consumer_that_crashes_gives_its_seat_back(monkeypatch):
    room, (ana, bo) = await room_with("Ana", "Bo")

    async def broken(self, event):
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(consumers.GameConsumer, "room_changed", broken)
    await ana.send({"type": "settings", "rounds": 2})  # every socket in the room gets room.changed
    for c in (ana, bo):
        with pytest.raises(RuntimeError):
            await c.comm.wait(timeout=5)
    state = await sync_to_async(selectors.snapshot)(room_id=room.pk, player_id=None)
    for pid in (ana.player_id, bo.player_id):
        player = await sync_to_async(Player.objects.get)(pk=pid)
        assert player.connections == 0, "no ghost seat"
        assert not next(p for p in state.players if p.id == pid).connected, "the game knows they are gone"
        assert pid not in presence.open_seats(), "no heartbeat keeps a dead socket's seat alive"


async def test_a_failing_state_refresh_is_logged_and_the_client_rejoins(monkeypatch, caplog):
    room, (ana, bo) = await room_with("Ana", "Bo")

    def broken(*args, **kwargs):
        raise ValueError("a view that cannot be made")

    monkeypatch.setattr(consumers.selectors, "view_of", broken)
    await ana.send({"type": "settings", "rounds": 2})
    assert await _closed_with(bo) == consumers.SERVER_FAILURE_CLOSE_CODE
    assert "sending room" in caplog.text and "a view that cannot be made" in caplog.text
    await ana.close()


def test_a_player_may_not_take_a_second_seat_by_joining_twice():
    room = actions.do_create_room()
    actions.do_join(code=room.code, name="Ana", address="k1")
    actions.do_join(code=room.code, name="Bo", address="k1")
    actions.do_join(code=room.code, name="Cy", address="k1")
    from game.errors import GameError

    with pytest.raises(GameError) as refused:
        actions.do_join(code=room.code, name="Di", address="k1")
    assert refused.value.code == "too_many_seats"
    assert Player.objects.filter(room=room).count() == 3, "a refused seat leaves no row behind"
