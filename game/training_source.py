"""What the training side may read of finished games: their words and drawings (reads only, no training import).

A turn counts when it ended with a word and at least one stroke, and an admin
did not exclude it from training (Game > Turns). `training.sources.GameDrawingsSource`
turns these into training samples.
"""

from __future__ import annotations

from collections.abc import Iterator

from game.models import Turn


def _drawings_for_training():
    return Turn.objects.filter(ended_at__isnull=False, excluded_from_training=False).exclude(word="").exclude(strokes=[])


def words_with_drawings() -> list[str]:
    """The words finished turns were drawn for, sorted."""
    return sorted(set(_drawings_for_training().values_list("word", flat=True)))


def drawings_of(*, word: str) -> Iterator[tuple[int, list]]:
    """(turn id, strokes in the Quick, Draw! raw format) of every finished drawing of `word`."""
    yield from _drawings_for_training().filter(word=word).values_list("pk", "strokes").iterator()
