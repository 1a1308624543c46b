"""Game services: every state change is one function that writes, then broadcasts.

Every change of a room's state locks the room row first (`select_for_update`;
SQLite's IMMEDIATE transactions serialise writers the same way), so two web
processes, a timer and a player can never both move the same room on: each
transition happens exactly once, whoever triggers it. The drawing's own
writes (a stroke, undo, clear) are single statements that check the turn
themselves (game.hot_queries).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from game import events, hot_queries, rules
from game.errors import GameError
from game.models import Guess, Phase, Player, Room, Turn

log = logging.getLogger(__name__)

AI_NAME = "AI"
MAX_CODE_TRIES = 20


def _now() -> datetime:
    return timezone.now()


def _ms_since(start: datetime | None, now: datetime) -> int:
    return int((now - start).total_seconds() * 1000) if start else 0


def _lock_room(room_id: int) -> Room:
    try:
        return Room.objects.select_for_update().get(pk=room_id)
    except Room.DoesNotExist:
        raise GameError("this room no longer exists", code="no_room") from None


def _turn_of(room: Room) -> Turn | None:
    """The room's current turn without its strokes: most moves never read the drawing, and it is the
    largest thing stored (saving such a turn writes only the fields that were loaded)."""
    if room.current_turn_id is None:
        return None
    return Turn.objects.defer("strokes", "stroke_widths").get(pk=room.current_turn_id)


def _player(player_id: int) -> Player:
    try:
        return Player.objects.get(pk=player_id)
    except Player.DoesNotExist:
        raise GameError("you are not in this room", code="not_joined") from None


def _bump(room: Room, **fields) -> None:
    """Save the room with a new state version and tell everyone."""
    room.state_version += 1
    for k, v in fields.items():
        setattr(room, k, v)
    room.save()
    events.room_changed(room.code, version=room.state_version)


def _system(room: Room, text: str) -> None:
    events.to_room(room.code, {"type": "chat", "kind": "system", "text": text})


def _labels() -> list[str]:
    from inference.selectors import words_for_new_turns

    return words_for_new_turns()


# --- rooms and seats -------------------------------------------------------------


def create_room(*, is_public: bool = False) -> Room:
    for _ in range(MAX_CODE_TRIES):
        with transaction.atomic():
            room = Room(is_public=is_public, empty_since=_now())
            if Room.objects.filter(code=room.code).exists():
                continue
            room.save()
            Player.objects.create(room=room, name=AI_NAME, is_ai=True)
            return room
    raise GameError("could not find a free room code, try again", code="busy")


def join_room(*, code: str, name: str, token: str | None = None) -> Player:
    """Take a seat (or get yours back with your token); the first human becomes host."""
    room = Room.objects.filter(code=code.upper()).first()
    if room is None:
        raise GameError("no room with that code", code="no_room")
    with transaction.atomic():
        room = _lock_room(room.pk)
        if token:
            mine = room.players.filter(token=token, is_ai=False, left=False).first()
            if mine is not None:
                return mine
        seated = room.players.filter(is_ai=False, left=False).count()
        if seated >= room.max_players:
            raise GameError("this room is full", code="room_full")
        player = Player.objects.create(room=room, name=name)
        changes = {"empty_since": None}
        if room.host_id is None:
            changes["host"] = player
        if room.phase not in (Phase.LOBBY, Phase.GAME_OVER):
            changes["round_order"] = rules.extend_order(room.round_order, [player.pk])
        _bump(room, **changes)
        _system(room, f"{name} joined")
    return player


def connect(*, player_id: int) -> Player:
    with transaction.atomic():
        player = _player(player_id)
        room = _lock_room(player.room_id)
        if player.left:
            raise GameError("you left this room; join again", code="not_joined")
        Player.objects.filter(pk=player.pk).update(
            connections=F("connections") + 1, disconnected_at=None, last_seen=_now()
        )
        player.refresh_from_db()
        _bump(room, empty_since=None)
    return player


def touch(*, player_ids: list[int]) -> None:
    """A web process's heartbeat for the seats it holds open (no broadcast: nothing visible changed)."""
    Player.objects.filter(pk__in=player_ids, connections__gt=0).update(last_seen=_now())


