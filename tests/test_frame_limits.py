"""No frame the server sends exceeds the deployed limits, whatever players draw (issue 12).

Daphne runs exactly as deployed (64 KiB messages and frames, both directions: autobahn refuses to
send a larger one and the consumer dies with 1011). The largest legal stroke and drawing are sent
through it, and the largest legal game (16 players, 10 rounds, the longest words and names, a full
AI timeline) is seeded into its database and joined.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from game import protocol
from tests.live_server import WEBSOCKET_LIMIT_BYTES, live_server, manage_shell, server_env
from tools.addresses import LoopbackAddresses
from tools.client import ProtocolClient
from tools.doodles import widest_stroke
from tools.server import create_room_over_http, joined

LIMIT = WEBSOCKET_LIMIT_BYTES
ADDRESSES = LoopbackAddresses()


async def player(base: str, code: str, name: str, token: str | None = None) -> tuple[ProtocolClient, dict]:
    """A seated player from an address of its own, whose client notes every frame's size (`max_frame_bytes`)."""
    return await joined(base, code, name, token=token, local_address=ADDRESSES.take(), max_size=None)


async def still_open(client: ProtocolClient) -> None:
    await client.send({"type": "ping"})
    await client.wait_for(lambda m: m["type"] == "pong", timeout=15)


def _message(kind: str, **fields):
    return lambda m: m["type"] == kind and all(m.get(k) == v for k, v in fields.items())


def _phase(phase: str):
    return lambda m: m["type"] == "state" and m["state"]["phase"] == phase


def test_the_largest_legal_drawing_reaches_everyone_in_bounded_frames():
    with live_server() as server:
        base = server.url
        code = create_room_over_http(base, source_address=ADDRESSES.take())

        async def main():
            (ana, _), (bo, _) = await player(base, code, "Ana"), await player(base, code, "Bo")
            await ana.send({"type": "start"})
            states = [await p.wait_for(_phase("choosing"), 30) for p in (ana, bo)]
            drawer, guesser = (ana, bo) if states[0]["state"]["choices"] else (bo, ana)
            word = (states[0] if drawer is ana else states[1])["state"]["choices"][0]
            await drawer.send({"type": "choose_word", "word": word})
            await guesser.wait_for(_phase("drawing"), 30)
            sizes = [protocol.MAX_POINTS_PER_STROKE] * 6
            sizes.append(protocol.MAX_POINTS_PER_DRAWING - sum(sizes))
            for i, n in enumerate(sizes):
                stroke = widest_stroke(n, i)
                frame = json.dumps(
                    {"type": "stroke", "stroke": i, "points": stroke, "width": 22}, separators=(",", ":")
                )
                assert len(frame) <= LIMIT, "the client's own frame fits"
                await drawer.send(frame)
                got = await guesser.wait_for(_message("stroke", stroke=i), 30)
                assert len(got["points"]) == n and got["points"][0] == [round(p, 1) for p in stroke[0][:2]]
                await asyncio.sleep(0.12)  # the strokes rate limit
            await drawer.send({"type": "stroke", "stroke": 7, "points": widest_stroke(10, 9), "width": 4})
            full = await drawer.wait_for(_message("error"), 30)
            assert full["code"] == "drawing_full"
            # A newcomer gets the whole drawing in chunks, each under the limit.
            cy, _ = await player(base, code, "Cy")
            chunks = []
            while not chunks or chunks[-1]["start"] + len(chunks[-1]["strokes"]) < chunks[-1]["total"]:
                chunks.append(await cy.wait_for(_message("canvas"), 30))
            assert [len(s["points"]) for c in chunks for s in c["strokes"]] == sizes
            assert len(chunks) >= 3 and chunks[0]["start"] == 0
            assert [len(s["points"]) for s in cy.canvas.strokes] == sizes, "the client put the chunks together"
            for p in (ana, bo, cy):
                await still_open(p)
                assert p.max_frame_bytes <= LIMIT
            for p in (ana, bo, cy):
                await p.close()

        asyncio.run(main())
    assert "PayloadExceeded" not in server.log and "Traceback" not in server.log, server.log[-3000:]


