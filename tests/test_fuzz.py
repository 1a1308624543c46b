"""Property-based fuzzing of the protocol against the real consumer: hostile frames and abusive clients."""

from __future__ import annotations

import contextlib
import itertools
import json
import random

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from game import actions, consumers, rules, store
from game.address_limits import address_key
from game.errors import GameError
from game.models import Drawing, Player, Room
from game.protocol import CANVAS_HEIGHT, CANVAS_WIDTH, CLIENT_MESSAGES, MAX_STROKES_PER_DRAWING, parse_client_message
from game.ratelimit import ABUSE_CLOSE_CODE
from tests.wsclient import Client, room_with
from tools.client import Closed, JoinRefused
from tools.fuzzing import VALID, frame

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES_PER_EXAMPLE = 60


def check_invariants(room_id: int) -> None:
    state = store.parsed(Room.objects.get(pk=room_id))
    assert state.phase in rules.PHASES
    assert sum(p.is_ai for p in state.players) <= 1
    assert len(state.humans) <= rules.seat_capacity(state.mode, state.settings.max_players)
    assert state.host_id is None or state.player(state.host_id) is not None
    for key, (lo, hi) in rules.SETTING_RANGES.items():
        assert lo <= getattr(state.settings, key) <= hi
    assert all(p.score >= 0 for p in state.players)
    assert all(0 <= p.connections <= 50 for p in Player.objects.filter(room_id=room_id))
    turn = state.turn
    if turn is not None:
        assert turn.drawer_id is None or state.player(turn.drawer_id) is not None
        if state.phase in (rules.Phase.CHOOSING, rules.Phase.DRAWING):
            assert turn.word == "" or turn.word in turn.choices
    for drawing in Drawing.objects.filter(turn__room_id=room_id):
        assert len(drawing.strokes) <= MAX_STROKES_PER_DRAWING
        assert drawing.points_count == sum(len(xs) for xs, _, _ in drawing.strokes)
        for xs, ys, ts in drawing.strokes:
            assert len(xs) == len(ys) == len(ts)
            assert all(0 <= x <= CANVAS_WIDTH for x in xs) and all(0 <= y <= CANVAS_HEIGHT for y in ys)


def leave_all_but(room_id: int, names: tuple[str, ...]) -> None:
    """Earlier examples' players go (as the seat-release timer would have it): their seats are free again."""
    for gone in Player.objects.filter(room_id=room_id, left=False).exclude(name__in=names):
        with contextlib.suppress(GameError):
            actions.do_leave(player_id=gone.pk)


@pytest.mark.django_db(transaction=False)
def test_the_fuzzer_starts_from_a_valid_example_of_every_client_message():
    kinds = {parse_client_message(json.dumps(example)).type for example in VALID}
    assert kinds == {m.model_fields["type"].annotation.__args__[0] for m in CLIENT_MESSAGES}


@pytest.fixture
async def room_in_play():
    room, (ana, bo) = await room_with("Ana", "Bo")
    await ana.send({"type": "start"})
    st_ = await ana.state(lambda s: s["phase"] == "choosing")
    await ana.send({"type": "choose_word", "word": st_["choices"][0]})
    await ana.state(lambda s: s["phase"] == "drawing")
    yield room, ana, bo
    for c in (ana, bo):
        await c.close()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), as_player=st.booleans())
async def test_hostile_frames_leave_the_room_consistent_and_playable(room_in_play, seed, as_player):
    room, ana, bo = room_in_play
    rng = random.Random(seed)
    await sync_to_async(leave_all_but)(room.pk, ("Ana", "Bo"))
    eve = Client(room.code, "Eve")
    await eve.connect()
    if as_player:
        await eve.join()
    closed_with = None
    for _ in range(FRAMES_PER_EXAMPLE):
        f = frame(rng) or " "
        if isinstance(f, bytes):
            await eve.comm.send_to(bytes_data=f)
        else:
            await eve.send(f)
    while not await eve.comm.receive_nothing(timeout=0.05):
        out = await eve.comm.receive_output()
        if out["type"] == "websocket.close":
            closed_with = out.get("code")
            break
    # Only sustained abuse closes a socket, and then with the documented code; never a crash (1011).
    assert closed_with in (None, ABUSE_CLOSE_CODE)
    if eve.comm.future.done():
        assert eve.comm.future.exception() is None
    await sync_to_async(check_invariants)(room.pk)
    # A normal player still joins this room and is served.
    cy = Client(room.code, "Cy")
    await cy.connect()
    welcome = await cy.join()
    assert welcome["state"]["phase"] in ("drawing", "turn_end", "choosing")
    await cy.send({"type": "guess", "text": "hello"})
    await bo.wait_for(lambda m: m["type"] == "chat" and m.get("name") == "Cy")
    await cy.close()
    await eve.close()


