"""Every change to a game: one `do_*` action each (Zulip's pattern).

An action locks the room's row, loads its state (game.store), applies one
command through the pure state machine (game.machine), saves the new state,
stores what the game leaves behind (game.records: turns, drawings, chat
lines, seats) and publishes the events once the transaction commits
(game.publish). A command the rules refuse raises GameError: nothing is
written, and the consumer turns it into an `error` message.

Keyword-only arguments throughout; `room_id` may be given by callers that
know it (the consumer does) to save looking it up from the seat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from game import commands as cmd
from game import domain_events as ev
from game import drawings, machine, protocol, publish, records, rules, store
from game import events as broadcast
from game.errors import GameError
from game.models import Player, Room
from game.state import GameState, Limits

log = logging.getLogger(__name__)

MAX_CODE_TRIES = 20


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _vocabulary() -> tuple[str, ...]:
    """The words new turns may use: the live model's, less any a pending swap's model lacks."""
    from inference.selectors import words_for_new_turns

    return tuple(words_for_new_turns())


def _model_version_id() -> int | None:
    from inference.live import live_model

    return live_model.version_id


@dataclass(frozen=True)
class Outcome:
    """What an action did: the room's code and new state, and the machine's events."""

    code: str
    state: GameState
    events: list


def _apply(
    room_id: int,
    command: cmd.Command,
    *,
    now: int | None = None,
    then: Callable[[str, GameState, GameState, list], None] | None = None,
    ai_shown: bool = False,
) -> Outcome:
    """Lock, load, apply, save, record, and publish on commit. `then` adds the action's own writes
    and frames (it may raise GameError to undo everything)."""
    now = _now_ms() if now is None else now
    with transaction.atomic():
        code, revision, stored = store.lock(room_id)
        before = _with_fresh_words(stored)
        after, events = machine.apply(before, command, now)
        if after is not stored:
            store.save(room_id, code, revision, after, now=dt.datetime.fromtimestamp(now / 1000, tz=dt.UTC))
        records.keep(
            room_id=room_id,
            after=after,
            events=events,
            model_version_id=_model_version_id() if _starts_drawing(events) else None,
        )
        if then is not None:
            then(code, before, after, events)
        publish.on_commit(code=code, state=after, events_=events, ai_shown=ai_shown)
    return Outcome(code=code, state=after, events=events)


def _with_fresh_words(state: GameState) -> GameState:
    """Between turns, the room's words follow the live model (and a pending swap's): the next turn offers
    only words both know. A running turn keeps its word."""
    if state.phase in (rules.Phase.CHOOSING, rules.Phase.DRAWING):
        return state
    return machine.with_vocabulary(state, _vocabulary())


def _starts_drawing(events: list) -> bool:
    return any(isinstance(e, ev.DrawingStarted) for e in events)


def _room_of(player_id: int) -> int:
    room_id = Player.objects.filter(pk=player_id).values_list("room_id", flat=True).first()
    if room_id is None:
        raise GameError("You are not in this room", code="not_joined")
    return room_id


# --- rooms and seats ------------------------------------------------------------------------------


def do_create_room(*, mode: str = rules.Mode.CLASSIC, is_public: bool = False) -> Room:
    state = machine.new_room(
        mode=mode,
        seed=secrets.token_hex(8),
        vocabulary=_vocabulary(),
        limits=Limits(max_seats_per_address=settings.SEATS_PER_ADDRESS),
        is_public=is_public,
        now=_now_ms(),
    )
    for _ in range(MAX_CODE_TRIES):
        try:
            with transaction.atomic():
                room = Room(empty_since=timezone.now())
                store.insert(room, state)
                return room
        except IntegrityError:  # the code was taken: draw another
            continue
    raise GameError("Could not find a free room code: try again", code="busy")


def do_join(*, code: str, name: str, token: str | None = None, address: str = "") -> Player:
    """Take a seat, or get yours back with your token (the first human hosts).

    `address` is the address key (game.address_limits.address_key): the room holds per-address
    limits and bans against it.
    """
    room = Room.objects.filter(code=code.upper()).only("id").first()
    if room is None:
        raise GameError("There is no room with that code", code="no_room")
    with transaction.atomic():
        _, _, state = store.lock(room.pk)
        if token:
            mine = Player.objects.filter(room_id=room.pk, token=token, left=False).first()
            if mine is not None and state.player(mine.pk) is not None:
                return mine
            if mine is not None:  # the seat was released meanwhile: a new one, below
                Player.objects.filter(pk=mine.pk).update(left=True)
        player = Player.objects.create(room_id=room.pk, name=rules.clean_name(name)[:20], address_key=address)
        _apply(room.pk, cmd.Join(player_id=player.pk, name=name, address=address))
    return player


def do_connect(*, player_id: int) -> Player:
    """A socket took the seat: counted, with a new seat epoch (an older socket of the seat gives way)."""
    room_id = _room_of(player_id)
    with transaction.atomic():
        _, _, state = store.lock(room_id)
        if state.player(player_id) is None:
            Player.objects.filter(pk=player_id).update(left=True)
            raise GameError("Your seat is gone: join again", code="not_joined")
        Player.objects.filter(pk=player_id).update(
            connections=F("connections") + 1, seat_epoch=F("seat_epoch") + 1, last_seen=timezone.now()
        )
        _apply(room_id, cmd.Connect(player_id=player_id))
        return Player.objects.get(pk=player_id)


def do_disconnect(*, player_id: int) -> None:
    """A socket of the seat closed; the last one to close disconnects the seat (it is held a while)."""
    player = Player.objects.filter(pk=player_id).only("room_id").first()
    if player is None:
        return
    with transaction.atomic():
        store.lock(player.room_id)
        Player.objects.filter(pk=player_id, connections__gt=0).update(connections=F("connections") - 1)
        if Player.objects.filter(pk=player_id, connections=0).exists():
            _apply(player.room_id, cmd.Disconnect(player_id=player_id))


def do_touch(*, player_ids: list[int]) -> None:
    """A web process's heartbeat for the seats it holds open (nothing visible changes)."""
    Player.objects.filter(pk__in=player_ids, connections__gt=0).update(last_seen=timezone.now())