def disconnect(*, player_id: int) -> None:
    with transaction.atomic():
        player = Player.objects.filter(pk=player_id).first()
        if player is None:
            return
        room = _lock_room(player.room_id)
        connections = max(0, player.connections - 1)
        Player.objects.filter(pk=player.pk).update(
            connections=connections, disconnected_at=_now() if connections == 0 else None
        )
        if connections == 0 and not room.players.filter(is_ai=False, left=False, connections__gt=0).exists():
            room.empty_since = _now()
        _bump(room)


def leave_room(*, player_id: int) -> None:
    with transaction.atomic():
        player = _player(player_id)
        room = _lock_room(player.room_id)
        _remove_player(room, player, _now(), reason=f"{player.name} left")


def kick_player(*, player_id: int, target_id: int) -> None:
    with transaction.atomic():
        player = _player(player_id)
        room = _lock_room(player.room_id)
        if room.host_id != player.pk:
            raise GameError("only the host can kick", code="not_host")
        target = room.players.filter(pk=target_id, is_ai=False, left=False).first()
        if target is None or target.pk == player.pk:
            raise GameError("no such player to kick", code="bad_target")
        _remove_player(room, target, _now(), reason=f"{target.name} was kicked")
        events.kick(target.pk)


def vote_kick(*, player_id: int, target_id: int) -> bool:
    """One player's vote to remove another; a strict majority of the other connected players removes them."""
    with transaction.atomic():
        voter = _player(player_id)
        room = _lock_room(voter.room_id)
        if voter.left or voter.is_ai:
            raise GameError("you are not in this room", code="not_joined")
        target = room.players.filter(pk=target_id, is_ai=False, left=False).first()
        if target is None or target.pk == voter.pk:
            raise GameError("no such player to vote against", code="bad_target")
        eligible = set(_connected_humans(room).exclude(pk=target.pk).values_list("pk", flat=True))
        votes = {int(v) for v in room.kick_votes.get(str(target.pk), [])} & eligible
        votes.add(voter.pk)
        needed = rules.votes_needed(len(eligible))
        if len(votes) >= needed:
            _remove_player(room, target, _now(), reason=f"{target.name} was voted out")  # clears their votes too
            events.kick(target.pk)
            return True
        room.kick_votes = {**room.kick_votes, str(target.pk): sorted(votes)}
        _system(room, f"{voter.name} voted to remove {target.name} ({len(votes)}/{needed})")
        _bump(room)
        return False


def _remove_player(room: Room, player: Player, now: datetime, reason: str) -> None:
    Player.objects.filter(pk=player.pk).update(left=True, connections=0)
    changes: dict = {}
    if str(player.pk) in room.kick_votes:
        changes["kick_votes"] = {k: v for k, v in room.kick_votes.items() if k != str(player.pk)}
    if room.host_id == player.pk:
        heir = room.players.filter(is_ai=False, left=False).exclude(pk=player.pk).order_by("-connections", "joined_at").first()
        changes["host"] = heir
        if heir is not None:
            _system(room, f"{heir.name} is now the host")
    _system(room, reason)
    turn = _turn_of(room)
    if turn is not None and turn.drawer_id == player.pk and room.phase in (Phase.CHOOSING, Phase.DRAWING):
        _end_turn(room, turn, now, why="the drawer left")
    elif room.phase in (Phase.CHOOSING, Phase.DRAWING) and _humans(room).count() < rules.MIN_PLAYERS:
        if turn is not None and room.phase == Phase.DRAWING:
            _end_turn(room, turn, now, why="not enough players")
        _finish_game(room, now)
    elif turn is not None and room.phase == Phase.DRAWING:
        _maybe_everyone_guessed(room, turn, now)
    _bump(room, **changes)


def _humans(room: Room):
    return room.players.filter(is_ai=False, left=False)


def _connected_humans(room: Room):
    return _humans(room).filter(connections__gt=0)


# --- settings and game flow ------------------------------------------------------


def _host_room(player_id: int, action: str, phases: tuple[str, ...], wrong_phase: str) -> Room:
    """The locked room of a host about to `action`, in one of `phases` (call inside a transaction)."""
    player = _player(player_id)
    room = _lock_room(player.room_id)
    if room.host_id != player.pk:
        raise GameError(f"only the host can {action}", code="not_host")
    if room.phase not in phases:
        raise GameError(wrong_phase, code="wrong_phase")
    return room


