"""What the training side may read of finished games: their words and drawings (reads only, no training import).

A drawing counts when its turn ended, it has a word and at least one stroke, and an admin did not
exclude it from training (Game > Drawings). `training.sources.GameDrawingsSource` turns these
into training samples.
"""

from __future__ import annotations

from collections.abc import Iterator

from game.models import Drawing


def _drawings_for_training():
    return (
        Drawing.objects.filter(turn__ended_at__isnull=False, excluded_from_training=False)
        .exclude(word="")
        .exclude(strokes=[])
    )


def words_with_drawings() -> list[str]:
    """The words finished drawings were drawn for, sorted."""
    return sorted(set(_drawings_for_training().values_list("word", flat=True)))


def drawings_of(*, word: str) -> Iterator[tuple[int, list]]:
    """(drawing id, strokes in the Quick, Draw! raw format) of every finished drawing of `word`."""
    yield from _drawings_for_training().filter(word=word).values_list("pk", "strokes").iterator()
