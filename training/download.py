"""Fetch the Quick, Draw! dataset from Google's bucket, resumably, and stream it as training samples.

The full dataset is tens of gigabytes (one file per category, up to a few hundred
megabytes each), so downloads have to survive dropped connections: every file is
written to `<name>.part` first, an interrupted transfer is resumed with an HTTP
`Range` request, and only a complete, size-checked file is renamed into place.
A finished file in the cache is never fetched again.

Binary files are stored exactly where the `quickdraw` package looks for them
(`<cache_dir>/<category>.bin`), so its parser reads them without touching the
network; ndjson files go to `<cache_dir>/<fmt>/<category>.ndjson`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from urllib.parse import quote

import requests
import urllib3
from quickdraw.names import QUICK_DRAWING_FILES, QUICK_DRAWING_NAMES
from tqdm import tqdm

from training.sources import Sample, iter_ndjson

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"
FORMATS = ("binary", "simplified", "raw")
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB: few syscalls, yet the progress bar still moves on a slow link
DEFAULT_TIMEOUT = 60.0  # seconds to connect, and between two reads of the body
# Seconds before the n-th automatic resume is `RETRY_BACKOFF_SECONDS * 2**n` (capped at 30);
# a module constant so tests can set it to zero.
RETRY_BACKOFF_SECONDS = 1.0

_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


class DownloadError(RuntimeError):
    """A file could not be fetched: HTTP error, dropped connection or a size that does not add up."""


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
    Two processes must not download the same `dest` at the same time.
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
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


def _binary_samples(cache_dir: Path, category: str, max_drawings: int | None) -> Iterator[Sample]:
    """Parse a downloaded `.bin` with the `quickdraw` package; the file must already be cached."""
    from quickdraw import QuickDrawDataGroup  # imports PIL; only needed for the binary format

    # max_drawings=None makes the package read the whole file.
    group = QuickDrawDataGroup(category, max_drawings=max_drawings, cache_dir=str(cache_dir), print_messages=False)
    for drawing in group.drawings:
        # image_data is the stroke list as (xs, ys) pairs, the same data `.strokes`
        # holds as (x, y) points, without building a tuple per point.
        strokes = [[list(xs), list(ys)] for xs, ys in drawing.image_data]
        yield Sample(word=category, drawing=strokes, key=str(drawing.key_id))


class QuickDrawDownloadSource:
    """Quick, Draw! drawings straight from Google's bucket (or a mirror), downloaded once into `cache_dir`.

    Formats: "binary" (the smallest download, simplified 0-255 strokes), "simplified"
    (the same drawings as ndjson) and "raw" (original coordinates with timestamps).

    Streaming is per category: ndjson files are read line by line, but the binary
    parser of the `quickdraw` package loads a whole category into memory before the
    first sample comes out (up to a few hundred thousand drawings). `max_per_category`
    bounds that, and the number of samples in every format; None means all.
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
        """Download `category` now (a no-op once cached), then iterate over its drawings."""
        path = self.download(category)
        if self.fmt == "binary":
            return _binary_samples(self.cache_dir, category, self.max_per_category)
        return islice(iter_ndjson(path, word=category), self.max_per_category)