def do_leave(*, player_id: int, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.Leave(player_id=player_id))


def do_kick(*, player_id: int, target_id: int, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.Kick(player_id=player_id, target_id=target_id))


def do_votekick(*, player_id: int, target_id: int, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.VoteKick(player_id=player_id, target_id=target_id))


# --- the game's flow ---------------------------------------------------------------------------------


def do_update_settings(*, player_id: int, room_id: int | None = None, **changes) -> None:
    _apply(room_id or _room_of(player_id), cmd.UpdateSettings(player_id=player_id, **changes))


def do_start(*, player_id: int, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.Start(player_id=player_id))


def do_play_again(*, player_id: int, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.PlayAgain(player_id=player_id))


def do_choose_word(*, player_id: int, word: str, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.ChooseWord(player_id=player_id, word=word))


def do_guess(*, player_id: int, text: str, room_id: int | None = None) -> None:
    _apply(room_id or _room_of(player_id), cmd.Guess(player_id=player_id, text=text))


# --- drawing ----------------------------------------------------------------------------------------------


def do_stroke(
    *, player_id: int, points: list[list[float]], width: int, color: str = protocol.INK, room_id: int | None = None
) -> None:
    """A finished stroke on the player's canvas: stored in the Quick, Draw! raw format and shown to everyone.

    The busiest action of all takes no room lock: one statement stores the stroke on the player's open
    canvas (game.drawings). Only a refused stroke asks the machine why."""
    stroke = [[round(p[0], 1) for p in points], [round(p[1], 1) for p in points], [int(p[2]) for p in points]]

    def store() -> drawings.Placed | None:
        return drawings.append_stroke(
            owner=player_id,
            stroke=stroke,
            width=width,
            color=color,
            size=(protocol.CANVAS_WIDTH, protocol.CANVAS_HEIGHT),
            max_strokes=protocol.MAX_STROKES_PER_DRAWING,
            max_points=protocol.MAX_POINTS_PER_DRAWING,
        )

    placed = store() or _why_not_drawn(cmd.Stroke(player_id=player_id), store, player_id=player_id, room_id=room_id)
    broadcast.to_room(
        placed.code,
        protocol.StrokeOut(
            turn_id=placed.turn_no,
            owner=player_id,
            stroke=placed.strokes - 1,
            points=protocol.compact_points(points),
            width=width,
            color=color,
        ),
    )


def do_undo(*, player_id: int, room_id: int | None = None) -> None:
    """The last stroke of the player's canvas goes (for everyone)."""
    _canvas_change(cmd.Undo(player_id=player_id), lambda: drawings.undo_stroke(owner=player_id), player_id, room_id)


