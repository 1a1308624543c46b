"""The game as one pure state machine: `apply(state, command, now) -> (new_state, events)`.

No database, no sockets, no clock and no randomness of its own: the same state, command and time
give the same result, so any process can apply any command to a room's stored state (under the
room's lock) and the tests can play whole games in microseconds. A refused command raises
game.errors.GameError with a sentence for the player and changes nothing.

Every apply first lets time catch up (whatever fell due by `now`: see `next_wakeup`), then runs
the command's handler. Handlers are small functions of a `_Run`, a scratchpad local to one
apply that holds the state so far and the events produced. The version is bumped once, at the
end, whenever anything some player's view shows has changed (the AI's live top-3 travels as an
event and does not bump it). Strokes, undo and clear are only allowed or refused here: the
drawing itself, and its limits, are stored beside the room (game.drawings).

Randomness comes from `random.Random(f"{seed}:{game_no}:{turn_no}:{purpose}")`: replaying a
room's commands replays its words and hints.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import fields, replace

from game import commands as cmd
from game import rules
from game.domain_events import (
    EVERYONE,
    AIGotIt,
    AIGuessesUpdated,
    Audience,
    ChatLine,
    DrawingStarted,
    Event,
    GameOver,
    GameStarted,
    PhaseChanged,
    PlayerJoined,
    PlayerRemoved,
    TurnEnded,
    TurnStarted,
    TurnSummary,
    ViewsChanged,
    to_knowers,
    to_player,
)
from game.errors import GameError
from game.rules import AI_NAME, AI_PLAYER_ID, AIMode, Mode, Phase
from game.state import (
    Ban,
    CanvasState,
    GameState,
    GuessRecord,
    KickVote,
    Limits,
    PlayerState,
    Settings,
    TurnState,
)

_MS = 1000
# Time catching up runs one due timer per step; every step moves its timer on, so a room
# catches up in a handful of steps. The bound turns a bug into an error instead of a hang.
_MAX_CATCH_UP_STEPS = 1000

NOT_DRAWING = "Only the drawer can draw, and only while drawing"


# --- creating a room -----------------------------------------------------------------------------


def new_room(
    *,
    mode: Mode | str,
    seed: str | int,
    vocabulary: tuple[str, ...] | list[str],
    limits: Limits | None = None,
    is_public: bool = False,
    now: int,
) -> GameState:
    """A room in the lobby: the mode's default settings, and the AI's seat where it plays."""
    mode = Mode(mode)
    defaults = rules.setting_defaults(mode)
    settings = Settings(**{**defaults, "ai_mode": AIMode(defaults["ai_mode"]), "is_public": bool(is_public)})
    players = (_ai_seat(now),) if rules.has_ai_player(mode, settings.ai_mode) else ()
    return GameState(
        mode=mode,
        seed=str(seed),
        settings=settings,
        limits=limits or Limits(),
        vocabulary=_clean_words(vocabulary),
        players=players,
        created_at=now,
    )


def _ai_seat(now: int) -> PlayerState:
    return PlayerState(id=AI_PLAYER_ID, name=AI_NAME, is_ai=True, connected=True, joined_at=now)


def _clean_words(words) -> tuple[str, ...]:
    """Distinct non-blank words, in the order given."""
    return tuple(dict.fromkeys(w.strip() for w in words if w and w.strip()))


# --- the scratchpad of one apply -------------------------------------------------------------------


class _Run:
    """One apply's work in progress. Local to one call: the states it holds are never changed."""

    def __init__(self, state: GameState, now: int):
        self.state = state
        self.now = now
        self.events: list[Event] = []

    def set(self, **changes) -> None:
        self.state = replace(self.state, **changes)

    def set_turn(self, **changes) -> None:
        self.state = replace(self.state, turn=replace(self.state.turn, **changes))

    def set_canvas(self, canvas: CanvasState) -> None:
        turn = self.state.turn
        self.set_turn(canvases=tuple(canvas if c.owner_id == canvas.owner_id else c for c in turn.canvases))

    def set_player(self, player_id: int, **changes) -> None:
        self.set(players=tuple(replace(p, **changes) if p.id == player_id else p for p in self.state.players))

    def add_score(self, player_id: int, points: int) -> None:
        player = self.state.player(player_id)
        if player is not None:
            self.set_player(player_id, score=player.score + points)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def say(
        self, text: str, *, kind: str = "system", audience: Audience = EVERYONE, player: PlayerState | None = None
    ) -> None:
        self.emit(
            ChatLine(
                kind=kind,
                text=text,
                audience=audience,
                player_id=player.id if player else None,
                name=player.name if player else None,
            )
        )

    def enter(self, phase: Phase) -> None:
        old = self.state.phase
        if phase not in rules.PHASE_TRANSITIONS[old]:
            raise AssertionError(f"no way from {old} to {phase}")
        self.emit(PhaseChanged(old=old, new=phase))
        self.set(phase=phase)

    def rng(self, purpose: str) -> random.Random:
        s = self.state
        return random.Random(f"{s.seed}:{s.game_no}:{s.turns_started}:{purpose}")

    def elapsed_ms(self) -> int:
        started = self.state.turn.started_at if self.state.turn else None
        return max(0, self.now - started) if started is not None else 0


