"""A guessing bot's eye: it looks at the drawing it is shown and names what it sees, as a person would.

The AI's chart does not tell a guesser the word (game.rules.mask_word_in masks it until they know it),
so, like the people in the room, a bot looks at the drawing itself: through the shipped model (a
person's eye, not the server's AI, which may run another model). It guesses only what it sees that
fits the blanks it is shown (the word mask, hint letters included).
"""

from __future__ import annotations

import functools

from django.conf import settings

from inference.classifier import Classifier
from inference.model_store import read_model_dir
from inference.recognize import recognize
from inference.strokes import StrokeError

LOOKS = 5  # how many things a bot considers a drawing might be


@functools.cache
def _classifier() -> Classifier:
    folder = read_model_dir(settings.SHIPPED_MODEL_DIR)
    return Classifier(folder.model_file, folder.labels)


def sees(strokes: list[dict], k: int = LOOKS) -> list[str]:
    """What a drawing (strokes of compact [x, y] points, as the client keeps them) looks like, likeliest first."""
    drawing = [[[p[0] for p in s["points"]], [p[1] for p in s["points"]]] for s in strokes if s.get("points")]
    try:
        return [guess.label for guess in recognize(drawing, _classifier(), k)] if drawing else []
    except StrokeError:
        return []


def fits(word: str, mask: str | None) -> bool:
    """`word` fits the blanks shown for the secret word ("__g", a blank per letter; spaces, hyphens, hints kept)."""
    if not mask or len(word) != len(mask):
        return False
    return all(w.isalnum() if m == "_" else w.lower() == m.lower() for w, m in zip(word, mask, strict=True))