def do_clear(*, player_id: int, room_id: int | None = None) -> None:
    """The player's canvas is emptied (for everyone)."""
    _canvas_change(cmd.Clear(player_id=player_id), lambda: drawings.clear(owner=player_id), player_id, room_id)


def _canvas_change(
    command: cmd.Command, change: Callable[[], drawings.Placed | None], player_id: int, room_id: int | None
) -> None:
    placed = change() or _why_not_drawn(command, change, player_id=player_id, room_id=room_id)
    broadcast.to_room(
        placed.code,
        protocol.CanvasOut(
            turn_id=placed.turn_no, owner=player_id, start=placed.strokes, total=placed.strokes, strokes=[]
        ),
    )


def _why_not_drawn(
    command: cmd.Command, change: Callable[[], drawings.Placed | None], *, player_id: int, room_id: int | None
) -> drawings.Placed:
    """A canvas change found no open canvas, or one at its limits: the machine's refusal (not drawing now,
    not your turn), else the limit's. A canvas that opened meanwhile takes the change after all."""
    _apply(room_id or _room_of(player_id), command)  # raises GameError when the rules refuse
    placed = change()
    if placed is not None:
        return placed
    fill = drawings.open_canvas_fill(owner=player_id)
    if fill is None:  # the machine lets them draw, yet no canvas is open: say what a player can act on
        raise GameError(machine.NOT_DRAWING, code="not_drawer")
    if fill[0] >= protocol.MAX_STROKES_PER_DRAWING:
        raise GameError("This drawing has reached its stroke limit", code="too_many_strokes")
    raise GameError("This drawing is full: undo or clear to keep drawing", code="drawing_full")


# --- the AI ----------------------------------------------------------------------------------------------------


def do_ai_answer(
    *,
    room_id: int,
    turn_no: int,
    owner: int,
    version: int,
    guesses: list[tuple[str, float]],
    n_labels: int | None = None,
    shown: bool = False,
) -> None:
    """The AI's newest top-3 for a canvas: kept (the snapshot shows what the live panel shows), judged, shown.

    `shown`: the top-3 went out to the room already (game.ai), so it is not sent again."""

    def note_change(code: str, before: GameState, after: GameState, events: list) -> None:
        for event in events:
            if isinstance(event, ev.AIGuessesUpdated):
                old = before.canvas(event.owner)
                if event.guesses and (old is None or not old.ai_latest or old.ai_latest[0][0] != event.guesses[0][0]):
                    ms = max(0, (_now_ms() - after.turn.started_at)) if after.turn and after.turn.started_at else 0
                    drawings.note_ai_change(
                        canvas=(room_id, event.turn_no, event.owner),
                        entry={"ms": ms, "guesses": [[label, p] for label, p in event.guesses]},
                    )

    command = cmd.AIAnswer(
        canvas_owner=owner,
        turn_no=turn_no,
        version=version,
        guesses=tuple((str(label), float(p)) for label, p in guesses),
        n_labels=n_labels,
    )
    with contextlib.suppress(GameError):  # the room is gone: an answer for nobody
        _apply(room_id, command, then=note_change, ai_shown=shown)


# --- time -------------------------------------------------------------------------------------------------------------


def do_tick(*, room_id: int, now: int | None = None) -> None:
    """Whatever time has made due in one room."""
    _apply(room_id, cmd.Tick(), now=now)


def fire_due_timers(*, now: dt.datetime | None = None) -> int:
    """Move on every room whose next wake-up has come. Safe to run in many processes (row locks)."""
    now = now or timezone.now()
    fired = 0
    for room_id in list(Room.objects.filter(wakeup_at__lte=now).values_list("pk", flat=True)):
        try:
            do_tick(room_id=room_id, now=int(now.timestamp() * 1000))
            fired += 1
        except GameError:
            continue  # deleted meanwhile
    return fired


def housekeeping(*, now: dt.datetime | None = None) -> None:
    """Sockets counted by a web process that died are let go; empty rooms are deleted."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=rules.PRESENCE_STALE_SECONDS)
    for player_id, room_id in list(
        Player.objects.filter(connections__gt=0, last_seen__lt=stale).values_list("pk", "room_id")
    ):
        with transaction.atomic():
            store.lock(room_id)
            if Player.objects.filter(pk=player_id, last_seen__lt=stale).update(connections=0):
                _apply(room_id, cmd.Disconnect(player_id=player_id))
    empty = now - dt.timedelta(seconds=rules.EMPTY_ROOM_SECONDS)
    Room.objects.filter(empty_since__lte=empty).delete()
