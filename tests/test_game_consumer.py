"""A room played over real (in-process) WebSockets with the real inference consumer and model."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from game.models import Drawing, Player
from tests.conftest import read_drawings
from tests.wsclient import Client, inference_worker, room_with, to_canvas

pytestmark = pytest.mark.django_db(transaction=True)


async def _start_and_choose(host: Client, others: list[Client]) -> tuple[Client, list[Client], str]:
    await host.send({"type": "start"})
    st = await host.state(lambda s: s["phase"] == "choosing")
    drawer = next(c for c in [host, *others] if c.player_id == st["drawer_id"])
    guessers = [c for c in [host, *others] if c is not drawer]
    choosing = st if drawer is host else await drawer.state(lambda s: s["phase"] == "choosing")
    assert choosing["choices"], "the drawer is offered words"
    word = choosing["choices"][0]
    for g in guessers:
        gs = await g.state(lambda s: s["phase"] == "choosing")
        assert gs["choices"] is None and gs["word"] is None
    await drawer.send({"type": "choose_word", "word": word})
    await drawer.state(lambda s: s["phase"] == "drawing" and s["word"] == word)
    for g in guessers:
        gs = await g.state(lambda s: s["phase"] == "drawing")
        assert gs["word"] is None, "the word must never reach a guesser before the turn ends"
        assert gs["word_mask"].replace("_", "") == "".join(ch for ch in word if not ch.isalnum())
    return drawer, guessers, word


async def test_two_players_draw_guess_and_score_with_live_ai():
    room, (ana, bo) = await room_with("Ana", "Bo")
    async with inference_worker():
        drawer, (guesser,), word = await _start_and_choose(ana, [bo])
        drawing = read_drawings("cat", 1)[0]["drawing"]
        strokes = to_canvas(drawing)
        # Live points reach the other player, not the drawer.
        await drawer.send({"type": "points", "stroke": 0, "points": strokes[0][:5], "width": 10})
        live = await guesser.wait_for(lambda m: m["type"] == "points")
        assert live["points"] == [p[:2] for p in strokes[0][:5]], "viewers get [x, y], integers kept integers"
        for i, stroke in enumerate(strokes[:4]):
            await drawer.send({"type": "stroke", "stroke": i, "points": stroke, "width": 10})
            got = await guesser.wait_for(lambda m, i=i: m["type"] == "stroke" and m["stroke"] == i)
            assert got["points"] == [p[:2] for p in stroke]
        # The AI's top-3 reaches both players.
        for c in (drawer, guesser):
            ai = await c.wait_for(lambda m: m["type"] == "ai", timeout=10)
            assert len(ai["guesses"]) == 3
            assert all(0.0 <= g["p"] <= 1.0 for g in ai["guesses"])
        assert not [m for m in await drawer.drain() if m["type"] == "points"]
        # A wrong guess is chat; a near miss gets a private "close"; the right one scores.
        await guesser.send({"type": "guess", "text": "definitely not it"})
        chat = await drawer.wait_for(lambda m: m["type"] == "chat" and m["kind"] == "guess")
        assert chat["text"] == "definitely not it" and chat["name"] == "Bo"
        await guesser.send({"type": "guess", "text": word + "s"})
        await guesser.wait_for(lambda m: m["type"] == "chat" and m["kind"] == "close")
        await guesser.send({"type": "guess", "text": word.upper()})
        correct = await drawer.wait_for(lambda m: m["type"] == "chat" and m["kind"] == "correct")
        assert word not in correct["text"]
        end = await drawer.state(lambda s: s["phase"] == "turn_end")
        assert end["reveal"]["word"] == word
        scores = {p["name"]: p["score"] for p in end["players"]}
        assert scores["Bo"] > 0 and scores["Ana"] > 0
        drawing = await sync_to_async(Drawing.objects.get)(turn__room=room, turn__turn_no=end["turn_id"])
        assert len(drawing.strokes) == 4 and len(drawing.strokes[0]) == 3  # raw format with timing
        assert drawing.word == word
    for c in (ana, bo):
        await c.close()


async def test_malformed_and_forbidden_messages_get_errors_and_keep_the_socket():
    room, (ana, bo) = await room_with("Ana", "Bo")
    for bad in [
        "not json",
        '{"type": "nope"}',
        '{"type": "guess"}',
        '{"type": "guess", "text": "x", "extra": 1}',
        '{"type": "points", "stroke": 0, "points": [[NaN, 1, 0]]}',
        '{"type": "points", "stroke": 0, "points": [[5000, 1, 0]]}',
    ]:
        await bo.send(bad)
        err = await bo.wait_for(lambda m: m["type"] == "error")
        assert err["message"]
    # Bo is not the host and not the drawer.
    await bo.send({"type": "start"})
    assert (await bo.wait_for(lambda m: m["type"] == "error"))["code"] == "not_host"
    await bo.send({"type": "stroke", "stroke": 0, "points": [[1, 1, 0]], "width": 10})
    assert (await bo.wait_for(lambda m: m["type"] == "error"))["code"] == "not_drawer"
    await bo.send({"type": "ping"})
    await bo.wait_for(lambda m: m["type"] == "pong")
    for c in (ana, bo):
        await c.close()


async def test_reconnect_with_token_gets_seat_score_and_canvas_back():
    room, (ana, bo) = await room_with("Ana", "Bo")
    drawer, (guesser,), word = await _start_and_choose(ana, [bo])
    stroke = to_canvas(read_drawings("cat", 1)[0]["drawing"])[0]
    await drawer.send({"type": "stroke", "stroke": 0, "points": stroke, "width": 22})
    await guesser.wait_for(lambda m: m["type"] == "stroke")
    await guesser.send({"type": "guess", "text": word})
    scored = await guesser.state(lambda s: any(p["id"] == guesser.player_id and p["score"] for p in s["players"]))
    score = next(p["score"] for p in scored["players"] if p["id"] == guesser.player_id)
    token, pid = guesser.token, guesser.player_id
    await guesser.close()
    again = Client(room.code, guesser.name)
    await again.connect()
    welcome = await again.join(token=token)
    assert welcome["player_id"] == pid
    me = next(p for p in welcome["state"]["players"] if p["id"] == pid)
    assert me["score"] == score > 0 and me["connected"]
    canvas = await again.wait_for(lambda m: m["type"] == "canvas")
    assert (canvas["start"], canvas["total"], len(canvas["strokes"])) == (0, 1, 1)
    assert canvas["strokes"][0]["width"] == 22 and len(canvas["strokes"][0]["points"]) == len(stroke)
    for c in (ana, bo, again):
        await c.close()


async def test_sockets_that_have_not_joined_get_no_room_traffic_and_kicked_players_are_cut_off():
    room, (ana, bo) = await room_with("Ana", "Bo")
    lurker = Client(room.code, "Lurker")
    await lurker.connect()
    await bo.send({"type": "guess", "text": "hello all"})
    await ana.wait_for(lambda m: m["type"] == "chat" and m.get("text") == "hello all")
    assert not await lurker.drain(0.3), "an unjoined socket must not see the room"
    await ana.send({"type": "kick", "player_id": bo.player_id})
    err = await bo.wait_for(lambda m: m["type"] == "error")
    assert err["code"] == "kicked"
    out = await bo.comm.receive_output(timeout=3)
    assert out["type"] == "websocket.close" and out["code"] == 4403
    st = await ana.state(lambda s: all(p["name"] != "Bo" for p in s["players"]))
    assert [p["name"] for p in st["players"] if not p["is_ai"]] == ["Ana"]
    await lurker.close()
    await ana.close()


async def test_a_majority_votekick_cuts_the_player_off():
    room, (ana, bo, cy, dan) = await room_with("Ana", "Bo", "Cy", "Dan")
    await bo.send({"type": "votekick", "player_id": dan.player_id})
    st = await ana.state(lambda s: any(p["name"] == "Dan" and p["kick_votes"] == 1 for p in s["players"]))
    assert st["kick_votes_needed"] == 2
    await cy.send({"type": "votekick", "player_id": dan.player_id})
    err = await dan.wait_for(lambda m: m["type"] == "error")
    assert err["code"] == "kicked"
    await ana.state(lambda s: all(p["name"] != "Dan" for p in s["players"]))
    for c in (ana, bo, cy):
        await c.close()


async def test_one_presence_beat_per_process_refreshes_every_seat_open_here():
    from datetime import timedelta

    from django.utils import timezone

    from game import presence

    room, (ana, bo) = await room_with("Ana", "Bo")
    assert {ana.player_id, bo.player_id} <= set(presence.open_seats())
    old = timezone.now() - timedelta(minutes=5)
    await sync_to_async(Player.objects.filter(room=room).update)(last_seen=old)
    await bo.close()
    await asyncio.sleep(0.1)  # the disconnect handler runs
    assert bo.player_id not in presence.open_seats() and ana.player_id in presence.open_seats()
    await presence.beat()
    seen = dict(await sync_to_async(list)(Player.objects.filter(room=room).values_list("name", "last_seen")))
    assert seen["Ana"] > old, "Ana's socket is open here: refreshed"
    assert seen["Bo"] == old, "Bo left: not refreshed"
    await ana.close()


async def test_a_guess_waiting_for_the_database_holds_back_nothing_else_for_that_player(monkeypatch):
    """The guesser's chat waits in their socket's lane; points, strokes and AI answers still reach them."""
    import threading

    from game import actions

    room, (ana, bo) = await room_with("Ana", "Bo")
    async with inference_worker():
        drawer, (guesser,), word = await _start_and_choose(ana, [bo])
        strokes = to_canvas(read_drawings("cat", 1)[0]["drawing"])
        await drawer.send({"type": "stroke", "stroke": 0, "points": strokes[0], "width": 10})
        await guesser.wait_for(lambda m: m["type"] == "ai", timeout=10)  # the AI has its model loaded
        release, entered = threading.Event(), threading.Event()
        do_guess = actions.do_guess

        def slow_submit_guess(**kwargs):
            entered.set()
            release.wait(10)  # the database thread is busy with this guess until released
            return do_guess(**kwargs)

        monkeypatch.setattr(actions, "do_guess", slow_submit_guess)
        await guesser.send({"type": "guess", "text": "a slow line"})
        assert await asyncio.to_thread(entered.wait, 5)
        await guesser.drain()
        stroke = strokes[1]
        await drawer.send({"type": "points", "stroke": 1, "points": stroke[:5], "width": 10})
        live = await guesser.wait_for(lambda m: m["type"] == "points", timeout=3)
        assert live["points"] == [p[:2] for p in stroke[:5]]
        await drawer.send({"type": "stroke", "stroke": 1, "points": stroke, "width": 10})
        ai = await guesser.wait_for(lambda m: m["type"] == "ai", timeout=5)
        assert len(ai["guesses"]) == 3, "the AI's answer is not held behind the guess either"
        release.set()
        chat = await drawer.wait_for(lambda m: m["type"] == "chat" and m["kind"] == "guess", timeout=5)
        assert chat["text"] == "a slow line"
        got = await guesser.wait_for(lambda m: m["type"] == "stroke", timeout=5)
        assert got["stroke"] == 1, "the stroke is stored once the database thread is free"
    for c in (ana, bo):
        await c.close()


async def test_messages_sent_right_after_join_wait_for_it_in_order():
    """A client that sends before its welcome arrived is served in the order it sent."""
    room, (ana,) = await room_with("Ana")
    bo = Client(room.code, "Bo")
    await bo.connect()
    await bo.send({"type": "join", "name": "Bo"})
    await bo.send({"type": "ping"})
    await bo.send({"type": "guess", "text": "hello"})
    first = await bo.wait_for(lambda m: True)
    assert first["type"] == "welcome", first
    assert (await bo.wait_for(lambda m: m["type"] in ("pong", "error")))["type"] == "pong"
    chat = await ana.wait_for(lambda m: m["type"] == "chat" and m["kind"] == "guess")
    assert chat["text"] == "hello" and chat["name"] == "Bo"
    assert not [m for m in await bo.drain() if m["type"] == "error"]
    for c in (ana, bo):
        await c.close()
