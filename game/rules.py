"""Game rules as pure functions: no database, no sockets, no clock of their own.

Services call these with plain values; tests call them directly.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Iterable, Sequence
from enum import StrEnum

CHOOSE_SECONDS = 15
TURN_END_SECONDS = 6
# A drawer who loses the connection gets this long to come back before the turn ends.
DRAWER_GRACE_SECONDS = 10
# A disconnected player keeps seat and score this long.
SEAT_HOLD_SECONDS = 60
# Open sockets refresh their player's last_seen this often; a count not
# refreshed for PRESENCE_STALE_SECONDS was left by a dead web process.
PRESENCE_SECONDS = 15
PRESENCE_STALE_SECONDS = 45
# An empty room is deleted after this long.
EMPTY_ROOM_SECONDS = 60
# A player removed by the host or a vote may not join the room again from the same address for this long.
KICK_BAN_SECONDS = 300
# Below this top-1 probability the AI shows "not sure yet" and cannot score.
AI_CONFIDENCE = 0.25

SETTING_RANGES = {
    "rounds": (1, 10),
    "draw_seconds": (30, 240),
    "word_choices": (1, 5),
    "max_players": (2, 16),
    "solo_words": (1, 12),
}


# --- words -------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower-case, accents and punctuation folded, single spaces: what a guess is compared as."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = "".join(ch if ch.isalnum() else " " for ch in text.lower())
    return " ".join(text.split())


def is_correct(guess: str, word: str) -> bool:
    return normalize(guess) == normalize(word) != ""


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            i += 1
            j += 1
            continue
        edits += 1
        if edits > 1:
            return False
        if len(a) == len(b):
            i += 1
        j += 1
    return edits + (len(b) - j) + (len(a) - i) <= 1


def _plural_forms(word: str) -> set[str]:
    forms = {word + "s", word + "es"}
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    if word.endswith("s"):
        forms.add(word[:-1])
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    return forms


def is_close(guess: str, word: str) -> bool:
    """A near miss: one edit away, or the singular/plural of the word (not the word itself)."""
    g, w = normalize(guess), normalize(word)
    if not g or g == w:
        return False
    return _edit_distance_at_most_one(g, w) or g in _plural_forms(w) or w in _plural_forms(g)


def word_mask(word: str, revealed: Iterable[int] = ()) -> str:
    """Blanks for letters, spaces and hyphens kept, revealed positions shown: "_ a _" style per char."""
    shown = set(revealed)
    return "".join(ch if (not ch.isalnum() or i in shown) else "_" for i, ch in enumerate(word))


def letter_positions(word: str) -> list[int]:
    return [i for i, ch in enumerate(word) if ch.isalnum()]


def hint_count(word: str) -> int:
    """How many letters are given away by the end of the turn: about a third, never all."""
    n = len(letter_positions(word))
    return 0 if n <= 2 else min(n - 1, max(1, n // 3))


def hint_times(word: str, draw_seconds: int) -> list[float]:
    """Seconds into the turn when each hint is revealed: spread over the second half."""
    k = hint_count(word)
    return [draw_seconds * (0.5 + 0.45 * (i + 1) / (k + 1)) for i in range(k)]


def next_hint_position(word: str, revealed: Sequence[int], rng: random.Random) -> int | None:
    hidden = [i for i in letter_positions(word) if i not in set(revealed)]
    if len(hidden) <= 1:
        return None
    return rng.choice(hidden)


def pick_choices(labels: Sequence[str], n: int, used: Iterable[str], rng: random.Random) -> list[str]:
    """N distinct words from the model's categories, avoiding words already drawn this game if possible."""
    used = set(used)
    pool = [w for w in labels if w not in used] or list(labels)
    return rng.sample(pool, min(n, len(pool)))


# --- turns -------------------------------------------------------------------


def next_drawer(order: Sequence[int], drawn: Iterable[int], present: Iterable[int]) -> int | None:
    """The next player in this round's order who is present and has not drawn yet."""
    drawn, present = set(drawn), set(present)
    for pid in order:
        if pid in present and pid not in drawn:
            return pid
    return None


def extend_order(order: Sequence[int], players: Iterable[int]) -> list[int]:
    """Late joiners draw at the end of the current round."""
    out = list(order)
    out.extend(p for p in players if p not in out)
    return out