# --- apply -------------------------------------------------------------------------------------------


def apply(state: GameState, command: cmd.Command, now: int) -> tuple[GameState, list[Event]]:
    """The room after `command` at time `now` (epoch ms), and what happened, in order.

    Raises GameError (and changes nothing) when the rules refuse the command.
    """
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"not a command: {command!r}")
    run = _Run(state, now)
    _catch_up(run)
    handler(run, command)
    return _finished(state, run)


def _finished(before: GameState, run: _Run) -> tuple[GameState, list[Event]]:
    after = run.state
    if after is not before and _shown_differs(after, before):
        after = replace(after, version=before.version + 1)
        run.events.append(ViewsChanged(version=after.version))
    return after, run.events


# What no view shows, and what travels as events instead (the AI's live top-3): a change to
# anything else bumps the version. Compared field by field, skipping what the command left untouched:
# an AI answer, the busiest command after strokes, costs no copies.
_UNSHOWN_STATE = frozenset({"version", "vocabulary", "bans"})
_LIVE_CANVAS = frozenset({"ai_version", "ai_latest", "ai_n_labels"})
_STATE_FIELDS = tuple(f.name for f in fields(GameState) if f.name not in _UNSHOWN_STATE)
_TURN_FIELDS = tuple(f.name for f in fields(TurnState))
_CANVAS_FIELDS = tuple(f.name for f in fields(CanvasState) if f.name not in _LIVE_CANVAS)


def _shown_differs(a: GameState, b: GameState) -> bool:
    for name in _STATE_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x is y:
            continue
        if name == "turn" and x is not None and y is not None:
            if _turn_differs(x, y):
                return True
        elif x != y:
            return True
    return False


def _turn_differs(a: TurnState, b: TurnState) -> bool:
    for name in _TURN_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x is y:
            continue
        if name == "canvases":
            if len(x) != len(y) or any(_canvas_differs(p, q) for p, q in zip(x, y, strict=True)):
                return True
        elif x != y:
            return True
    return False


def _canvas_differs(a: CanvasState, b: CanvasState) -> bool:
    return a is not b and any(getattr(a, name) != getattr(b, name) for name in _CANVAS_FIELDS)


# --- time --------------------------------------------------------------------------------------------


def next_wakeup(state: GameState) -> int | None:
    """The earliest time (epoch ms) a Tick would change anything, or None if only a command can."""
    due = _timers(state)
    return min(t for t, _, _ in due) if due else None


def _timers(state: GameState) -> list[tuple[int, int, Callable[[_Run], None]]]:
    """(when, precedence, what to do) for everything time will do to the room."""
    timers: list[tuple[int, int, Callable[[_Run], None]]] = []
    if state.deadline is not None:
        timers.append((state.deadline, 0, _on_deadline))
    turn = state.turn
    if state.mode == Mode.CLASSIC and state.phase in (Phase.CHOOSING, Phase.DRAWING) and turn is not None:
        drawer = state.player(turn.drawer_id)
        if drawer is not None and not drawer.connected and drawer.disconnected_at is not None:
            timers.append((drawer.disconnected_at + rules.DRAWER_GRACE_SECONDS * _MS, 1, _on_drawer_gone))
    if state.hint_at is not None:
        timers.append((state.hint_at, 2, _on_hint))
    for p in state.humans:
        if not p.connected and p.disconnected_at is not None:
            timers.append(
                (p.disconnected_at + rules.SEAT_HOLD_SECONDS * _MS, 3, lambda run, pid=p.id: _on_seat_expired(run, pid))
            )
    return timers


