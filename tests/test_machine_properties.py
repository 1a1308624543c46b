"""The machine's invariants over random command sequences (hypothesis): 1-6 humans, every mode.

Each example plays a room from creation through random commands, mostly plausible ones (the
drawer draws, guessers guess near the word, the AI answers for live canvases) with some nonsense
mixed in, and random waits that let timers fire. After every command the invariants are checked.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from game import commands as c
from game import rules
from game.domain_events import AIGuessesUpdated, ChatLine, PhaseChanged, PlayerRemoved, ViewsChanged
from game.errors import GameError
from game.machine import apply, new_room, next_wakeup
from game.player_views import PlayerView, ai_guesses_for, chat_visible_to, view_for
from game.rules import Mode, Phase
from game.state import GameState, from_json, to_json

# Words that share parts (dog / hot dog) and punctuation (t-shirt); names and chat that never
# contain them, so any appearance of the word in a seeker's view is a leak.
VOCAB = ("cat", "dog", "hot dog", "t-shirt", "butterfly", "school bus")
NAMES = ("Ann", "Bob", "Cy", "Dee", "Eve", "Flo", "Gus", "ann", "AI", "a.i.", "", "Bob\u200b")
ADDRESSES = ("a", "b", "c", "d")
CHAT = ("hello", "nice one", "no idea", "   ", "what is that?")
# Mostly moments apart, now and then long enough for a phase to time out or a seat to be released.
WAITS_MS = (0,) * 6 + (40,) * 4 + (300,) * 4 + (1_500,) * 4 + (5_000,) * 3 + (16_000,) * 2 + (61_000,)
IDS = tuple(range(0, 9))  # 0 is the AI's seat
T0 = 1_700_000_000_000
BETWEEN = (c.Start, c.PlayAgain)  # the only commands that may lower scores


def word_variants(state: GameState) -> list[str]:
    words = [state.turn.word] if state.turn and state.turn.word else []
    words += list(state.turn.choices) if state.turn else []
    out = []
    for w in words or list(VOCAB[:2]):
        out += [w, w.upper(), f"is it {w}?", w + "s", w[:-1], f"{w}!"]
    return out


# Strategies built once: building one per step costs more than the whole game.
_INDEX = st.integers(0, 2**16)
_P = st.floats(0, 1)
_FLAG = st.booleans()
_SETTINGS = ("rounds", "draw_seconds", "word_choices", "max_players", "is_public", "ai_mode", "solo_words")
_SETTING_VALUES = {
    "rounds": (0, 1, 2, 3),
    "draw_seconds": (30, 45, 300),
    "word_choices": (1, 3, 6),
    "max_players": (1, 2, 4, 7),
    "is_public": (True, False),
    "ai_mode": (*rules.AI_MODES, "bogus"),
    "solo_words": (1, 2, 3),
}


def commands(draw, state: GameState) -> tuple[object, int]:
    """One plausible (or deliberately wrong) command for `state`, and the wait before it.

    Plausible moves are listed several times: the drawer picks an offered word, seekers type
    the word or something near it, the AI names the word on a live canvas.
    """

    def pick(items):
        items = list(items)
        return items[draw(_INDEX) % len(items)]

    answer = answer_maker(draw)
    seated = [p.id for p in state.humans] or [1]
    turn = state.turn
    owners = [cv.owner_id for cv in turn.canvases] if turn else []
    host = state.host_id if state.host_id is not None else 1
    seekers = [p.id for p in state.humans if not state.knows_word(p.id)] or seated
    anyone = lambda: pick(seated + list(IDS))  # noqa: E731
    actor = lambda: pick(owners + seated)  # noqa: E731
    near_word = word_variants(state)
    texts = near_word + list(CHAT) + list(VOCAB)
    makers = [
        lambda: c.Join(pick(IDS), pick(NAMES), pick(ADDRESSES)),
        lambda: c.Connect(anyone()),
        lambda: c.Disconnect(anyone()),
        lambda: c.Leave(anyone()),
        lambda: c.Kick(pick([host, *seated]), anyone()),
        lambda: c.VoteKick(anyone(), anyone()),
        lambda: c.UpdateSettings(host, **{k: pick(_SETTING_VALUES[k]) for k in _SETTINGS if draw(_FLAG)}),
        lambda: c.Start(pick([host, host, *seated])),
        lambda: c.PlayAgain(pick([host, *seated])),
        lambda: c.Guess(anyone(), pick(texts)),
        lambda: c.Guess(actor(), pick(texts)),
        lambda: c.Guess(pick(seekers), pick(near_word)),
        lambda: c.Guess(pick(seekers), near_word[0]),
        lambda: c.Stroke(actor()),
        lambda: c.Stroke(actor()),
        lambda: c.Undo(actor()),
        lambda: c.Clear(actor()),
        c.Tick,
        c.Tick,
        lambda: c.SetVocabulary(tuple(pick(VOCAB) for _ in range(draw(_INDEX) % 4))),
    ]
    if turn is not None:  # anything, for any turn, at any time
        makers += [
            lambda: c.ChooseWord(pick([turn.drawer_id or 1, *seated]), pick([*turn.choices, "cat"])),
            lambda: c.AIAnswer(
                pick(owners + [99]),
                pick([turn.turn_no, turn.turn_no - 1]),
                draw(_INDEX) % 40,
                answer([*VOCAB, *near_word[:1]]),
                pick([None, 2, 345]),
            ),
        ]
    if state.phase == Phase.CHOOSING:
        makers += [lambda: c.ChooseWord(turn.drawer_id, pick(turn.choices))] * 4
    if state.phase == Phase.DRAWING:

        def ai_answers():
            owner = pick(owners)
            version = state.canvas(owner).ai_version + 1 + draw(_INDEX) % 3
            return c.AIAnswer(owner, turn.turn_no, version, answer([turn.word, turn.word, *VOCAB]), pick([None, 345]))

        makers += [ai_answers] * 5 + [lambda: c.Guess(pick(seekers), turn.word)] * 2
    return pick(makers)(), pick(WAITS_MS)


def answer_maker(draw):
    def answer(labels: list[str]) -> tuple[tuple[str, float], ...]:
        n = draw(_INDEX) % 4
        return tuple((labels[draw(_INDEX) % len(labels)], draw(_P)) for _ in range(n))

    return answer


# --- what each check reads ---------------------------------------------------------------------------------


def viewers(state: GameState) -> list[int | None]:
    """Every seated human, and someone without a seat (None)."""
    return [None, *(p.id for p in state.humans)]


def without_live_parts(view: PlayerView) -> PlayerView:
    """A view less what travels as events (the AI's top-3) and does not bump the version."""
    racers = tuple(replace(r, ai_top=None) for r in view.racers)
    return replace(view, ai=(), ai_threshold=0.0, racers=racers)


@functools.cache
def _word_pattern(word: str) -> re.Pattern:
    words = rules.normalize(word).split()
    return re.compile(r"(?<![a-z0-9])" + r"[^a-z0-9]+".join(map(re.escape, words)) + r"(?![a-z0-9])")


def says(text: str, word: str) -> bool:
    """`text` has the word in it as whole words, in any case and punctuation ("Hot-Dog!" says "hot dog")."""
    return _word_pattern(word).search(text.lower()) is not None


def secret_from(state: GameState, viewer: int | None) -> str | None:
    """The word `viewer` must not read now, if there is one."""
    turn = state.turn
    if turn is None or not turn.word or state.knows_word(viewer):
        return None
    return turn.word


# --- the invariants ----------------------------------------------------------------------------------------------


class Views:
    """Each viewer's view of a state, made once: a step compares the views before and after it."""

    def __init__(self, state: GameState):
        self.state = state
        self._made: dict[int | None, PlayerView] = {}

    def __call__(self, viewer: int | None) -> PlayerView:
        if viewer not in self._made:
            self._made[viewer] = view_for(self.state, viewer)
        return self._made[viewer]


def check_step(before: Views, after_views: Views, events: list, command, now: int) -> None:
    after = after_views.state
    # The state is JSON and comes back the same.
    assert from_json(json.loads(json.dumps(to_json(after)))) == after

    # The version never goes back; it moves exactly when ViewsChanged says so, and a view
    # (less its live parts) never changes without it.
    assert after.version >= before.state.version
    bumps = [e for e in events if isinstance(e, ViewsChanged)]
    assert (after.version > before.state.version) == bool(bumps)
    if bumps:
        assert bumps == [ViewsChanged(after.version)] and events[-1] == bumps[0]
    else:
        for viewer in viewers(before.state):
            assert without_live_parts(after_views(viewer)) == without_live_parts(before(viewer))

    # Phases move along the graph, one step per PhaseChanged.
    phase = before.state.phase
    for e in events:
        if isinstance(e, PhaseChanged):
            assert e.old == phase and e.new in rules.PHASE_TRANSITIONS[phase]
            phase = e.new
    assert phase == after.phase

    # Scores only grow within a game (a seat released and taken again in one step is a new player).
    gone = {e.player_id for e in events if isinstance(e, PlayerRemoved)}
    if not isinstance(command, BETWEEN):
        for p in after.players:
            old = before.state.player(p.id)
            assert old is None or p.id in gone or p.score >= old.score, (old, p)

    # A turn exists exactly while a game is being played; at most one drawer, a seated human in classic.
    assert (after.turn is None) == (after.phase in rules.BETWEEN_GAMES_PHASES)
    if after.mode == Mode.CLASSIC and after.phase in (Phase.CHOOSING, Phase.DRAWING):
        drawer = after.player(after.turn.drawer_id)
        assert drawer is not None and not drawer.is_ai
    if after.mode == Mode.RACE and after.turn is not None:
        assert after.turn.drawer_id is None
    host = after.player(after.host_id)
    assert (host is not None and not host.is_ai) or (after.host_id is None and not after.humans)
    assert (after.ai_player is not None) == rules.has_ai_player(after.mode, after.settings.ai_mode)
    assert len(after.humans) <= rules.seat_capacity(after.mode, after.settings.max_players)

    # The word stays secret from whoever has not guessed it: in views, AI labels and chat.
    for viewer in viewers(after):
        view = after_views(viewer)
        assert sum(p.is_drawer for p in view.players) <= 1
        if after.phase == Phase.CHOOSING and viewer != after.turn.drawer_id:
            assert view.choices is None
        word = secret_from(after, viewer)
        if word is None:
            continue
        # Every string of the view at once: its repr quotes each one, and quotes split words.
        assert view.word is None and not says(repr(view), word), (viewer, word, view)
        for e in events:
            if isinstance(e, ChatLine) and e.player_id != viewer and chat_visible_to(e.audience, viewer, after):
                assert not says(e.text, word), (viewer, word, e)
            if isinstance(e, AIGuessesUpdated):
                for label, _ in ai_guesses_for(after, e.owner, viewer, e.guesses) or []:
                    assert not says(label, word), (viewer, word, label)

    # Time: everything due by now has happened; nothing happens before the next wakeup, something at it.
    wakeup = next_wakeup(after)
    if wakeup is not None:
        assert wakeup > now
        assert wakeup in {after.deadline, after.hint_at} or any(
            p.disconnected_at is not None
            and wakeup - p.disconnected_at in (rules.SEAT_HOLD_SECONDS * 1000, rules.DRAWER_GRACE_SECONDS * 1000)
            for p in after.humans
        )
        assert apply(after, c.Tick(), wakeup - 1) == (after, [])
        moved, _ = apply(after, c.Tick(), wakeup)
        assert moved != after


def play(data, state: GameState, script: list, steps: int) -> None:
    """`script` first (no waits), then `steps` random commands, each checked."""
    now = state.created_at
    views = Views(state)
    for step in range(len(script) + steps):
        command, wait = (script[step], 0) if step < len(script) else commands(data.draw, state)
        now += wait
        before, frozen = state, to_json(state)
        try:
            state, events = apply(state, command, now)
        except GameError as refused:
            assert refused.message and refused.code
            assert state is before and to_json(state) == frozen, "a refused command changes nothing"
            continue
        after = Views(state)
        check_step(views, after, events, command, now)
        views = after


def seated(humans: int) -> list:
    return [c.Join(i, NAMES[i - 1], ADDRESSES[i % len(ADDRESSES)]) for i in range(1, humans + 1)]


# A few seconds by default; MACHINE_EXAMPLES=2000 for a long hunt.
QUICK = settings(
    max_examples=int(os.environ.get("MACHINE_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@QUICK
@given(
    data=st.data(),
    mode=st.sampled_from(rules.MODES),
    humans=st.integers(1, 6),
    steps=st.integers(5, 40),
    seed=st.integers(0, 3),
)
def test_random_games_in_every_mode_keep_the_invariants(data, mode, humans, steps, seed):
    state = new_room(mode=mode, seed=seed, vocabulary=VOCAB, now=T0)
    play(data, state, [*seated(humans), c.Start(1)], steps)


@QUICK
@given(data=st.data(), humans=st.integers(2, 6), steps=st.integers(15, 50), ai_mode=st.sampled_from(rules.AI_MODES))
def test_random_classic_games_with_each_ai_mode_keep_the_word_secret(data, humans, steps, ai_mode):
    """Classic rooms started at once, the AI mode chosen first: most steps happen mid-turn."""
    state = new_room(mode="classic", seed="s", vocabulary=VOCAB, now=T0)
    play(data, state, [*seated(humans), c.UpdateSettings(1, ai_mode=ai_mode), c.Start(1)], steps)