BETWEEN_GAMES = (Phase.LOBBY, Phase.GAME_OVER)


def update_settings(*, player_id: int, **changes) -> None:
    with transaction.atomic():
        room = _host_room(player_id, "change settings", BETWEEN_GAMES, "settings can change only between games")
        fields = {k: v for k, v in changes.items() if v is not None}
        for key, value in fields.items():
            if key in rules.SETTING_RANGES:
                lo, hi = rules.SETTING_RANGES[key]
                if not lo <= value <= hi:
                    raise GameError(f"{key} must be between {lo} and {hi}", code="bad_setting")
        if "max_players" in fields and fields["max_players"] < _humans(room).count():
            raise GameError("more players are already seated than that", code="bad_setting")
        _bump(room, **fields)


def start_game(*, player_id: int) -> None:
    with transaction.atomic():
        room = _host_room(player_id, "start the game", BETWEEN_GAMES, "the game is already running")
        if _connected_humans(room).count() < rules.MIN_PLAYERS:
            raise GameError(f"at least {rules.MIN_PLAYERS} players are needed to start", code="too_few_players")
        room.players.update(score=0)
        room.game_no += 1
        room.round_no = 0
        _system(room, "The game begins!")
        _begin_round(room, _now())
        _bump(room)


def play_again(*, player_id: int) -> None:
    with transaction.atomic():
        room = _host_room(player_id, "restart", (Phase.GAME_OVER,), "the game is not over yet")
        _bump(room, phase=Phase.LOBBY, current_turn=None, deadline=None, hint_at=None, round_no=0)


def _begin_round(room: Room, now: datetime) -> None:
    room.round_no += 1
    room.round_order = list(_connected_humans(room).values_list("pk", flat=True))
    room.drawn_this_round = []
    _begin_turn(room, now)


def _begin_turn(room: Room, now: datetime) -> None:
    present = _connected_humans(room).values_list("pk", flat=True)
    if len(present) < rules.MIN_PLAYERS:
        _finish_game(room, now)
        return
    drawer_id = rules.next_drawer(room.round_order, room.drawn_this_round, present)
    if drawer_id is None:
        if room.round_no >= room.rounds:
            _finish_game(room, now)
            return
        _begin_round(room, now)
        return
    drawer = Player.objects.get(pk=drawer_id)
    used = Turn.objects.filter(room=room, game_no=room.game_no).exclude(word="").values_list("word", flat=True)
    choices = rules.pick_choices(_labels(), room.word_choices, used, random.Random())
    turn = Turn.objects.create(
        room=room, game_no=room.game_no, round_no=room.round_no, drawer=drawer, drawer_name=drawer.name, choices=choices
    )
    room.drawn_this_round = [*room.drawn_this_round, drawer_id]
    room.current_turn = turn
    room.phase = Phase.CHOOSING
    room.deadline = now + timedelta(seconds=rules.CHOOSE_SECONDS)
    room.hint_at = None
    _system(room, f"{drawer.name} is choosing a word")


def choose_word(*, player_id: int, word: str) -> None:
    with transaction.atomic():
        player = _player(player_id)
        room = _lock_room(player.room_id)
        turn = _turn_of(room)
        if room.phase != Phase.CHOOSING or turn is None or turn.drawer_id != player.pk:
            raise GameError("it is not your turn to choose", code="not_drawer")
        if word not in turn.choices:
            raise GameError("pick one of the offered words", code="bad_word")
        _start_drawing(room, turn, word, _now())
        _bump(room)


def _start_drawing(room: Room, turn: Turn, word: str, now: datetime) -> None:
    from inference.live import live_model

    turn.word = word
    turn.started_at = now
    turn.model_version_id = live_model.version_id
    turn.save()
    room.phase = Phase.DRAWING
    room.deadline = now + timedelta(seconds=room.draw_seconds)
    times = rules.hint_times(word, room.draw_seconds)
    room.hint_at = now + timedelta(seconds=times[0]) if times else None
    _system(room, f"{turn.drawer_name} is drawing now!")