def everyone_guessed(guessers: Iterable[int], guessed: Iterable[int]) -> bool:
    guessers = set(guessers)
    return bool(guessers) and guessers <= set(guessed)


def votes_needed(eligible_voters: int) -> int:
    """A votekick needs a strict majority of the connected players other than the target."""
    return eligible_voters // 2 + 1


# --- scoring -----------------------------------------------------------------


def guesser_points(elapsed: float, draw_seconds: float, order: int) -> int:
    """Faster and earlier guesses score more: up to 250 for speed plus 50/30/15 for being 1st/2nd/3rd."""
    remaining = max(0.0, 1.0 - elapsed / max(draw_seconds, 1.0))
    bonus = {1: 50, 2: 30, 3: 15}.get(order, 0)
    return 50 + round(250 * remaining) + bonus


def drawer_points(human_guessers: int, ai_recognised: bool) -> int:
    """The drawer earns per human who got it, and a bonus when the AI recognised the drawing."""
    return 60 * human_guessers + (100 if ai_recognised else 0)


def ai_threshold(n_labels: int | None = None) -> float:
    """Confidence needed to count: AI_CONFIDENCE, or well above chance for a model with few categories."""
    return max(AI_CONFIDENCE, 1.5 / n_labels) if n_labels else AI_CONFIDENCE


def ai_scores(
    top_label: str, top_p: float, word: str, humans_guessed: int, already: bool, n_labels: int | None = None
) -> bool:
    """The AI scores when its confident top-1 is the word before any human guessed it."""
    return not already and humans_guessed == 0 and top_p >= ai_threshold(n_labels) and is_correct(top_label, word)