def _catch_up(run: _Run) -> None:
    for _ in range(_MAX_CATCH_UP_STEPS):
        due = [t for t in _timers(run.state) if t[0] <= run.now]
        if not due:
            return
        min(due, key=lambda t: t[:2])[2](run)
    raise AssertionError("time does not settle")


def _on_deadline(run: _Run) -> None:
    phase = run.state.phase
    if phase == Phase.CHOOSING:
        _begin_drawing(run, run.rng("timeout").choice(run.state.turn.choices))
    elif phase == Phase.DRAWING:
        _end_turn(run, "time_up")
    elif phase == Phase.TURN_END:
        _next_turn(run)
    else:
        run.set(deadline=None)


def _on_drawer_gone(run: _Run) -> None:
    _end_turn(run, "drawer_disconnected")


def _on_hint(run: _Run) -> None:
    state, turn = run.state, run.state.turn
    if state.phase != Phase.DRAWING or turn is None or not turn.word:
        run.set(hint_at=None)
        return
    position = rules.next_hint_position(turn.word, turn.revealed, run.rng(f"hint:{len(turn.revealed)}"))
    if position is None:
        run.set(hint_at=None)
        return
    revealed = (*turn.revealed, position)
    later = rules.hint_times(turn.word, state.settings.draw_seconds)[len(revealed) :]
    run.set_turn(revealed=revealed)
    run.set(hint_at=turn.started_at + round(later[0] * _MS) if later else None)


def _on_seat_expired(run: _Run, player_id: int) -> None:
    _remove(run, run.state.player(player_id), "released")


# --- seats -------------------------------------------------------------------------------------------


def _seat(state: GameState, player_id: int) -> PlayerState:
    """The human seated as `player_id`, or the refusal every seat-holder's command gets."""
    player = state.player(player_id)
    if player is None or player.is_ai:
        raise GameError("You are not in this room", code="not_joined")
    return player


def _join(run: _Run, c: cmd.Join) -> None:
    state, now = run.state, run.now
    if c.player_id == AI_PLAYER_ID or state.player(c.player_id) is not None:
        raise GameError("You already have a seat in this room", code="already_joined")
    if any(b.address == c.address and b.until > now for b in state.bans):
        raise GameError("You were removed from this room; try again in a few minutes", code="banned")
    humans = state.humans
    if state.mode == Mode.SOLO and humans:
        raise GameError("This is a solo game", code="room_full")
    if len(humans) >= rules.seat_capacity(state.mode, state.settings.max_players):
        raise GameError("This room is full", code="room_full")
    if sum(1 for p in humans if p.address == c.address) >= state.limits.max_seats_per_address:
        raise GameError("Too many players from your network are in this room already", code="too_many_seats")
    problem = rules.name_problem(c.name, (p.name for p in state.players))
    if problem:
        raise GameError(problem, code="bad_name")
    name = rules.clean_name(c.name)
    player = PlayerState(id=c.player_id, name=name, address=c.address, joined_at=now)
    run.set(players=(*state.players, player), bans=tuple(b for b in state.bans if b.until > now))
    if state.host_id is None:
        run.set(host_id=player.id)
    if state.mode == Mode.CLASSIC and state.phase in rules.IN_GAME_PHASES:
        run.set(round_order=tuple(rules.extend_order(state.round_order, [player.id])))
    run.emit(PlayerJoined(player_id=player.id, name=name))
    run.say(f"{name} joined")


def _connect(run: _Run, c: cmd.Connect) -> None:
    player = _seat(run.state, c.player_id)
    if not player.connected:
        run.set_player(player.id, connected=True, disconnected_at=None)


def _disconnect(run: _Run, c: cmd.Disconnect) -> None:
    player = run.state.player(c.player_id)
    if player is None or player.is_ai or not player.connected:
        return  # the socket of a seat already gone or already closed: nothing to do
    run.set_player(player.id, connected=False, disconnected_at=run.now)
    _settle(run)


def _leave(run: _Run, c: cmd.Leave) -> None:
    _remove(run, _seat(run.state, c.player_id), "left")


def _kick(run: _Run, c: cmd.Kick) -> None:
    state = run.state
    host = _seat(state, c.player_id)
    if state.host_id != host.id:
        raise GameError("Only the host can kick players", code="not_host")
    target = state.player(c.target_id)
    if target is None or target.is_ai or target.id == host.id:
        raise GameError("There is no such player to kick", code="bad_target")
    _remove(run, target, "kicked")


