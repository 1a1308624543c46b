"""Game rules as pure functions: no database, no sockets, no clock of their own.

Services call these with plain values; tests call them directly.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Sequence

CHOOSE_SECONDS = 15
TURN_END_SECONDS = 6
MIN_PLAYERS = 2
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


def ai_scores(top_label: str, top_p: float, word: str, humans_guessed: int, already: bool,
              n_labels: int | None = None) -> bool:
    """The AI scores when its confident top-1 is the word before any human guessed it."""
    return (not already and humans_guessed == 0 and top_p >= ai_threshold(n_labels)
            and is_correct(top_label, word))


def podium(scores: Sequence[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
    """(id, name, score) sorted best first; ties keep join order."""
    return sorted(scores, key=lambda s: -s[2])
