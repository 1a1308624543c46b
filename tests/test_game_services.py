"""Game services without sockets: turns, timers, leaving, the AI as a player."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from game import rules, selectors, services
from game.errors import GameError
from game.models import Guess, Phase, Player, Room, Turn

pytestmark = pytest.mark.django_db


def seated(n: int, **room_kwargs) -> tuple[Room, list[Player]]:
    room = services.create_room()
    if room_kwargs:
        Room.objects.filter(pk=room.pk).update(**room_kwargs)
    players = []
    for i in range(n):
        p = services.join_room(code=room.code, name=f"P{i}")
        services.connect(player_id=p.pk)
        players.append(p)
    return Room.objects.get(pk=room.pk), players


def started(n: int = 3, **kw) -> tuple[Room, list[Player]]:
    room, players = seated(n, **kw)
    services.start_game(player_id=players[0].pk)
    return Room.objects.get(pk=room.pk), players


def choose(room: Room) -> Turn:
    turn = Room.objects.get(pk=room.pk).current_turn
    services.choose_word(player_id=turn.drawer_id, word=turn.choices[0])
    return Turn.objects.get(pk=turn.pk)


def test_first_human_hosts_and_the_ai_sits_in_every_room():
    room, players = seated(2)
    assert room.host_id == players[0].pk
    ai = room.players.get(is_ai=True)
    view = selectors.snapshot(room_id=room.pk, player_id=players[1].pk)
    assert [p.is_ai for p in view.players].count(True) == 1 and ai.name == "AI"


def test_only_the_host_starts_and_needs_two_connected_players():
    room, (a,) = seated(1)
    with pytest.raises(GameError) as err:
        services.start_game(player_id=a.pk)
    assert err.value.code == "too_few_players"
    b = services.join_room(code=room.code, name="B")
    services.connect(player_id=b.pk)
    with pytest.raises(GameError) as err:
        services.start_game(player_id=b.pk)
    assert err.value.code == "not_host"
    services.start_game(player_id=a.pk)
    assert Room.objects.get(pk=room.pk).phase == Phase.CHOOSING


def test_settings_ranges_and_full_rooms():
    room, (a, b) = seated(2)
    services.update_settings(player_id=a.pk, rounds=5, draw_seconds=30, max_players=2)
    room.refresh_from_db()
    assert (room.rounds, room.draw_seconds, room.max_players) == (5, 30, 2)
    with pytest.raises(GameError):
        services.update_settings(player_id=a.pk, rounds=11)
    with pytest.raises(GameError) as err:
        services.join_room(code=room.code, name="C")
    assert err.value.code == "room_full"


def test_word_pick_times_out_to_a_random_offered_word_and_fires_once():
    room, players = started(2)
    turn = room.current_turn
    later = timezone.now() + timedelta(seconds=rules.CHOOSE_SECONDS + 1)
    assert services.fire_due_timers(now=later) == 1
    assert services.fire_due_timers(now=later) == 0, "a timer fires exactly once"
    turn.refresh_from_db()
    room.refresh_from_db()
    assert room.phase == Phase.DRAWING and turn.word in turn.choices


def test_every_player_draws_once_per_round_then_the_game_ends():
    room, players = started(3, rounds=1)
    drawers = []
    for _ in range(3):
        turn = choose(room)
        drawers.append(turn.drawer_id)
        end = timezone.now() + timedelta(seconds=room.draw_seconds + 1)
        services.fire_due_timers(now=end)  # time is up
        services.fire_due_timers(now=end + timedelta(seconds=rules.TURN_END_SECONDS + 1))
        room.refresh_from_db()
    assert sorted(drawers) == sorted(p.pk for p in players)
    assert room.phase == Phase.GAME_OVER
    view = selectors.snapshot(room_id=room.pk, player_id=players[0].pk)
    words = list(Turn.objects.filter(room=room, game_no=room.game_no).values_list("word", flat=True))
    assert view.gallery_url == f"/rooms/{room.code}/games/{room.game_no}/gallery.json"
    assert [g.word for g in selectors.gallery(room=room, game_no=room.game_no)] == words and all(words)
    services.play_again(player_id=players[0].pk)
    assert Room.objects.get(pk=room.pk).phase == Phase.LOBBY


def test_hints_reveal_letters_as_time_runs_down():
    room, players = started(2)
    turn = choose(room)
    room.refresh_from_db()
    n = rules.hint_count(turn.word)
    for _ in range(n):
        room.refresh_from_db()
        services.fire_due_timers(now=room.hint_at + timedelta(milliseconds=1))
    turn.refresh_from_db()
    assert len(set(turn.revealed)) == n
    guesser = next(p for p in players if p.pk != turn.drawer_id)
    view = selectors.snapshot(room_id=room.pk, player_id=guesser.pk)
    assert view.word is None and view.word_mask.count("_") == len(rules.letter_positions(turn.word)) - n


def test_guessing_scores_by_order_and_everyone_guessing_ends_the_turn():
    room, players = started(3)
    turn = choose(room)
    guessers = [p for p in players if p.pk != turn.drawer_id]
    assert services.submit_guess(player_id=guessers[0].pk, text="zzzz") == "chat"
    assert services.submit_guess(player_id=guessers[0].pk, text=turn.word) == "correct"
    assert services.submit_guess(player_id=guessers[0].pk, text="talking among winners") == "hidden"
    with pytest.raises(GameError):
        services.submit_guess(player_id=turn.drawer_id, text=turn.word)
    assert Room.objects.get(pk=room.pk).phase == Phase.DRAWING
    services.submit_guess(player_id=guessers[1].pk, text=turn.word)
    room.refresh_from_db()
    assert room.phase == Phase.TURN_END
    first, second = Guess.objects.filter(turn=turn).order_by("order")
    assert first.points > second.points
    drawer = Player.objects.get(pk=turn.drawer_id)
    assert drawer.score == rules.drawer_points(2, False)


def test_the_ai_scores_when_it_names_the_word_first_and_the_drawer_gets_a_bonus():
    room, players = started(2)
    turn = choose(room)
    services.record_ai_guess(turn_id=turn.pk, version=5, guesses=[("zzz", 0.9), (turn.word, 0.05), ("y", 0.01)])
    services.record_ai_guess(turn_id=turn.pk, version=4, guesses=[(turn.word, 0.9)])  # stale: ignored
    turn.refresh_from_db()
    assert turn.ai_guessed_ms is None and turn.ai_version == 5
    services.record_ai_guess(turn_id=turn.pk, version=6, guesses=[(turn.word, 0.8), ("x", 0.1), ("y", 0.05)])
    turn.refresh_from_db()
    ai = Player.objects.get(room=room, is_ai=True)
    assert turn.ai_guessed_ms is not None and ai.score > 0
    assert [e["guesses"][0][0] for e in turn.ai_timeline] == ["zzz", turn.word]
    guesser = next(p for p in players if p.pk != turn.drawer_id)
    services.submit_guess(player_id=guesser.pk, text=turn.word)  # ends the turn: everyone guessed
    drawer = Player.objects.get(pk=turn.drawer_id)
    assert drawer.score == rules.drawer_points(1, True)


def test_drawer_leaving_ends_the_turn_and_the_game_goes_on():
    room, players = started(3)
    turn = choose(room)
    services.leave_room(player_id=turn.drawer_id)
    room.refresh_from_db()
    assert room.phase == Phase.TURN_END
    services.fire_due_timers(now=timezone.now() + timedelta(seconds=rules.TURN_END_SECONDS + 1))
    room.refresh_from_db()
    assert room.phase == Phase.CHOOSING and room.current_turn.drawer_id != turn.drawer_id


def test_host_leaving_passes_the_host_on():
    room, (a, b, c) = seated(3)
    services.leave_room(player_id=a.pk)
    assert Room.objects.get(pk=room.pk).host_id == b.pk


def test_disconnected_drawer_gets_a_grace_period_then_the_turn_ends():
    room, players = started(3)
    turn = choose(room)
    services.disconnect(player_id=turn.drawer_id)
    services.housekeeping(now=timezone.now() + timedelta(seconds=2))
    assert Room.objects.get(pk=room.pk).phase == Phase.DRAWING
    services.housekeeping(now=timezone.now() + timedelta(seconds=rules.DRAWER_GRACE_SECONDS + 1))
    assert Room.objects.get(pk=room.pk).phase == Phase.TURN_END


def test_seat_held_for_a_minute_then_released_and_empty_rooms_are_removed():
    room, (a, b) = seated(2)
    services.disconnect(player_id=b.pk)
    services.housekeeping(now=timezone.now() + timedelta(seconds=30))
    assert services.join_room(code=room.code, name="B", token=b.token).pk == b.pk
    services.housekeeping(now=timezone.now() + timedelta(seconds=rules.SEAT_HOLD_SECONDS + 1))
    assert Player.objects.get(pk=b.pk).left
    services.disconnect(player_id=a.pk)
    services.housekeeping(now=timezone.now() + timedelta(seconds=rules.EMPTY_ROOM_SECONDS + rules.SEAT_HOLD_SECONDS + 2))
    assert not Room.objects.filter(pk=room.pk).exists()
    assert Turn.objects.filter(room__isnull=True).count() == 0  # nothing was drawn here


def test_finished_drawings_are_kept_in_the_raw_format_with_their_word():
    room, players = started(2)
    turn = choose(room)
    services.add_stroke(player_id=turn.drawer_id, index=0, points=[[10, 20, 0], [30.55, 40, 16]], width=10)
    with pytest.raises(GameError):
        services.add_stroke(player_id=players[1].pk if players[1].pk != turn.drawer_id else players[0].pk,
                            index=1, points=[[1, 1, 0]], width=10)
    turn.refresh_from_db()
    assert turn.strokes == [[[10, round(30.55, 1)], [20, 40], [0, 16]]]
    services.undo_stroke(player_id=turn.drawer_id)
    turn.refresh_from_db()
    assert turn.strokes == []


def test_strokes_are_appended_in_order_with_their_widths_up_to_the_limit(monkeypatch):
    from game import protocol

    room, players = started(2)
    turn = choose(room)
    monkeypatch.setattr(protocol, "MAX_STROKES_PER_DRAWING", 3)
    for i, width in enumerate((4, 14, 28)):
        services.add_stroke(player_id=turn.drawer_id, index=i, points=[[i, i, 0], [i + 1, i + 2, 8]], width=width)
    with pytest.raises(GameError) as full:
        services.add_stroke(player_id=turn.drawer_id, index=3, points=[[9, 9, 0]], width=4)
    assert full.value.code == "drawing_full"
    turn.refresh_from_db()
    assert turn.strokes == [[[i, i + 1], [i, i + 2], [0, 8]] for i in range(3)]
    assert turn.stroke_widths == [4, 14, 28]
    assert (turn.canvas_width, turn.canvas_height) == (protocol.CANVAS_WIDTH, protocol.CANVAS_HEIGHT)
    services.undo_stroke(player_id=turn.drawer_id)
    turn.refresh_from_db()
    assert turn.strokes == [[[i, i + 1], [i, i + 2], [0, 8]] for i in range(2)] and turn.stroke_widths == [4, 14]
    services.clear_canvas(player_id=turn.drawer_id)
    services.undo_stroke(player_id=turn.drawer_id)  # nothing left to undo: stays empty
    turn.refresh_from_db()
    assert turn.strokes == [] and turn.stroke_widths == []
    services.add_stroke(player_id=turn.drawer_id, index=0, points=[[1, 2, 0]], width=4)
    turn.refresh_from_db()
    assert turn.strokes == [[[1], [2], [0]]] and turn.stroke_widths == [4]
    guesser = next(p for p in players if p.pk != turn.drawer_id)
    for change in (services.undo_stroke, services.clear_canvas):
        with pytest.raises(GameError) as refused:
            change(player_id=guesser.pk)
        assert refused.value.code == "not_drawer"


def test_a_drawing_holds_at_most_its_points_and_undo_gives_them_back(monkeypatch):
    from game import protocol

    room, players = started(2)
    turn = choose(room)
    monkeypatch.setattr(protocol, "MAX_POINTS_PER_DRAWING", 5)
    services.add_stroke(player_id=turn.drawer_id, index=0, points=[[i, i, 0] for i in range(3)], width=4)
    with pytest.raises(GameError) as full:
        services.add_stroke(player_id=turn.drawer_id, index=1, points=[[i, i, 0] for i in range(3)], width=4)
    assert full.value.code == "drawing_full"
    services.add_stroke(player_id=turn.drawer_id, index=1, points=[[i, i, 0] for i in range(2)], width=4)
    services.undo_stroke(player_id=turn.drawer_id)
    services.undo_stroke(player_id=turn.drawer_id)
    services.undo_stroke(player_id=turn.drawer_id)  # an empty drawing stays at 0 points
    turn.refresh_from_db()
    assert turn.points_count == 0 and turn.strokes == []
    services.add_stroke(player_id=turn.drawer_id, index=0, points=[[i, i, 0] for i in range(5)], width=4)
    turn.refresh_from_db()
    assert turn.points_count == 5


def test_the_canvas_and_chat_go_to_the_right_players(monkeypatch):
    import json

    from game import events

    sent = []
    monkeypatch.setattr(events, "after_commit", lambda fn: fn())  # this test's transaction never commits
    monkeypatch.setattr(events, "_group_send", lambda group, message: sent.append(
        (group, json.loads(message["text"])) if "text" in message else (group, message)))
    room, players = started(3)
    turn = choose(room)
    a, b = (p for p in players if p.pk != turn.drawer_id)
    services.add_stroke(player_id=turn.drawer_id, index=0, points=[[1, 2, 0], [3, 4, 8]], width=14)
    services.add_stroke(player_id=turn.drawer_id, index=1, points=[[5, 6, 0]], width=4)
    sent.clear()
    services.undo_stroke(player_id=turn.drawer_id)
    assert sent == [(events.room_group(room.code), {"type": "canvas", "turn_id": turn.pk, "start": 1, "total": 1,
                                                    "strokes": []})]
    sent.clear()
    near = turn.word + "q"  # one edit away
    assert services.submit_guess(player_id=a.pk, text=near) == "close"
    assert sent == [(events.player_group(a.pk), {"type": "chat", "kind": "close", "text": f"'{near}' is close!"}),
                    (events.room_group(room.code), {"type": "chat", "kind": "guess", "text": near,
                                                    "player_id": a.pk, "name": a.name})]
    assert services.submit_guess(player_id=a.pk, text=turn.word) == "correct"
    sent.clear()
    assert services.submit_guess(player_id=a.pk, text="  easy   one ") == "hidden"
    assert sorted(group for group, _ in sent) == sorted(events.player_group(pid) for pid in (turn.drawer_id, a.pk))
    assert {m["text"] for _, m in sent} == {"easy one"}
    sent.clear()
    assert services.submit_guess(player_id=b.pk, text="no idea") == "chat"
    assert sent == [(events.room_group(room.code), {"type": "chat", "kind": "guess", "text": "no idea",
                                                    "player_id": b.pk, "name": b.name})]
    with pytest.raises(GameError) as err:
        services.submit_guess(player_id=turn.drawer_id, text="hint")
    assert err.value.code == "drawer_chat"
    with pytest.raises(GameError) as err:
        services.submit_guess(player_id=10**9, text="hello")
    assert err.value.code == "not_joined"


def test_chat_in_the_lobby_reaches_the_room():
    room, (a, b) = seated(2)
    assert services.submit_guess(player_id=b.pk, text="ready?") == "chat"


def test_words_in_play_protect_running_games_from_a_model_swap():
    room, players = started(2)
    turn = Room.objects.get(pk=room.pk).current_turn
    assert selectors.words_in_play() == set(turn.choices)
    turn = choose(room)
    assert selectors.words_in_play() == {turn.word}


def test_connections_left_behind_by_a_dead_web_process_expire():
    room, (a, b) = seated(2)
    services.connect(player_id=b.pk)  # a second socket, on a process that then dies without a goodbye
    services.disconnect(player_id=b.pk)
    assert Player.objects.get(pk=b.pk).connections == 1
    services.touch(player_ids=[a.pk])
    later = timezone.now() + timedelta(seconds=rules.PRESENCE_STALE_SECONDS + 1)
    Player.objects.filter(pk=a.pk).update(last_seen=later)  # a's socket keeps beating
    services.housekeeping(now=later)
    assert Player.objects.get(pk=b.pk).connections == 0 and Player.objects.get(pk=b.pk).disconnected_at is not None
    assert Player.objects.get(pk=a.pk).connections == 1


def test_a_majority_of_the_other_players_votes_a_player_out():
    assert [rules.votes_needed(n) for n in (1, 2, 3, 4)] == [1, 2, 2, 3]
    room, (a, b, c, d) = seated(4)
    assert services.vote_kick(player_id=b.pk, target_id=d.pk) is False
    assert services.vote_kick(player_id=b.pk, target_id=d.pk) is False  # the same voter twice counts once
    view = selectors.snapshot(room_id=room.pk, player_id=a.pk)
    assert next(p.kick_votes for p in view.players if p.id == d.pk) == 1 and view.kick_votes_needed == 2
    with pytest.raises(GameError):
        services.vote_kick(player_id=d.pk, target_id=d.pk)
    assert services.vote_kick(player_id=c.pk, target_id=d.pk) is True
    assert Player.objects.get(pk=d.pk).left and str(d.pk) not in Room.objects.get(pk=room.pk).kick_votes