def _vote_kick(run: _Run, c: cmd.VoteKick) -> None:
    state = run.state
    voter = _seat(state, c.player_id)
    target = state.player(c.target_id)
    if target is None or target.is_ai or target.id == voter.id:
        raise GameError("There is no such player to vote against", code="bad_target")
    if target.address == voter.address:
        raise GameError("You can't vote against a player on your own network", code="same_address")
    votes = state.votes_against(target.id)
    if voter.id in votes:
        raise GameError(f"You already voted to remove {target.name}", code="already_voted")
    kept = tuple(v for v in state.kick_votes if v.target_id != target.id)
    run.set(kick_votes=(*kept, KickVote(target_id=target.id, voter_ids=(*votes, voter.id))))
    counted, needed = run.state.kick_tally(target.id)
    if counted >= needed:
        _remove(run, target, "voted_out")
    else:
        run.say(f"{voter.name} voted to remove {target.name} ({counted}/{needed})")


_REMOVED_LINES = {
    "left": "{} left",
    "kicked": "{} was kicked",
    "voted_out": "{} was voted out",
    "released": "{} left (disconnected)",
}
_BANNED_FOR = frozenset({"kicked", "voted_out"})


def _remove(run: _Run, player: PlayerState, reason: str) -> None:
    """The seat goes; the host, the turn and the game carry on without it where they can."""
    state, now = run.state, run.now
    votes = tuple(
        KickVote(v.target_id, tuple(i for i in v.voter_ids if i != player.id))
        for v in state.kick_votes
        if v.target_id != player.id
    )
    run.set(
        players=tuple(p for p in state.players if p.id != player.id), kick_votes=tuple(v for v in votes if v.voter_ids)
    )
    if reason in _BANNED_FOR:
        bans = tuple(b for b in state.bans if b.until > now and b.address != player.address)
        run.set(bans=(*bans, Ban(address=player.address, until=now + rules.KICK_BAN_SECONDS * _MS)))
    run.emit(PlayerRemoved(player_id=player.id, name=player.name, reason=reason))
    run.say(_REMOVED_LINES[reason].format(player.name))
    if state.host_id == player.id:
        humans = run.state.humans
        heir = next((p for p in humans if p.connected), humans[0] if humans else None)
        run.set(host_id=heir.id if heir else None)
        if heir is not None:
            run.say(f"{heir.name} is now the host")
    too_few = len(run.state.humans) < rules.MIN_HUMANS[state.mode]
    if run.state.phase in (Phase.CHOOSING, Phase.DRAWING):
        if run.state.turn.drawer_id == player.id:
            _end_turn(run, "drawer_left")
        elif too_few:
            _end_turn(run, "too_few_players")
    if run.state.phase == Phase.TURN_END and too_few:
        _end_game(run)
    else:
        _settle(run)


# --- settings and the game's flow ----------------------------------------------------------------------


def _host(state: GameState, player_id: int, action: str) -> PlayerState:
    player = _seat(state, player_id)
    if state.host_id != player.id:
        raise GameError(f"Only the host can {action}", code="not_host")
    return player


def _update_settings(run: _Run, c: cmd.UpdateSettings) -> None:
    state = run.state
    _host(state, c.player_id, "change the settings")
    if state.phase not in rules.BETWEEN_GAMES_PHASES:
        raise GameError("Settings can change only between games", code="wrong_phase")
    changes = {key: getattr(c, key) for key in rules.SETTING_LABELS if getattr(c, key) is not None}
    for key, value in changes.items():
        problem = rules.setting_problem(key, value)
        if problem:
            raise GameError(problem, code="bad_setting")
    if state.mode == Mode.SOLO and "max_players" in changes:
        raise GameError("A solo room seats one player", code="bad_setting")
    if state.mode != Mode.CLASSIC and changes.get("ai_mode", AIMode.SHOWN) != AIMode.SHOWN:
        raise GameError("In solo and race games the AI is the judge: it stays on and shown", code="bad_setting")
    if changes.get("max_players", len(state.humans)) < len(state.humans):
        raise GameError("More players are already seated than that", code="bad_setting")
    if "ai_mode" in changes:
        changes["ai_mode"] = AIMode(changes["ai_mode"])
    settings = replace(state.settings, **changes)
    run.set(settings=settings)
    _seat_the_ai(run)


def _seat_the_ai(run: _Run) -> None:
    """The AI sits first in rooms where it plays, and nowhere else."""
    state = run.state
    wanted = rules.has_ai_player(state.mode, state.settings.ai_mode)
    if wanted and state.ai_player is None:
        run.set(players=(_ai_seat(run.now), *state.players))
    elif not wanted and state.ai_player is not None:
        run.set(players=state.humans)