ABUSIVE_MOVES = ("seat", "tab", "junk", "guess", "sync", "points", "close")
_abuser_addresses = (f"203.0.113.{n}" for n in itertools.count(1))
_abuser_names = (f"Ab{n}" for n in itertools.count(1))


async def _abuse(move: str, room: Room, abusers: list[Client], address: str, rng: random.Random) -> None:
    """One move of an abuser on `address`: another seat, another tab on a seat, junk, spam, or a socket gone."""
    open_ = [c for c in abusers if not c.closed]
    seated = [c for c in open_ if c.token]
    if move in ("seat", "tab") or not open_:
        tab_of = rng.choice(seated) if move == "tab" and seated else None
        client = Client(room.code, tab_of.name if tab_of else next(_abuser_names), address=address)
        abusers.append(client)
        await client.connect()
        with contextlib.suppress(JoinRefused):  # a seat too many, too many sockets...
            await client.join(tab_of.token if tab_of else None)
        return
    client = rng.choice(open_)
    if move == "close":
        await client.close()
        client.closed = True
        return
    message = {
        "junk": frame(rng) or " ",
        "guess": {"type": "guess", "text": "spam"},
        "sync": {"type": "sync"},
        "points": {"type": "points", "stroke": 0, "points": [[1.5, 2, 3]] * 120, "width": 4},
    }[move]
    await (client.comm.send_to(bytes_data=message) if isinstance(message, bytes) else client.send(message))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    moves=st.lists(st.sampled_from(ABUSIVE_MOVES), min_size=4, max_size=24),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
async def test_abusive_clients_on_one_address_take_no_more_than_its_share(room_in_play, moves, seed):
    room, ana, bo = room_in_play
    await sync_to_async(leave_all_but)(room.pk, ("Ana", "Bo"))
    address, rng = next(_abuser_addresses), random.Random(seed)
    abusers: list[Client] = []
    for move in moves:
        await _abuse(move, room, abusers, address, rng)
    for client in abusers:  # whatever the server answered, taken in; a close ends a socket's story
        if not client.closed:
            with contextlib.suppress(Closed):
                await client.drain(0.05)
            if client.comm.future.done():
                assert client.comm.future.exception() is None, "a consumer crashed"
    # Only sustained abuse closes a socket, and then with a documented code; never a crash (1011).
    documented = {1000, ABUSE_CLOSE_CODE, consumers.REPLACED_CLOSE_CODE, consumers.TOO_MANY_CLOSE_CODE}
    assert {c.close_code for c in abusers if c.close_code is not None} <= documented
    await sync_to_async(check_invariants)(room.pk)
    state = await sync_to_async(store.parsed)(await sync_to_async(Room.objects.get)(pk=room.pk))
    key = address_key(address)
    held = sum(1 for p in state.humans if p.address == key)
    connected = sum(1 for p in state.connected_humans if p.address == key)
    assert held <= django_settings.SEATS_PER_ADDRESS and connected <= held
    assert sum(1 for c in abusers if not c.closed) <= django_settings.SOCKETS_PER_ADDRESS
    # The room still plays for everyone else: a newcomer joins and is heard.
    cy = Client(room.code, "Cy")
    await cy.connect()
    await cy.join()
    await cy.send({"type": "guess", "text": "still here"})
    await bo.wait_for(lambda m: m["type"] == "chat" and m.get("text") == "still here")
    for client in (cy, *abusers):
        if not client.closed:
            await client.close()
