"""Where training drawings come from: a local folder of ndjson, Quick, Draw! downloads, finished games.

Every source yields :class:`Sample` objects category by category and never
holds more than one category's file open, so the full dataset (millions of
drawings) streams through the same code as the 69,000-drawing sample.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# One drawing in ten is held out for validation, chosen by a hash of its key so
# the split is the same on every run and on every machine.
VALIDATION_MODULUS = 10


@dataclass(frozen=True)
class Sample:
    word: str
    drawing: list  # strokes in the dataset's raw or simplified format
    key: str


def is_validation(key: str) -> bool:
    return zlib.crc32(key.encode()) % VALIDATION_MODULUS == 0


class DrawingSource(Protocol):
    name: str

    def categories(self) -> list[str]: ...

    def iter_category(self, category: str) -> Iterator[Sample]: ...


def sample_key(record: dict, path: Path, line_no: int) -> str:
    """A drawing's identity for the train/validation split: its key_id, or its file and line when it has none."""
    return str(record.get("key_id") or f"{path.stem}:{line_no}")


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
        for s in self.sources:
            if category in s.categories():
                yield from s.iter_category(category)