def podium(scores: Sequence[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
    """(id, name, score) sorted best first; ties keep join order."""
    return sorted(scores, key=lambda s: -s[2])


# === The state machine's rules (game.machine) ===============================================
# Everything below is read by game.machine and game.player_views; the functions above keep
# serving today's services until those move onto the machine.


class Mode(StrEnum):
    """How a room plays; fixed when the room is created ("Play solo" makes a solo room)."""

    CLASSIC = "classic"  # one draws, the others (and the AI) guess
    SOLO = "solo"  # Quick, Draw!: one player draws, the AI guesses
    RACE = "race"  # everyone draws the same word; the AI judges who is recognised first


class AIMode(StrEnum):
    """The AI's part in a classic room."""

    SHOWN = "shown"  # a rival player whose guesses everyone sees (the word masked)
    HIDDEN = "hidden"  # a rival player whose guesses only those who know the word see
    OFF = "off"  # no AI player


class Phase(StrEnum):
    LOBBY = "lobby"
    CHOOSING = "choosing"
    DRAWING = "drawing"
    TURN_END = "turn_end"
    GAME_OVER = "game_over"


MODES = tuple(m.value for m in Mode)
AI_MODES = tuple(m.value for m in AIMode)
PHASES = tuple(p.value for p in Phase)

# The phase graph: each phase's possible next phases. A room goes to game over through the
# end of the turn it was in (choosing and drawing end in turn_end first).
PHASE_TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.LOBBY: frozenset({Phase.CHOOSING, Phase.DRAWING}),
    Phase.CHOOSING: frozenset({Phase.DRAWING, Phase.TURN_END}),
    Phase.DRAWING: frozenset({Phase.TURN_END}),
    Phase.TURN_END: frozenset({Phase.CHOOSING, Phase.DRAWING, Phase.GAME_OVER}),
    Phase.GAME_OVER: frozenset({Phase.LOBBY, Phase.CHOOSING, Phase.DRAWING}),
}
IN_GAME_PHASES = frozenset({Phase.CHOOSING, Phase.DRAWING, Phase.TURN_END})
BETWEEN_GAMES_PHASES = frozenset({Phase.LOBBY, Phase.GAME_OVER})

# The settings a host may change, with SETTING_RANGES above for the numbers: the protocol, the
# model's constraints and the front end read these tables too.
SETTING_CHOICES: dict[str, tuple[str, ...]] = {"ai_mode": AI_MODES}
SETTING_FLAGS = ("is_public",)
SETTING_DEFAULTS: dict[str, int | bool | str] = {
    "rounds": 3,
    "draw_seconds": 80,
    "word_choices": 3,
    "max_players": 8,
    "is_public": False,
    "ai_mode": AIMode.SHOWN.value,
    "solo_words": 6,
}
# Where a mode starts from other defaults: a race is drawn against the clock by everyone at once.
MODE_SETTING_DEFAULTS: dict[Mode, dict[str, int | bool | str]] = {Mode.RACE: {"draw_seconds": 60}}
SETTING_LABELS = {
    "rounds": "Rounds",
    "draw_seconds": "Drawing time",
    "word_choices": "Word choices",
    "max_players": "Players",
    "is_public": "Public",
    "ai_mode": "AI",
    "solo_words": "Words",
}

# Fewest connected humans to start, and fewest seated humans to go on with a game.
MIN_HUMANS: dict[Mode, int] = {Mode.CLASSIC: 2, Mode.SOLO: 1, Mode.RACE: 2}
SOLO_SEATS = 1
SOLO_SECONDS = 20  # to draw one word in solo
SOLO_TURN_END_SECONDS = 3
MAX_SEATS_PER_ADDRESS = 3  # default of the room's limit; the integration sets it from settings
AI_PLAYER_ID = 0  # the AI's seat; the integration numbers humans from 1
AI_NAME = "AI"
NAME_MAX_LENGTH = 20


def setting_defaults(mode: Mode | str) -> dict[str, int | bool | str]:
    return {**SETTING_DEFAULTS, **MODE_SETTING_DEFAULTS.get(Mode(mode), {})}


def setting_problem(key: str, value: object) -> str | None:
    """Why `value` cannot be the setting `key` (a sentence for the host), or None if it can."""
    label = SETTING_LABELS.get(key, key)
    if key in SETTING_RANGES:
        lo, hi = SETTING_RANGES[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            return f"{label} must be between {lo} and {hi}"
    elif key in SETTING_CHOICES:
        if value not in SETTING_CHOICES[key]:
            return f"{label} must be one of: {', '.join(SETTING_CHOICES[key])}"
    elif key in SETTING_FLAGS:
        if not isinstance(value, bool):
            return f"{label} must be on or off"
    else:
        return f"There is no setting called {key}"
    return None


def seat_capacity(mode: Mode | str, max_players: int) -> int:
    """How many humans the room seats."""
    return SOLO_SEATS if Mode(mode) == Mode.SOLO else max_players


def has_ai_player(mode: Mode | str, ai_mode: AIMode | str) -> bool:
    """The AI sits as a rival player in classic rooms; in solo and race it is the judge, not a player."""
    return Mode(mode) == Mode.CLASSIC and AIMode(ai_mode) != AIMode.OFF


def draw_seconds_for(mode: Mode | str, draw_seconds: int) -> int:
    return SOLO_SECONDS if Mode(mode) == Mode.SOLO else draw_seconds


def turn_end_seconds_for(mode: Mode | str) -> int:
    return SOLO_TURN_END_SECONDS if Mode(mode) == Mode.SOLO else TURN_END_SECONDS


def phase_seconds(mode: Mode | str, phase: Phase | str, draw_seconds: int) -> int | None:
    """The full length of a timed phase (for the countdown ring); None for untimed phases."""
    return {
        Phase.CHOOSING: CHOOSE_SECONDS,
        Phase.DRAWING: draw_seconds_for(mode, draw_seconds),
        Phase.TURN_END: turn_end_seconds_for(mode),
    }.get(Phase(phase))


def words_for_game(mode: Mode | str, rounds: int, solo_words: int) -> int:
    """Rounds in classic; words in solo and race (one word per round)."""
    return solo_words if Mode(mode) == Mode.SOLO else rounds


# --- names -------------------------------------------------------------------------------------

# Bidi controls and zero-width characters are Unicode category Cf; these are not, yet show as
# blanks (a name of only these would be invisible).
_BLANK_LOOKING = frozenset("\u2800\u3164\u115f\u1160\uffa0\u180e")
# Letters of other scripts drawn like the Latin letters of the AI's name.
_LOOK_ALIKES = str.maketrans({"а": "a", "α": "a", "і": "i", "ι": "i", "ӏ": "i", "ı": "i"})
_RESERVED_NAME_KEYS = frozenset({"ai"})


def clean_name(raw: str) -> str:
    """The name as stored and shown: NFKC, no invisible or control characters, single spaces."""
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" and ch not in _BLANK_LOOKING)
    return " ".join(text.split())


def name_key(name: str) -> str:
    """What two names are compared as: case, accents, spaces and punctuation ignored, look-alikes folded."""
    text = unicodedata.normalize("NFKD", clean_name(name).casefold())
    kept = (ch for ch in text if unicodedata.category(ch)[0] not in "MPZ")
    return "".join(kept).translate(_LOOK_ALIKES)


def name_problem(name: str, taken_names: Iterable[str]) -> str | None:
    """Why a player may not take `name` beside `taken_names` (a sentence for them), or None."""
    cleaned = clean_name(name)
    if not cleaned:
        return "Pick a name"
    if len(cleaned) > NAME_MAX_LENGTH:
        return f"Names can be at most {NAME_MAX_LENGTH} characters long"
    key = name_key(cleaned)
    if not key:
        return "Pick a name with at least one letter or digit"
    if key in _RESERVED_NAME_KEYS:
        return "That name is taken by the AI; pick another"
    if key in {name_key(taken) for taken in taken_names}:
        return "Someone here already has that name; pick another"
    return None


# --- chat --------------------------------------------------------------------------------------


def mentions_word(text: str, word: str) -> bool:
    """The word appears in `text` as whole words (normalised: "Cat's!" mentions "cat", "cats" does not)."""
    w = normalize(word)
    return bool(w) and f" {w} " in f" {normalize(text)} "


def gives_word_away(text: str, word: str) -> bool:
    """A drawer's line that says the word, or a near miss of it, anywhere in it.

    Every run of as many words as the word has is compared: the word itself, its singular or plural,
    and (for words of four letters or more, where one edit is rarely another common word) anything
    one edit away. Runs of up to two words more are compared without their spaces ("butter fly").
    """
    w = normalize(word)
    if not w:
        return False
    tokens, n, solid = normalize(text).split(), len(w.split()), w.replace(" ", "")
    for i in range(len(tokens) - n + 1):
        window = " ".join(tokens[i : i + n])
        if window == w or window in _plural_forms(w) or w in _plural_forms(window):
            return True
        if len(w) >= 4 and _edit_distance_at_most_one(window, w):
            return True
        if any("".join(tokens[i : i + k]) == solid for k in range(n, n + 3)):
            return True
    return False


# --- the AI ------------------------------------------------------------------------------------

AI_MASK_CHAR = "▮"


def ai_sure_of(guesses: Sequence[tuple[str, float]], n_labels: int | None = None) -> str | None:
    """The label the AI is sure of: its top-1, if confident enough to count (else None)."""
    if not guesses or float(guesses[0][1]) < ai_threshold(n_labels):
        return None
    return str(guesses[0][0])


def ai_names_word(guesses: Sequence[tuple[str, float]], word: str, n_labels: int | None = None) -> bool:
    """The AI's top-1 is the word, confidently enough to count."""
    sure_of = ai_sure_of(guesses, n_labels)
    return sure_of is not None and is_correct(sure_of, word)


# Every AI answer masks its three labels for the guessers (twice a second per canvas), and the labels and
# words are the model's few hundred: remembered, a mask costs a lookup.
@functools.lru_cache(maxsize=4096)
def mask_word_in(label: str, word: str) -> str:
    """`label` with every whole-word occurrence of `word` masked: "school bus" -> "▮▮▮▮▮▮ ▮▮▮" for the
    word itself, "hot ▮▮▮" for the word "dog"; a label without the word comes back as it is."""
    target = normalize(word).split()
    if not target:
        return label
    runs: list[tuple[int, int]] = []  # (start, end) of each run of letters and digits
    start = None
    for i, ch in enumerate(f"{label} "):
        if ch.isalnum() and start is None:
            start = i
        elif not ch.isalnum() and start is not None:
            runs.append((start, i))
            start = None
    tokens = [normalize(label[a:b]) for a, b in runs]
    hidden = [False] * len(label)
    n = len(target)
    for i in range(len(runs) - n + 1):
        if tokens[i : i + n] == target:
            for a, b in runs[i : i + n]:
                hidden[a:b] = [True] * (b - a)
    return "".join(AI_MASK_CHAR if h else ch for ch, h in zip(label, hidden, strict=True))


# --- scoring -----------------------------------------------------------------------------------

DRAWER_POINTS_PER_GUESSER = 60
DRAWER_POINTS_BEFORE_AI = 40
SOLO_BASE_POINTS = 50
SOLO_SPEED_POINTS = 250
# Race: points by the order in which the AI recognises the drawings; everyone later gets the last.
RACE_POINTS = (100, 80, 60, 50, 40, 30, 20, 10)


def after_ai_points(points: int) -> int:
    """A human who guesses after the AI named the word scores half (rounded half up)."""
    return (points + 1) // 2


def classic_drawer_points(humans_guessed: int, humans_before_ai: int) -> int:
    """Per human who guessed, and more for each who beat the AI: a drawing people get and the AI does not."""
    return DRAWER_POINTS_PER_GUESSER * humans_guessed + DRAWER_POINTS_BEFORE_AI * humans_before_ai


def solo_points(elapsed_ms: int, seconds: int) -> int:
    """The sooner the AI recognises a solo drawing, the more it scores."""
    left = max(0.0, 1.0 - elapsed_ms / (max(seconds, 1) * 1000))
    return SOLO_BASE_POINTS + round(SOLO_SPEED_POINTS * left)


def race_points(place: int) -> int:
    """Points for the `place`-th drawing the AI recognised in a race round (1 = the winner)."""
    return RACE_POINTS[min(place, len(RACE_POINTS)) - 1]


# --- how turns end -----------------------------------------------------------------------------

END_REASONS = {
    "everyone_guessed": "everyone guessed it",
    "time_up": "time is up",
    "drawer_left": "the drawer left",
    "drawer_disconnected": "the drawer lost the connection",
    "too_few_players": "not enough players",
    "ai_got_it": "the AI recognised it",
    "all_recognised": "the AI recognised every drawing",
}


# --- the rules panel ---------------------------------------------------------------------------


def rule_lines(mode: Mode | str, ai_mode: AIMode | str = AIMode.SHOWN) -> tuple[str, ...]:
    """The rules as players read them, built from the numbers the code scores with."""
    mode, ai_mode = Mode(mode), AIMode(ai_mode)
    if mode == Mode.SOLO:
        return (
            f"Draw each word in {SOLO_SECONDS} seconds while the AI tries to recognise it.",
            f"The sooner the AI recognises your drawing, the more you score "
            f"({SOLO_BASE_POINTS} to {SOLO_BASE_POINTS + SOLO_SPEED_POINTS}).",
        )
    if mode == Mode.RACE:
        places = ", ".join(str(p) for p in RACE_POINTS)
        return (
            "Everyone draws the same word at once, each on their own canvas.",
            f"The AI watches every canvas: drawings score {places} in the order it recognises them "
            f"({RACE_POINTS[-1]} for everyone after that).",
            "The round ends when the AI has recognised every drawing, or when time is up.",
        )
    fastest, slowest = guesser_points(0, 1, 0), guesser_points(1, 1, 0)
    bonuses = "/".join(str(guesser_points(0, 1, k) - fastest) for k in (1, 2, 3))
    lines = [
        "Take turns drawing: the drawer picks a word, the others guess it in the chat.",
        f"A right guess scores {slowest} to {fastest} by speed, plus {bonuses} for the first three.",
        "Letters of the word are revealed as hints in the second half of the turn.",
        f"The drawer scores {DRAWER_POINTS_PER_GUESSER} for each player who guesses the word.",
    ]
    if ai_mode == AIMode.OFF:
        lines.append("The AI is not playing in this room.")
        return tuple(lines)
    lines += [
        "The AI is a player too: when it names the word it scores like a guesser, "
        "and everyone who guesses after it scores half.",
        f"The drawer scores {DRAWER_POINTS_BEFORE_AI} more for each player who guessed before the AI.",
        "You see the AI's guesses live; the word stays masked until you guess it."
        if ai_mode == AIMode.SHOWN
        else "The AI's guesses are hidden until you guess the word.",
    ]
    return tuple(lines)