SEED = """
import datetime as dt, json
from django.db import transaction
from game import actions, commands, store
from game.models import Player, Room
from inference.live import live_model

labels = sorted(live_model.classifier().labels, key=len, reverse=True)
longest = tuple(labels[:5])
actions._vocabulary = lambda: longest  # the longest words make the largest frames
out = {}
for phase in ("game_over", "turn_end"):  # the room to be joined at the end of a turn last
    # One transaction per game: thousands of actions, each a savepoint instead of a commit to disk.
    with transaction.atomic():
        room = actions.do_create_room()
        players = []
        for i in range(16):
            p = actions.do_join(code=room.code, name=f"Wide{i:02d}".ljust(20, "W"), address=f"home{i}")
            actions.do_connect(player_id=p.pk)
            players.append(p)
            if i == 0:
                actions.do_update_settings(player_id=p.pk, rounds=10, max_players=16, draw_seconds=240, word_choices=5)
        actions.do_start(player_id=players[0].pk)
        now = dt.datetime.now(dt.UTC)
        while True:
            state = store.parsed(Room.objects.get(pk=room.pk))
            if state.phase == "game_over":
                break
            if state.phase == "choosing":
                actions.do_choose_word(player_id=state.turn.drawer_id, word=state.turn.choices[0])
                continue
            turn = state.turn
            last = state.round_no == 10 and turn.drawer_id == players[-1].pk
            if state.phase == "drawing":
                actions.do_stroke(player_id=turn.drawer_id, points=[[100, 100, 0], [700, 500, 40]], width=10)
                for k in range(200 if last else 1):  # the AI changes its mind as often as it may be recorded
                    guesses = [(labels[(k + j) % 50], 0.3) for j in range(3)]
                    actions.do_ai_answer(room_id=room.pk, turn_no=turn.turn_no, owner=turn.drawer_id, version=k + 1,
                                         guesses=guesses, n_labels=len(labels))
                for p in players:
                    if p.pk != turn.drawer_id:  # the last turn ends minutes ahead, so that it is still over when joined
                        actions._apply(room.pk, commands.Guess(player_id=p.pk, text=turn.word),
                                       now=int(dt.datetime.now(dt.UTC).timestamp() * 1000) + (200_000 if last else 0))
                continue
            if phase == "turn_end" and last:
                break
            now = now + dt.timedelta(seconds=10)
            actions.do_tick(room_id=room.pk, now=int(now.timestamp() * 1000) + 10**7)
    out[phase] = {"code": room.code, "token": players[3].token, "name": players[3].name}
print(json.dumps(out))
"""


def test_the_largest_legal_game_is_shown_in_bounded_frames_and_its_gallery_over_http():
    with live_server(extra_env={"GAME_CLOCK_IN_WEB": "0"}, keep_files=True) as server:
        db = server.log_path.parent / "db.sqlite3"
        out = manage_shell(server_env(db), SEED, timeout=300)
        rooms = json.loads(out.strip().splitlines()[-1])

        async def main():
            for phase, room in rooms.items():
                seated, welcome = await player(server.url, room["code"], room["name"], room["token"])
                state = welcome["state"]
                assert state["phase"] == phase and len(state["players"]) == 17 and state["rounds"] == 10
                assert seated.max_frame_bytes <= LIMIT
                if phase == "turn_end":
                    timeline = state["reveal"]["ai_timeline"]
                    assert len(timeline) == protocol.MAX_TIMELINE_SHOWN
                    assert len(state["reveal"]["guessed"]) >= 15
                else:
                    with urllib.request.urlopen(server.url + state["gallery_url"], timeout=30) as response:
                        drawings = json.loads(response.read())["drawings"]
                    assert len(drawings) == 160 and max(len(d["word"]) for d in drawings) >= 20
                    with urllib.request.urlopen(server.url + drawings[-1]["thumb_url"], timeout=30) as response:
                        assert response.headers["Content-Type"] == "image/svg+xml"
                        assert "immutable" in response.headers["Cache-Control"]
                        assert b"<polyline" in response.read()
                await still_open(seated)
                await seated.close()

        asyncio.run(main())
    assert "PayloadExceeded" not in server.log and "Traceback" not in server.log, server.log[-3000:]


@pytest.mark.parametrize("strokes", [1, 7, 400])
def test_canvas_chunks_stay_under_their_budget_for_any_legal_drawing(strokes):
    per = min(protocol.MAX_POINTS_PER_STROKE, protocol.MAX_POINTS_PER_DRAWING // strokes)
    drawing = [
        protocol.StrokeView(points=protocol.compact_points(widest_stroke(per, i)), width=22) for i in range(strokes)
    ]
    frames = protocol.canvas_frames(5, 2, drawing)
    assert sum(len(f.strokes) for f in frames) == strokes and frames[0].start == 0
    assert all(f.total == strokes for f in frames)
    assert max(len(f.model_dump_json()) for f in frames) <= protocol.OUT_CHUNK_BYTES + 200 < LIMIT


coordinate = st.floats(min_value=-1.0, max_value=protocol.CANVAS_WIDTH + 1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(
        st.tuples(coordinate, coordinate, st.integers(0, 10**7)).map(list),
        min_size=1,
        max_size=protocol.MAX_POINTS_PER_BATCH,
    ),
    width=st.integers(1, 40),
    color=st.sampled_from(protocol.PALETTE),
    stroke=st.integers(0, protocol.MAX_STROKES_PER_DRAWING),
)
def test_a_points_frame_is_the_points_models_text_and_fits_a_frame(points, width, color, stroke):
    """The relay's own encoder of the busiest frame says exactly what the protocol's model says."""
    text = protocol.points_frame(turn_id=12, owner=345, stroke=stroke, points=points, width=width, color=color)
    model = protocol.PointsOut(
        turn_id=12, owner=345, stroke=stroke, points=protocol.compact_points(points), width=width, color=color
    )
    assert text == model.model_dump_json()
    assert protocol.PointsOut.model_validate_json(text) == model
    assert len(text.encode()) < LIMIT