def _start(run: _Run, c: cmd.Start) -> None:
    state = run.state
    _host(state, c.player_id, "start the game")
    if state.phase not in rules.BETWEEN_GAMES_PHASES:
        raise GameError("The game is already running", code="wrong_phase")
    needed = rules.MIN_HUMANS[state.mode]
    if len(state.connected_humans) < needed:
        raise GameError(f"At least {needed} players are needed to start", code="too_few_players")
    if not state.vocabulary:
        raise GameError("There are no words to draw yet; try again in a moment", code="no_words")
    run.set(
        players=tuple(replace(p, score=0) for p in state.players),
        game_no=state.game_no + 1,
        round_no=0,
        used_words=(),
        round_order=(),
        drawn_this_round=(),
    )
    run.emit(GameStarted(game_no=run.state.game_no))
    run.say("The game begins!")
    _next_turn(run)


def _play_again(run: _Run, c: cmd.PlayAgain) -> None:
    state = run.state
    _host(state, c.player_id, "restart")
    if state.phase != Phase.GAME_OVER:
        raise GameError("The game is not over yet", code="wrong_phase")
    run.enter(Phase.LOBBY)
    run.set(
        players=tuple(replace(p, score=0) for p in state.players), round_no=0, turn=None, deadline=None, hint_at=None
    )


def _next_turn(run: _Run) -> None:
    """The game's next turn by the mode's rules, or its end."""
    {Mode.CLASSIC: _next_classic_turn, Mode.SOLO: _next_solo_word, Mode.RACE: _next_race_round}[run.state.mode](run)


def _next_classic_turn(run: _Run) -> None:
    state = run.state
    present = [p.id for p in state.connected_humans]
    if len(present) < rules.MIN_HUMANS[Mode.CLASSIC]:
        _end_game(run)
        return
    drawer_id = rules.next_drawer(state.round_order, state.drawn_this_round, present)
    if drawer_id is None:
        if state.round_no >= state.settings.rounds:
            _end_game(run)
            return
        run.set(round_no=state.round_no + 1, round_order=tuple(present), drawn_this_round=())
        drawer_id = present[0]
    drawer = run.state.player(drawer_id)
    run.set(turns_started=state.turns_started + 1, drawn_this_round=(*run.state.drawn_this_round, drawer_id))
    choices = rules.pick_choices(state.vocabulary, state.settings.word_choices, state.used_words, run.rng("choices"))
    _open_turn(run, drawer=drawer, owners=(drawer_id,), choices=tuple(choices))
    run.enter(Phase.CHOOSING)
    run.set(deadline=run.now + rules.CHOOSE_SECONDS * _MS, hint_at=None)
    run.say(f"{drawer.name} is choosing a word")


def _next_solo_word(run: _Run) -> None:
    state = run.state
    humans = state.humans
    if state.round_no >= state.settings.solo_words or not humans:
        _end_game(run)
        return
    run.set(round_no=state.round_no + 1, turns_started=state.turns_started + 1)
    _open_turn(run, drawer=humans[0], owners=(humans[0].id,))
    _begin_drawing(run, _random_word(run))


def _next_race_round(run: _Run) -> None:
    state = run.state
    racers = tuple(p.id for p in state.connected_humans)
    if len(racers) < rules.MIN_HUMANS[Mode.RACE] or state.round_no >= state.settings.rounds:
        _end_game(run)
        return
    run.set(round_no=state.round_no + 1, turns_started=state.turns_started + 1)
    _open_turn(run, drawer=None, owners=racers)
    _begin_drawing(run, _random_word(run))


def _random_word(run: _Run) -> str:
    state = run.state
    return rules.pick_choices(state.vocabulary, 1, state.used_words, run.rng("word"))[0]


def _open_turn(
    run: _Run, *, drawer: PlayerState | None, owners: tuple[int, ...], choices: tuple[str, ...] = ()
) -> None:
    state = run.state
    turn = TurnState(
        turn_no=state.turns_started,
        round_no=state.round_no,
        drawer_id=drawer.id if drawer else None,
        drawer_name=drawer.name if drawer else "",
        choices=choices,
        canvases=tuple(CanvasState(owner_id=o) for o in owners),
    )
    run.set(turn=turn)
    run.emit(
        TurnStarted(
            turn_no=turn.turn_no,
            game_no=state.game_no,
            round_no=state.round_no,
            drawer_id=turn.drawer_id,
            owners=owners,
        )
    )