def _end_turn(room: Room, turn: Turn, now: datetime, why: str) -> None:
    turn.ended_at = now
    turn.save()
    humans = Guess.objects.filter(turn=turn, player__is_ai=False).count()
    if turn.drawer_id and turn.word:
        Player.objects.filter(pk=turn.drawer_id).update(
            score=F("score") + rules.drawer_points(humans, turn.ai_guessed_ms is not None)
        )
    room.phase = Phase.TURN_END
    room.deadline = now + timedelta(seconds=rules.TURN_END_SECONDS)
    room.hint_at = None
    if turn.word:
        _system(room, f"The word was '{turn.word}' ({why})")
    else:
        _system(room, f"Turn skipped ({why})")


def _finish_game(room: Room, now: datetime) -> None:
    room.phase = Phase.GAME_OVER
    room.deadline = None
    room.hint_at = None
    _system(room, "Game over!")


# --- drawing -----------------------------------------------------------------------


NOT_DRAWING = "only the drawer can draw, and only while drawing"


def add_stroke(*, player_id: int, index: int, points: list[list[float]], width: int) -> None:
    """Store a finished stroke in the Quick, Draw! raw format and show it to everyone.

    The busiest write in the game: one statement that checks the player is
    drawing now and appends the stroke to the stored drawing (game.hot_queries).
    The drawing's writes are one statement each, atomic by themselves: with no
    transaction around them they are one round trip to PostgreSQL, not three.
    """
    from game.protocol import CANVAS_HEIGHT, CANVAS_WIDTH, MAX_STROKES_PER_DRAWING

    stroke = [[round(p[0], 1) for p in points], [round(p[1], 1) for p in points], [int(p[2]) for p in points]]
    stored = hot_queries.append_stroke(player_id=player_id, stroke=stroke, width=width,
                                       canvas=(CANVAS_WIDTH, CANVAS_HEIGHT), limit=MAX_STROKES_PER_DRAWING)
    if stored is None:
        if not hot_queries.drawing_now(player_id=player_id):
            raise GameError(NOT_DRAWING, code="not_drawer")
        raise GameError("this drawing has reached its stroke limit", code="too_many_strokes")
    turn_id, code, count = stored
    events.to_room(code, {"type": "stroke", "turn_id": turn_id, "stroke": count - 1, "points": points,
                          "width": width})


def undo_stroke(*, player_id: int) -> None:
    stored = hot_queries.undo_stroke(player_id=player_id)
    if stored is None:
        raise GameError(NOT_DRAWING, code="not_drawer")
    turn_id, code, strokes, widths = stored
    _send_canvas(code, turn_id, strokes, widths)


def clear_canvas(*, player_id: int) -> None:
    stored = hot_queries.clear_drawing(player_id=player_id)
    if stored is None:
        raise GameError(NOT_DRAWING, code="not_drawer")
    turn_id, code = stored
    _send_canvas(code, turn_id, [], [])


def _send_canvas(code: str, turn_id: int, strokes: list, widths: list) -> None:
    from game.selectors import stroke_views

    events.to_room(code, {"type": "canvas", "turn_id": turn_id,
                          "strokes": [s.model_dump() for s in stroke_views(strokes, widths)]})


# --- guessing ------------------------------------------------------------------------


def submit_guess(*, player_id: int, text: str) -> str:
    """Chat and guess in one: returns "correct", "close", "chat" or "hidden".

    Most messages are chat: those are read without a lock and write nothing.
    Only the word itself takes the room's lock, and is judged again under it.
    """
    text = " ".join(text.split())
    if not text:
        raise GameError("say something", code="empty")
    seat = hot_queries.seat(player_id=player_id)
    if seat is None:
        raise GameError("you are not in this room", code="not_joined")
    name, code, turn_id, drawer_id, word = seat
    if turn_id is not None and drawer_id == player_id:
        raise GameError("the drawer cannot chat while drawing", code="drawer_chat")
    if turn_id is not None and rules.is_correct(text, word):
        with transaction.atomic():
            return _judge_guess(player_id, text)
    return _chat(player_id, name, code, turn_id, drawer_id, word, text)


