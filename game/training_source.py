"""Drawings from finished games as training data, labelled with their word."""

from __future__ import annotations

from collections.abc import Iterator

from game.models import Turn
from training.sources import Sample


class GameDrawingsSource:
    """Finished turns with a word and at least one stroke, minus those an admin excluded."""

    name = "games"

    def _turns(self):
        return Turn.objects.filter(ended_at__isnull=False, excluded_from_training=False).exclude(word="").exclude(strokes=[])

    def categories(self) -> list[str]:
        return sorted(set(self._turns().values_list("word", flat=True)))

    def iter_category(self, category: str) -> Iterator[Sample]:
        for turn in self._turns().filter(word=category).iterator():
            yield Sample(word=category, drawing=turn.strokes, key=f"game-turn-{turn.pk}")