def _begin_drawing(run: _Run, word: str) -> None:
    state, now = run.state, run.now
    run.set_turn(word=word, started_at=now, revealed=())
    run.enter(Phase.DRAWING)
    seconds = rules.draw_seconds_for(state.mode, state.settings.draw_seconds)
    hints = rules.hint_times(word, seconds) if state.mode == Mode.CLASSIC else []
    run.set(
        deadline=now + seconds * _MS,
        hint_at=now + round(hints[0] * _MS) if hints else None,
        used_words=(*state.used_words, word),
    )
    turn = run.state.turn
    run.emit(
        DrawingStarted(turn_no=turn.turn_no, word=word, started_at=now, owners=tuple(c.owner_id for c in turn.canvases))
    )
    if state.mode == Mode.CLASSIC:
        run.say(f"{turn.drawer_name} is drawing now!")
    elif state.mode == Mode.SOLO:
        run.say(f"Draw: {word} ({state.round_no} of {state.settings.solo_words})")
    else:
        run.say(f"Everyone draw: {word}! (round {state.round_no} of {state.settings.rounds})")


def _end_turn(run: _Run, reason: str) -> None:
    state, turn, now = run.state, run.state.turn, run.now
    if state.mode == Mode.CLASSIC and turn.word:
        humans = [g for g in turn.guesses if g.player_id != AI_PLAYER_ID]
        run.add_score(turn.drawer_id, rules.classic_drawer_points(len(humans), sum(g.before_ai for g in humans)))
    run.set_turn(ended_at=now, end_reason=reason)
    run.enter(Phase.TURN_END)
    run.set(deadline=now + rules.turn_end_seconds_for(state.mode) * _MS, hint_at=None)
    turn = run.state.turn
    run.emit(
        TurnEnded(
            TurnSummary(
                turn_no=turn.turn_no,
                game_no=state.game_no,
                round_no=turn.round_no,
                word=turn.word,
                drawer_id=turn.drawer_id,
                drawer_name=turn.drawer_name,
                guesses=turn.guesses,
                canvases=turn.canvases,
                ai_got_it_ms=turn.ai_got_it_ms,
                race_order=turn.race_order,
                reason=reason,
                started_at=turn.started_at,
                ended_at=now,
            )
        )
    )
    why = rules.END_REASONS[reason]
    if not turn.word:
        run.say(f"Turn skipped ({why})")
    elif state.mode == Mode.SOLO and reason != "ai_got_it":
        run.say(f"Sorry, I couldn't guess it: it was '{turn.word}'", kind="ai")
    elif state.mode != Mode.SOLO:
        run.say(f"The word was '{turn.word}' ({why})")


def _end_game(run: _Run) -> None:
    state = run.state
    run.enter(Phase.GAME_OVER)
    run.set(turn=None, deadline=None, hint_at=None, round_order=(), drawn_this_round=())
    standings = rules.podium([(p.id, p.name, p.score) for p in run.state.players])
    run.emit(GameOver(game_no=state.game_no, standings=tuple(standings)))
    run.say("Game over!")


def _settle(run: _Run) -> None:
    """A drawing turn ends by itself once nobody is left to guess or to be recognised."""
    state, turn = run.state, run.state.turn
    if state.phase != Phase.DRAWING or turn is None:
        return
    if state.mode == Mode.CLASSIC:
        guessers = [p.id for p in state.connected_humans if p.id != turn.drawer_id]
        if rules.everyone_guessed(guessers, [g.player_id for g in turn.guesses]):
            _end_turn(run, "everyone_guessed")
    elif state.mode == Mode.RACE:
        racing = [p.id for p in state.connected_humans if state.canvas(p.id) is not None]
        if rules.everyone_guessed(racing, turn.race_order):
            _end_turn(run, "all_recognised")


def _choose_word(run: _Run, c: cmd.ChooseWord) -> None:
    state = run.state
    player = _seat(state, c.player_id)
    if state.phase != Phase.CHOOSING or state.turn is None or state.turn.drawer_id != player.id:
        raise GameError("It is not your turn to choose", code="not_drawer")
    if c.word not in state.turn.choices:
        raise GameError("Pick one of the offered words", code="bad_word")
    _begin_drawing(run, c.word)