def _judge_guess(player_id: int, text: str) -> str:
    """The word, said by a guesser: scored once, in order, under the room's lock."""
    player = _player(player_id)
    room = _lock_room(player.room_id)
    turn = _turn_of(room) if room.phase == Phase.DRAWING else None
    if turn is None or turn.drawer_id == player.pk or not rules.is_correct(text, turn.word) or (
        Guess.objects.filter(turn=turn, player=player).exists()
    ):
        # The turn moved on while this was on its way, or this player has the word already.
        return _chat(player.pk, player.name, room.code, turn and turn.pk, turn and turn.drawer_id,
                     turn.word if turn else "", text)
    now = _now()
    order = Guess.objects.filter(turn=turn).exclude(player__is_ai=True).count() + 1
    elapsed = (now - turn.started_at).total_seconds()
    points = rules.guesser_points(elapsed, room.draw_seconds, order)
    Guess.objects.create(turn=turn, player=player, order=order, ms=int(elapsed * 1000), points=points)
    Player.objects.filter(pk=player.pk).update(score=F("score") + points)
    events.to_room(room.code, {"type": "chat", "kind": "correct", "text": f"{player.name} guessed the word!",
                               "player_id": player.pk, "name": player.name})
    _maybe_everyone_guessed(room, turn, now)
    _bump(room)
    return "correct"


def _chat(player_id: int, name: str, code: str, turn_id: int | None, drawer_id: int | None, word: str,
          text: str) -> str:
    """A message that is not a new correct guess; the turn is the one being drawn, if any."""
    chat = {"type": "chat", "kind": "guess", "text": text, "player_id": player_id, "name": name}
    if turn_id is not None:
        knowers = [drawer_id, *hot_queries.guessed(turn_id=turn_id)]
        if player_id in knowers:
            # Those who know the word talk only among themselves (and the drawer).
            for pid in knowers:
                if pid:
                    events.to_player(pid, chat)
            return "hidden"
    close = turn_id is not None and rules.is_close(text, word)
    if close:
        events.to_player(player_id, {"type": "chat", "kind": "close", "text": f"'{text}' is close!"})
    events.to_room(code, chat)
    return "close" if close else "chat"


def _maybe_everyone_guessed(room: Room, turn: Turn, now: datetime) -> None:
    guessers = _connected_humans(room).exclude(pk=turn.drawer_id).values_list("pk", flat=True)
    guessed = Guess.objects.filter(turn=turn).values_list("player_id", flat=True)
    if rules.everyone_guessed(guessers, guessed):
        _end_turn(room, turn, now, why="everyone guessed it")


# --- the AI --------------------------------------------------------------------------------


def record_ai_guess(*, turn_id: int, version: int, guesses: list[tuple[str, float]], n_labels: int | None = None) -> None:
    """Store an AI top-3 for a drawing (timeline, latest); the AI scores when it names the word first.

    The top-3 itself reaches the room through game.ai, without waiting for this.
    Several times a second per room, so its statements are written once (game.hot_queries).
    """
    with transaction.atomic():
        turn = hot_queries.lock_turn_for_ai(turn_id=turn_id, version=version)
        if turn is None:
            return  # a stale answer: the turn moved on, or a newer version was recorded already
        now = _now()
        ms = _ms_since(turn.started_at, now)
        top = [[label, round(p, 4)] for label, p in guesses]
        previous_top = turn.ai_latest[0][0] if turn.ai_latest else None
        changed = bool(top) and top[0][0] != previous_top
        guessed_ms = None
        already = turn.ai_guessed_ms is not None
        # Who guessed is read only when the AI's answer would score without them.
        if top and rules.ai_scores(top[0][0], top[0][1], turn.word, 0, already, n_labels):
            humans = Guess.objects.filter(turn_id=turn.pk, player__is_ai=False).count()
            if rules.ai_scores(top[0][0], top[0][1], turn.word, humans, already, n_labels):
                guessed_ms = ms
        hot_queries.save_ai_answer(turn_id=turn.pk, version=version, latest=top, guessed_ms=guessed_ms,
                                   timeline_entry={"ms": ms, "guesses": top} if changed else None)
        if guessed_ms is not None:
            _ai_scores(_lock_room(turn.room_id), turn, ms)


def _ai_scores(room: Room, turn: Turn, ms: int) -> None:
    ai = room.players.filter(is_ai=True).first()
    if ai is not None:
        points = rules.guesser_points(ms / 1000, room.draw_seconds, 1)
        Guess.objects.create(turn=turn, player=ai, order=0, ms=ms, points=points)
        Player.objects.filter(pk=ai.pk).update(score=F("score") + points)
    events.to_room(room.code, {"type": "chat", "kind": "ai", "text": "The AI recognised the drawing!"})
    _bump(room)


