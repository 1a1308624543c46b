"""The game's actions on a real database: state saved under the room's lock, what games leave behind, timers,
frames to the right players. (The rules themselves are tested purely in test_machine*.py.)

tests/test_postgres.py runs this file again on PostgreSQL: the drawing statements are SQL written per database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from game import actions, events, protocol, records, rules, selectors, store
from game.errors import GameError
from game.models import ChatLine, Drawing, Player, Room, Turn

pytestmark = pytest.mark.django_db


def seated(n: int, mode: str = "classic") -> tuple[Room, list[Player]]:
    room = actions.do_create_room(mode=mode)
    players = []
    for i in range(n):
        p = actions.do_join(code=room.code, name=f"P{i}", address=f"addr{i}")
        actions.do_connect(player_id=p.pk)
        players.append(p)
    return room, players


def state_of(room: Room):
    return store.parsed(Room.objects.get(pk=room.pk))


def started(n: int = 3, mode: str = "classic") -> tuple[Room, list[Player]]:
    room, players = seated(n, mode)
    actions.do_start(player_id=players[0].pk)
    return room, players


def choose(room: Room) -> str:
    turn = state_of(room).turn
    actions.do_choose_word(player_id=turn.drawer_id, word=turn.choices[0])
    return turn.choices[0]


@pytest.fixture
def sent(monkeypatch):
    """Every layer message the actions send, as (group, decoded message)."""
    got = []
    monkeypatch.setattr(events, "after_commit", lambda fn: fn())  # this test's transaction never commits
    monkeypatch.setattr(
        events,
        "_group_send",
        lambda group, message: got.append(
            (group, {**message, **({"text": json.loads(message["text"])} if message.get("text") else {})})
        ),
    )
    return got


def test_a_game_is_played_to_the_end_and_leaves_its_turns_and_drawings():
    room, players = started(2)
    words = []
    for _ in range(rules.SETTING_DEFAULTS["rounds"] * 2):
        state = state_of(room)
        if state.phase != rules.Phase.CHOOSING:
            break
        words.append(choose(room))
        drawer = state.turn.drawer_id
        actions.do_stroke(player_id=drawer, points=[[10, 20, 0], [30.55, 40, 16]], width=10)
        guesser = next(p for p in players if p.pk != drawer)
        actions.do_guess(player_id=guesser.pk, text=words[-1])
        assert state_of(room).phase == rules.Phase.TURN_END, "everyone guessed"
        actions.fire_due_timers(now=timezone.now() + timedelta(seconds=rules.TURN_END_SECONDS + 1))
    state = state_of(room)
    assert state.phase == rules.Phase.GAME_OVER and len(words) == 6
    turns = list(Turn.objects.filter(room=room).order_by("turn_no"))
    assert [t.word for t in turns] == words and all(t.ended_at and t.end_reason == "everyone_guessed" for t in turns)
    assert all(len(t.guesses) == 1 and t.guesses[0]["points"] > 0 for t in turns)
    drawings = list(Drawing.objects.filter(turn__room=room).order_by("pk"))
    assert [d.word for d in drawings] == words
    assert drawings[0].strokes == [[[10, 30.6], [20, 40], [0, 16]]] and drawings[0].points_count == 2
    view = selectors.snapshot(room_id=room.pk, player_id=players[0].pk)
    assert view.gallery_url == f"/rooms/{room.code}/games/1/gallery.json"
    assert [g.word for g in selectors.gallery(room=Room.objects.get(pk=room.pk), game_no=1)] == words
    room_row = Room.objects.get(pk=room.pk)
    assert (room_row.phase, room_row.version) == ("game_over", state.version) and room_row.wakeup_at is None


def test_a_refused_command_writes_nothing():
    room, (a, b) = seated(2)
    before = Room.objects.get(pk=room.pk)
    with pytest.raises(GameError) as refused:
        actions.do_start(player_id=b.pk)
    assert refused.value.code == "not_host"
    after = Room.objects.get(pk=room.pk)
    assert (after.revision, after.state) == (before.revision, before.state)
    with pytest.raises(GameError):
        actions.do_join(code=room.code, name="p0", address="elsewhere")  # a taken name
    assert Player.objects.filter(room=room).count() == 2, "the refused seat's row is rolled back"


def test_strokes_undo_and_clear_are_stored_in_order_with_widths_and_colours(sent):
    room, players = started(2)
    choose(room)
    drawer = state_of(room).turn.drawer_id
    for i, (width, color) in enumerate(((4, protocol.PALETTE[1]), (22, protocol.INK), (10, protocol.PALETTE[5]))):
        actions.do_stroke(player_id=drawer, points=[[i, i, 0], [i + 1, i + 2, 8]], width=width, color=color)
    drawing = Drawing.objects.get(turn__room=room)
    assert drawing.strokes == [[[i, i + 1], [i, i + 2], [0, 8]] for i in range(3)]
    assert drawing.stroke_widths == [4, 22, 10] and drawing.stroke_colors[1] == protocol.INK
    strokes = [m["text"] for _, m in sent if m.get("text", {}).get("type") == "stroke"]
    assert [s["stroke"] for s in strokes] == [0, 1, 2] and strokes[0]["points"] == [[0, 0], [1, 2]]
    sent.clear()
    actions.do_undo(player_id=drawer)
    drawing.refresh_from_db()
    assert len(drawing.strokes) == 2 and drawing.points_count == 4
    assert [m["text"] for _, m in sent if m.get("text", {}).get("type") == "canvas"] == [
        {"type": "canvas", "turn_id": 1, "owner": drawer, "start": 2, "total": 2, "strokes": []}
    ]
    actions.do_clear(player_id=drawer)
    actions.do_undo(player_id=drawer)  # nothing left: stays empty
    drawing.refresh_from_db()
    assert (drawing.strokes, drawing.stroke_widths, drawing.points_count) == ([], [], 0)
    guesser = next(p for p in players if p.pk != drawer)
    for change in (actions.do_undo, actions.do_clear):
        with pytest.raises(GameError) as refused:
            change(player_id=guesser.pk)
        assert refused.value.code == "not_drawer"


def test_a_drawing_holds_at_most_its_points_and_a_refused_stroke_changes_nothing(monkeypatch):
    monkeypatch.setattr(protocol, "MAX_POINTS_PER_DRAWING", 5)
    room, _ = started(2)
    choose(room)
    drawer = state_of(room).turn.drawer_id
    actions.do_stroke(player_id=drawer, points=[[i, i, 0] for i in range(3)], width=4)
    with pytest.raises(GameError) as full:
        actions.do_stroke(player_id=drawer, points=[[i, i, 0] for i in range(3)], width=4)
    assert full.value.code == "drawing_full"
    drawing = Drawing.objects.get(turn__room=room)
    assert (drawing.stroke_count, drawing.points_count) == (1, 3), "the refused stroke changed nothing"
    actions.do_stroke(player_id=drawer, points=[[i, i, 0] for i in range(2)], width=4)
    drawing.refresh_from_db()
    assert (drawing.stroke_count, drawing.points_count, len(drawing.strokes)) == (2, 5, 2)


def test_a_drawing_holds_at_most_its_strokes(monkeypatch, sent):
    monkeypatch.setattr(protocol, "MAX_STROKES_PER_DRAWING", 2)
    room, _ = started(2)
    choose(room)
    drawer = state_of(room).turn.drawer_id
    stroke = {"points": [[0, 0, 0], [5, 5, 9]], "width": 4}
    actions.do_stroke(player_id=drawer, **stroke)
    actions.do_stroke(player_id=drawer, **stroke)
    with pytest.raises(GameError) as refused:
        actions.do_stroke(player_id=drawer, **stroke)
    assert refused.value.code == "too_many_strokes"
    actions.do_undo(player_id=drawer)
    actions.do_stroke(player_id=drawer, **stroke)
    drawing = Drawing.objects.get(turn__room=room)
    assert (drawing.stroke_count, len(drawing.strokes)) == (2, 2)
    frames = [m["text"] for _, m in sent if m.get("text", {}).get("type") in ("stroke", "canvas")]
    assert [(f["type"], f.get("stroke", f.get("total"))) for f in frames] == [
        ("stroke", 0),
        ("stroke", 1),
        ("canvas", 1),
        ("stroke", 1),
    ]


def test_a_drawing_takes_strokes_only_while_its_turn_is_drawn():
    room, players = started(2)
    choose(room)
    drawer = state_of(room).turn.drawer_id
    stroke = {"points": [[0, 0, 0], [5, 5, 9]], "width": 4}
    actions.do_stroke(player_id=drawer, **stroke)
    assert Drawing.objects.get(turn__room=room).accepting
    actions.do_tick(room_id=room.pk, now=state_of(room).deadline)
    assert state_of(room).phase == "turn_end"
    for change in (actions.do_stroke, actions.do_undo, actions.do_clear):
        with pytest.raises(GameError) as refused:
            change(player_id=drawer, **(stroke if change is actions.do_stroke else {}))
        assert refused.value.code == "not_drawer"
    drawing = Drawing.objects.get(turn__room=room)
    assert (drawing.accepting, drawing.stroke_count, len(drawing.strokes)) == (False, 1, 1)


def test_a_racer_who_leaves_draws_no_more_and_the_others_race_on():
    room, players = started(3, mode="race")
    stroke = {"points": [[0, 0, 0], [5, 5, 9]], "width": 4}
    for p in players:
        actions.do_stroke(player_id=p.pk, **stroke)
    actions.do_leave(player_id=players[0].pk)
    with pytest.raises(GameError):
        actions.do_stroke(player_id=players[0].pk, **stroke)
    actions.do_stroke(player_id=players[1].pk, **stroke)
    counts = dict(Drawing.objects.filter(turn__room=room).values_list("owner_id", "stroke_count"))
    assert counts == {players[0].pk: 1, players[1].pk: 2, players[2].pk: 1}
    view = selectors.snapshot(room_id=room.pk, player_id=players[2].pk)
    assert {r.player_id: r.strokes for r in view.racers}[players[1].pk] == 2
    assert Drawing.objects.get(owner=players[0]).accepting is False


def test_chat_lines_reach_their_audiences_and_are_kept_for_reloads(sent):
    room, players = started(3)
    word = choose(room)
    drawer = state_of(room).turn.drawer_id
    a, b = (p for p in players if p.pk != drawer)
    sent.clear()
    actions.do_guess(player_id=a.pk, text=word + "q")  # a near miss: to everyone, and "close" to a alone
    lines = [(group, m["text"]) for group, m in sent if m.get("text", {}).get("type") == "chat"]
    assert (
        events.player_group(a.pk),
        {"type": "chat", "kind": "close", "text": f"'{word}q' is close!", "player_id": None, "name": None},
    ) in lines
    assert (
        events.room_group(room.code),
        {"type": "chat", "kind": "guess", "text": word + "q", "player_id": a.pk, "name": a.name},
    ) in lines
    actions.do_guess(player_id=a.pk, text=word)
    sent.clear()
    actions.do_guess(player_id=a.pk, text="easy one")  # a knows the word: only those who know read it
    groups = sorted(group for group, m in sent if m.get("text", {}).get("type") == "chat")
    assert groups == sorted(events.player_group(pid) for pid in (drawer, a.pk))
    state = state_of(room)
    history_b = [line.text for line in selectors.chat_history(room_id=room.pk, state=state, player_id=b.pk)]
    history_a = [line.text for line in selectors.chat_history(room_id=room.pk, state=state, player_id=a.pk)]
    assert "easy one" in history_a and "easy one" not in history_b and word not in history_b
    assert ChatLine.objects.filter(room=room).count() <= 80


def test_a_reload_shows_the_newest_chat_lines_and_old_ones_are_pruned_now_and_then():
    room, players = started(2)
    choose(room)
    drawer = state_of(room).turn.drawer_id
    guesser = next(p for p in players if p.pk != drawer)
    for i in range(3 * records.CHAT_KEPT):
        actions.do_guess(player_id=guesser.pk, text=f"zzz {i}")
    history = [line.text for line in selectors.chat_history(room_id=room.pk, state=state_of(room), player_id=drawer)]
    assert history == [f"zzz {i}" for i in range(2 * records.CHAT_KEPT, 3 * records.CHAT_KEPT)], "the newest, in order"
    kept = ChatLine.objects.filter(room=room).count()
    assert records.CHAT_KEPT <= kept < records.CHAT_KEPT + records.CHAT_PRUNE_EVERY, kept


def test_the_ai_answer_is_kept_shown_masked_and_scores(sent):
    room, players = started(2)
    word = choose(room)
    drawer = state_of(room).turn.drawer_id
    guesser = next(p for p in players if p.pk != drawer)
    sent.clear()
    actions.do_ai_answer(
        room_id=room.pk,
        turn_no=1,
        owner=drawer,
        version=5,
        guesses=[("zebra", 0.5), (word, 0.3), ("cat", 0.2)],
        n_labels=345,
    )
    ai = [m for _, m in sent if m.get("text_knowers")]
    assert len(ai) == 1 and json.loads(ai[0]["text_knowers"])["guesses"][1]["label"] == word
    masked = [g["label"] for g in ai[0]["text"]["guesses"]]
    assert word not in masked and masked[1] == rules.mask_word_in(word, word) and rules.AI_MASK_CHAR in masked[1]
    view = selectors.snapshot(room_id=room.pk, player_id=guesser.pk)
    assert [g.p for g in view.ai] == [0.5, 0.3, 0.2] and word not in [g.label for g in view.ai]
    assert [g.label for g in selectors.snapshot(room_id=room.pk, player_id=drawer).ai][1] == word
    actions.do_ai_answer(room_id=room.pk, turn_no=1, owner=drawer, version=4, guesses=[(word, 0.9)], n_labels=345)
    assert state_of(room).turn.ai_got_it_ms is None, "an older version is ignored"
    actions.do_ai_answer(room_id=room.pk, turn_no=1, owner=drawer, version=6, guesses=[(word, 0.9)], n_labels=345)
    state = state_of(room)
    assert state.turn.ai_got_it_ms is not None and state.ai_player.score > 0
    timeline = Drawing.objects.get(turn__room=room).ai_timeline
    assert [entry["guesses"][0][0] for entry in timeline] == ["zebra", word], "one entry per change of mind"


def test_timers_fire_once_and_the_room_knows_its_next_wake_up():
    room, players = started(2)
    row = Room.objects.get(pk=room.pk)
    assert row.wakeup_at is not None and row.phase == "choosing"
    later = row.wakeup_at + timedelta(milliseconds=1)
    assert actions.fire_due_timers(now=later) == 1
    assert state_of(room).phase == rules.Phase.DRAWING, "the pick timed out to an offered word"
    assert actions.fire_due_timers(now=later) == 0, "nothing more was due"


def test_a_dead_web_process_leaves_no_connected_seats_and_empty_rooms_go():
    room, (a, b) = seated(2)
    stale = timezone.now() - timedelta(seconds=rules.PRESENCE_STALE_SECONDS + 5)
    Player.objects.filter(pk=b.pk).update(last_seen=stale)
    actions.housekeeping()
    assert Player.objects.get(pk=b.pk).connections == 0
    assert not state_of(room).player(b.pk).connected and state_of(room).player(a.pk).connected
    Player.objects.filter(pk=a.pk).update(last_seen=stale)
    actions.housekeeping()
    later = timezone.now() + timedelta(seconds=rules.EMPTY_ROOM_SECONDS + 1)
    actions.housekeeping(now=later)
    assert not Room.objects.filter(pk=room.pk).exists()


def test_a_reconnecting_seat_is_connected_again_and_a_released_one_is_not_given_back():
    room, (a, b) = seated(2)
    actions.do_disconnect(player_id=b.pk)
    assert not state_of(room).player(b.pk).connected
    again = actions.do_join(code=room.code, name="B", token=b.token, address="addr1")
    assert again.pk == b.pk
    actions.do_connect(player_id=b.pk)
    assert state_of(room).player(b.pk).connected
    actions.do_disconnect(player_id=b.pk)
    actions.fire_due_timers(now=timezone.now() + timedelta(seconds=rules.SEAT_HOLD_SECONDS + 1))
    assert state_of(room).player(b.pk) is None and Player.objects.get(pk=b.pk).left
    fresh = actions.do_join(code=room.code, name="B", token=b.token, address="addr1")
    assert fresh.pk != b.pk, "a released seat is gone: the token takes a new one"


def test_words_in_play_protect_running_games_from_a_model_swap():
    room, _ = started(2)
    offered = set(state_of(room).turn.choices)
    assert offered <= selectors.words_in_play()
    word = choose(room)
    assert word in selectors.words_in_play()


def test_solo_and_race_rooms_play_through_the_actions(sent):
    solo, (player,) = started(1, mode="solo")
    word = state_of(solo).turn.word
    assert word and selectors.can_draw(state_of(solo), player.pk)
    actions.do_stroke(player_id=player.pk, points=[[1, 1, 0], [5, 5, 9]], width=10)
    actions.do_ai_answer(room_id=solo.pk, turn_no=1, owner=player.pk, version=1, guesses=[(word, 0.9)], n_labels=345)
    assert (
        state_of(solo).phase == rules.Phase.TURN_END and Drawing.objects.get(turn__room=solo).recognised_ms is not None
    )
    race, racers = started(3, mode="race")
    state = state_of(race)
    assert state.phase == rules.Phase.DRAWING and {c.owner_id for c in state.turn.canvases} == {p.pk for p in racers}
    assert Drawing.objects.filter(turn__room=race).count() == 3
    for racer in racers:
        actions.do_stroke(player_id=racer.pk, points=[[1, 1, 0], [5, 5, 9]], width=10)
    for version, racer in enumerate(racers, start=1):
        actions.do_ai_answer(
            room_id=race.pk, turn_no=1, owner=racer.pk, version=version, guesses=[(state.turn.word, 0.9)], n_labels=345
        )
    state = state_of(race)
    assert state.phase == rules.Phase.TURN_END and list(state.turn.race_order) == [p.pk for p in racers]
    assert [p.score for p in state.humans] == [rules.race_points(k) for k in (1, 2, 3)]


def test_a_room_id_used_again_after_a_deletion_never_gets_the_old_rooms_state():
    room, (a, b) = started(2)
    room_id = room.pk
    Room.objects.filter(pk=room_id).delete()
    fresh = Room(pk=room_id)  # SQLite hands out the highest id again once its row is gone
    store.insert(fresh, state_of_new_room())
    assert state_of(fresh).phase == rules.Phase.LOBBY and not state_of(fresh).humans
    joined = actions.do_join(code=fresh.code, name="Zed", address="z")
    assert [p.name for p in state_of(fresh).humans] == ["Zed"] and joined.room_id == room_id


def state_of_new_room():
    from game import machine

    return machine.new_room(mode="classic", seed="x", vocabulary=("cat",), now=0)


def test_the_next_turn_offers_the_words_of_the_model_live_when_it_starts(monkeypatch):
    room, players = started(2)
    word = choose(room)
    guesser = next(p for p in players if p.pk != state_of(room).turn.drawer_id)
    actions.do_guess(player_id=guesser.pk, text=word)
    deadline = state_of(room).deadline
    monkeypatch.setattr(actions, "_vocabulary", lambda: ("apple", "banana", "cherry", "damson"))
    assert actions.fire_due_timers(now=datetime.fromtimestamp(deadline / 1000 + 1, tz=UTC)) == 1
    state = state_of(room)
    assert state.phase == rules.Phase.CHOOSING and set(state.turn.choices) <= {"apple", "banana", "cherry", "damson"}