def with_vocabulary(state: GameState, words) -> GameState:
    """The room with `words` for its new turns, and nothing else changed (time does not catch up: the
    integration sets the words a command's turn will use before the command is applied)."""
    words = _clean_words(words)
    return state if not words or words == state.vocabulary else replace(state, vocabulary=words)


def _set_vocabulary(run: _Run, c: cmd.SetVocabulary) -> None:
    words = _clean_words(c.words)
    if not words:
        raise GameError("The model knows no words", code="no_words")
    run.set(vocabulary=words)


def _tick(run: _Run, c: cmd.Tick) -> None:
    """Time already caught up in apply; a Tick is the clock asking for just that."""


# --- chat and guesses -------------------------------------------------------------------------------------


def _guess(run: _Run, c: cmd.Guess) -> None:
    text = " ".join(c.text.split())
    if not text:
        raise GameError("Type something first", code="empty")
    state = run.state
    player = _seat(state, c.player_id)
    turn = state.turn
    if state.mode == Mode.CLASSIC and state.phase == Phase.DRAWING:
        _classic_guess(run, player, text)
        return
    if (
        state.mode == Mode.CLASSIC
        and state.phase == Phase.CHOOSING
        and player.id == turn.drawer_id
        and any(rules.gives_word_away(text, w) for w in turn.choices)
    ):
        raise GameError("You can't give the word away in the chat", code="gives_word_away")
    run.say(text, kind="guess", player=player)


def _classic_guess(run: _Run, player: PlayerState, text: str) -> None:
    """A line typed while a classic word is drawn: scored, kept among those who know, or shown."""
    state, turn = run.state, run.state.turn
    word = turn.word
    if player.id == turn.drawer_id:
        if rules.gives_word_away(text, word):
            raise GameError("You can't give the word away in the chat", code="gives_word_away")
        run.say(text, kind="guess", player=player, audience=to_knowers(turn.turn_no))
    elif state.knows_word(player.id):
        run.say(text, kind="guess", player=player, audience=to_knowers(turn.turn_no))
    elif rules.is_correct(text, word):
        _score_guess(run, player)
    elif rules.mentions_word(text, word):
        # Right, inside a longer line: no score, and the others must not read it; the sender sees it as sent.
        run.say(text, kind="guess", player=player, audience=to_player(player.id))
    else:
        if rules.is_close(text, word):
            run.say(f"'{text}' is close!", kind="close", audience=to_player(player.id))
        run.say(text, kind="guess", player=player)


def _score_guess(run: _Run, player: PlayerState) -> None:
    state, turn = run.state, run.state.turn
    elapsed = run.elapsed_ms()
    order = len(turn.guesses) + 1
    points = rules.guesser_points(elapsed / _MS, state.settings.draw_seconds, order)
    before_ai = turn.ai_got_it_ms is None
    if not before_ai:
        points = rules.after_ai_points(points)
    record = GuessRecord(
        player_id=player.id, name=player.name, ms=elapsed, points=points, order=order, before_ai=before_ai
    )
    run.set_turn(guesses=(*turn.guesses, record))
    run.add_score(player.id, points)
    run.say(f"{player.name} guessed the word!", kind="correct", player=player)
    _settle(run)


# --- drawing --------------------------------------------------------------------------------------------------


def _own_canvas(state: GameState, player_id: int) -> CanvasState:
    """The canvas `player_id` may draw on now, or the refusal."""
    player = _seat(state, player_id)
    canvas = state.canvas(player.id) if state.phase == Phase.DRAWING else None
    if canvas is None:
        if state.mode == Mode.RACE and state.phase == Phase.DRAWING:
            raise GameError("You join the race from the next round", code="not_drawer")
        raise GameError(NOT_DRAWING, code="not_drawer")
    return canvas


def _may_draw(run: _Run, c: cmd.Stroke | cmd.Undo | cmd.Clear) -> None:
    """Strokes, undo and clear on one's own canvas, while it is drawn: allowed, or refused here.

    What the canvas holds, and its limits, are the stored drawing's (game.drawings): the busiest
    commands change nothing in the room's state."""
    _own_canvas(run.state, c.player_id)


# --- the AI -------------------------------------------------------------------------------------------------------