# --- timers ---------------------------------------------------------------------------------


def fire_due_timers(*, now: datetime | None = None) -> int:
    """Advance every room whose deadline or hint time has passed. Safe to run in many processes."""
    now = now or _now()
    fired = 0
    due = Room.objects.filter(deadline__lte=now).values_list("pk", flat=True)
    for room_id in list(due):
        fired += _on_deadline(room_id, now)
    for room_id in list(Room.objects.filter(hint_at__lte=now).values_list("pk", flat=True)):
        fired += _on_hint(room_id, now)
    return fired


def _on_deadline(room_id: int, now: datetime) -> int:
    with transaction.atomic():
        room = Room.objects.select_for_update().filter(pk=room_id).first()
        if room is None or room.deadline is None or room.deadline > now:
            return 0  # another process got there first
        turn = _turn_of(room)
        if room.phase == Phase.CHOOSING and turn is not None:
            _start_drawing(room, turn, random.choice(turn.choices), now)
        elif room.phase == Phase.DRAWING and turn is not None:
            _end_turn(room, turn, now, why="time is up")
        elif room.phase == Phase.TURN_END:
            _begin_turn(room, now)
        else:
            room.deadline = None
        _bump(room)
        return 1


def _on_hint(room_id: int, now: datetime) -> int:
    with transaction.atomic():
        room = Room.objects.select_for_update().filter(pk=room_id).first()
        if room is None or room.hint_at is None or room.hint_at > now:
            return 0
        turn = _turn_of(room)
        if room.phase != Phase.DRAWING or turn is None:
            room.hint_at = None
            room.save(update_fields=["hint_at"])
            return 0
        position = rules.next_hint_position(turn.word, turn.revealed, random.Random())
        if position is not None:
            turn.revealed = [*turn.revealed, position]
            turn.save(update_fields=["revealed"])
        times = rules.hint_times(turn.word, room.draw_seconds)
        later = [t for t in times[len(turn.revealed):]]
        room.hint_at = turn.started_at + timedelta(seconds=later[0]) if later and position is not None else None
        _bump(room)
        return 1


def housekeeping(*, now: datetime | None = None) -> None:
    """Seats not reclaimed in time are released; a drawer gone too long ends the turn; empty rooms go."""
    now = now or _now()
    # Sockets counted by a web process that died never said goodbye.
    stale = now - timedelta(seconds=rules.PRESENCE_STALE_SECONDS)
    for player in Player.objects.filter(is_ai=False, connections__gt=0, last_seen__lt=stale):
        with transaction.atomic():
            room = Room.objects.select_for_update().filter(pk=player.room_id).first()
            if room is not None and Player.objects.filter(pk=player.pk, last_seen__lt=stale).update(
                connections=0, disconnected_at=player.last_seen
            ):
                _bump(room)
    stale_seat = now - timedelta(seconds=rules.SEAT_HOLD_SECONDS)
    for player in Player.objects.filter(is_ai=False, left=False, connections=0, disconnected_at__lte=stale_seat):
        with transaction.atomic():
            room = Room.objects.select_for_update().filter(pk=player.room_id).first()
            player.refresh_from_db()
            if room is not None and not player.left and player.connections == 0:
                _remove_player(room, player, now, reason=f"{player.name} left (disconnected)")
    grace = now - timedelta(seconds=rules.DRAWER_GRACE_SECONDS)
    active = Room.objects.filter(phase__in=[Phase.CHOOSING, Phase.DRAWING], current_turn__drawer__connections=0)
    for room in active.select_related("current_turn__drawer").defer(
        "current_turn__strokes", "current_turn__stroke_widths"
    ):
        drawer = room.current_turn.drawer if room.current_turn else None
        if drawer and drawer.connections == 0 and drawer.disconnected_at and drawer.disconnected_at <= grace:
            with transaction.atomic():
                locked = _lock_room(room.pk)
                turn = locked.current_turn
                if locked.phase in (Phase.CHOOSING, Phase.DRAWING) and turn and turn.drawer_id == drawer.pk:
                    _end_turn(locked, turn, now, why=f"{drawer.name} lost the connection")
                    _bump(locked)
    empty = now - timedelta(seconds=rules.EMPTY_ROOM_SECONDS)
    Room.objects.filter(empty_since__lte=empty).delete()