def _ai_answer(run: _Run, c: cmd.AIAnswer) -> None:
    """The AI's newest top-3 for a canvas: kept, and judged by the mode's rules.

    Stale answers (another turn, an older drawing version, no longer drawing) are dropped
    without a word: answers and moves cross in flight all the time.
    """
    state, turn = run.state, run.state.turn
    if state.phase != Phase.DRAWING or turn is None or turn.turn_no != c.turn_no:
        return
    canvas = state.canvas(c.canvas_owner)
    if canvas is None or c.version <= canvas.ai_version:
        return
    if not rules.has_ai_player(state.mode, state.settings.ai_mode) and state.mode == Mode.CLASSIC:
        return  # ai_mode off: the AI takes no part
    top = tuple((str(label), _probability(p)) for label, p in c.guesses[:3])
    canvas = replace(canvas, ai_version=c.version, ai_latest=top, ai_n_labels=c.n_labels)
    run.set_canvas(canvas)
    named = rules.ai_names_word(top, turn.word, c.n_labels)
    run.emit(
        AIGuessesUpdated(
            turn_no=turn.turn_no,
            owner=canvas.owner_id,
            version=c.version,
            guesses=top,
            confident=rules.ai_sure_of(top, c.n_labels) is not None,
        )
    )
    if not named or canvas.recognised_ms is not None:
        return
    elapsed = run.elapsed_ms()
    run.set_canvas(replace(canvas, recognised_ms=elapsed))
    {Mode.CLASSIC: _ai_guessed, Mode.SOLO: _ai_recognised_solo, Mode.RACE: _ai_recognised_racer}[state.mode](
        run, canvas.owner_id, top[0][0], elapsed
    )


def _probability(p) -> float:
    """A probability fit for the stored JSON: NaN and infinities (invalid JSON) become 0, the rest 0..1."""
    p = float(p)
    return min(1.0, max(0.0, p)) if math.isfinite(p) else 0.0


def _ai_guessed(run: _Run, owner: int, label: str, elapsed: int) -> None:
    """Classic: the AI named the word, once per turn: it scores as a guesser would now; the turn goes on."""
    state, turn = run.state, run.state.turn
    order = len(turn.guesses) + 1
    points = rules.guesser_points(elapsed / _MS, state.settings.draw_seconds, order)
    record = GuessRecord(player_id=AI_PLAYER_ID, name=AI_NAME, ms=elapsed, points=points, order=order, before_ai=False)
    run.set_turn(guesses=(*turn.guesses, record), ai_got_it_ms=elapsed)
    run.add_score(AI_PLAYER_ID, points)
    run.emit(AIGotIt(turn_no=turn.turn_no, owner=owner, label=label, ms=elapsed))
    run.say("The AI got it!", kind="ai")


def _ai_recognised_solo(run: _Run, owner: int, label: str, elapsed: int) -> None:
    """Solo: the AI recognised the drawing: the player scores by speed and the next word comes."""
    run.set_turn(ai_got_it_ms=elapsed)
    run.add_score(owner, rules.solo_points(elapsed, rules.SOLO_SECONDS))
    run.emit(AIGotIt(turn_no=run.state.turn.turn_no, owner=owner, label=label, ms=elapsed))
    run.say(f"Oh, I know, it's {label}!", kind="ai")
    _end_turn(run, "ai_got_it")


def _ai_recognised_racer(run: _Run, owner: int, label: str, elapsed: int) -> None:
    """Race: a racer's drawing was recognised: points by the order of recognition."""
    racer = run.state.player(owner)
    if racer is None:
        return  # left the room: their drawing stays, out of the race
    order = (*run.state.turn.race_order, owner)
    points = rules.race_points(len(order))
    run.set_turn(race_order=order)
    run.add_score(owner, points)
    run.emit(AIGotIt(turn_no=run.state.turn.turn_no, owner=owner, label=label, ms=elapsed))
    place = "first, and wins the round" if len(order) == 1 else f"#{len(order)}"
    run.say(f"The AI recognised {racer.name}'s drawing {place} (+{points})", kind="ai")
    _settle(run)


_HANDLERS: dict[type, Callable] = {
    cmd.Join: _join,
    cmd.Connect: _connect,
    cmd.Disconnect: _disconnect,
    cmd.Leave: _leave,
    cmd.Kick: _kick,
    cmd.VoteKick: _vote_kick,
    cmd.UpdateSettings: _update_settings,
    cmd.Start: _start,
    cmd.PlayAgain: _play_again,
    cmd.ChooseWord: _choose_word,
    cmd.Guess: _guess,
    cmd.Stroke: _may_draw,
    cmd.Undo: _may_draw,
    cmd.Clear: _may_draw,
    cmd.AIAnswer: _ai_answer,
    cmd.Tick: _tick,
    cmd.SetVocabulary: _set_vocabulary,
}
