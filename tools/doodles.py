"""Real Quick, Draw! doodles, drawn over the protocol the way a browser sends them.

One replay serves every tool: the bots, the load benchmark's drawers and the
flooders (faster). A browser sends the stroke being drawn as `points` batches
about every 50 ms and the whole stroke as `stroke` when the pen lifts; so does
:func:`replay`, at a :class:`Pace`.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from game.protocol import CANVAS_HEIGHT, CANVAS_WIDTH, MAX_POINTS_PER_BATCH

Point = tuple[float, float]
# Human pace: a batch of points every 50 ms (what browsers send), about one stroke a second.
BATCH_SECONDS = 0.05
BATCHES_PER_STROKE = 16  # 0.8 s of pen-down ...
PEN_UP_SECONDS = 0.2  # ... and a short lift before the next stroke.
# Resampled strokes keep points this close, like a browser's pointer events.
POINT_SPACING_PX = 6.0
MAX_POINTS_PER_DRAWN_STROKE = BATCHES_PER_STROKE * MAX_POINTS_PER_BATCH
BRUSH_WIDTH = 10


class DrawingLibrary:
    """Real Quick, Draw! drawings per word, read lazily from ``<folder>/<word>.ndjson``.

    A bot draws what a person drew for that word, so the AI sees realistic
    input; words without a file fall back to any category, which still makes a
    drawing (just not a recognisable one).
    """

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self._cache: dict[str, list[str]] = {}

    def _lines(self, word: str) -> list[str]:
        if word not in self._cache:
            path = self.folder / f"{word}.ndjson"
            lines = path.read_text().splitlines() if path.is_file() else []
            self._cache[word] = [line for line in lines if line.strip()]
        return self._cache[word]

    def pick(self, word: str, rng: random.Random) -> list[list[list[int]]]:
        """One random simplified drawing (strokes of [xs, ys]) of `word`, or of any category."""
        lines = self._lines(word)
        if not lines:
            files = sorted(self.folder.glob("*.ndjson"))
            if not files:
                raise FileNotFoundError(f"no Quick, Draw! drawings in {self.folder}")
            lines = self._lines(rng.choice(files).stem)
        return json.loads(rng.choice(lines))["drawing"]

    def strokes(self, word: str, rng: random.Random) -> list[list[Point]]:
        """A drawing of `word` as a browser would send it: on the canvas, points every few pixels."""
        return [densify(s) for s in to_canvas_strokes(self.pick(word, rng)) if s]


def to_canvas_strokes(drawing: list[list[list[int]]]) -> list[list[Point]]:
    """A 0-255 simplified drawing centred on the logical canvas, as (x, y) strokes."""
    scale = (min(CANVAS_WIDTH, CANVAS_HEIGHT) - 100) / 255
    dx, dy = (CANVAS_WIDTH - 255 * scale) / 2, (CANVAS_HEIGHT - 255 * scale) / 2
    return [
        [(round(dx + x * scale, 1), round(dy + y * scale, 1)) for x, y in zip(xs, ys, strict=False)]
        for xs, ys, *_ in drawing
    ]


def densify(
    stroke: list[Point], spacing: float = POINT_SPACING_PX, limit: int = MAX_POINTS_PER_DRAWN_STROKE
) -> list[Point]:
    """Points every `spacing` px along the stroke: simplified data has few, a pointer many."""
    if len(stroke) < 2:
        return list(stroke)
    length = sum(math.dist(a, b) for a, b in zip(stroke, stroke[1:], strict=False))
    spacing = max(spacing, length / max(1, limit - 1))
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        steps = max(1, int(math.dist((x0, y0), (x1, y1)) // spacing))
        out.extend(
            (round(x0 + (x1 - x0) * i / steps, 1), round(y0 + (y1 - y0) * i / steps, 1)) for i in range(1, steps + 1)
        )
    return out[:limit]


def batches(points: list, n: int) -> list[list]:
    """Split points into at most `n` consecutive, non-empty, similar-sized batches."""
    n = max(1, min(n, len(points)))
    size = math.ceil(len(points) / n)
    return [points[i : i + size] for i in range(0, len(points), size)]


def widest_stroke(n: int, seed: int = 0) -> list[list]:
    """A legal stroke of `n` points, every point as long in JSON as the client may make it."""
    return [
        [round(799.9 - (i + seed) % 7 / 10, 1), round(599.9 - (i + seed) % 5 / 10, 1), 999_999 - i] for i in range(n)
    ]


def circle_stroke(n: int, turn: float = 0.0) -> list[list]:
    """A legal stroke of `n` points that is long in JSON (~13 bytes a point) yet cheap to classify: a circle."""
    cx, cy, r = CANVAS_WIDTH / 2, CANVAS_HEIGHT / 2, min(CANVAS_WIDTH, CANVAS_HEIGHT) / 2 - 50
    return [
        [
            round(cx + r * math.cos(2 * math.pi * i / n + turn), 1),
            round(cy + r * math.sin(2 * math.pi * i / n + turn), 1),
            i,
        ]
        for i in range(n)
    ]


@dataclass(frozen=True)
class Pace:
    """How fast a drawer draws: a points batch every `batch_seconds`, a pen lift of `pen_up_seconds`."""

    batch_seconds: float = BATCH_SECONDS
    pen_up_seconds: float = PEN_UP_SECONDS

    def times(self, factor: float) -> Pace:
        return Pace(self.batch_seconds / factor, self.pen_up_seconds / factor)


HUMAN = Pace()
Send = Callable[[dict], Awaitable[None]]
SentHook = Callable[[int, list, float], None]  # (stroke index, points, wall-clock time it was sent)


async def replay(
    send: Send,
    strokes: list[list[Point]],
    *,
    pace: Pace = HUMAN,
    still_drawing: Callable[[], bool] = lambda: True,
    on_points: SentHook | None = None,
    on_stroke: SentHook | None = None,
) -> int:
    """Draw `strokes` as a browser does; returns how many were finished before `still_drawing()` turned false.

    Each point carries its time in ms since the drawing began, spread over its batch's interval.
    """
    began = time.monotonic()
    batch_ms = pace.batch_seconds * 1000
    for index, stroke in enumerate(strokes):
        done: list[list] = []
        for batch in batches(stroke, BATCHES_PER_STROKE):
            if not still_drawing():
                return index
            t = int((time.monotonic() - began) * 1000)
            points = [[x, y, t + int(batch_ms * i / len(batch))] for i, (x, y) in enumerate(batch)]
            done.extend(points)
            sent = time.time()
            await send({"type": "points", "stroke": index, "points": points, "width": BRUSH_WIDTH})
            if on_points is not None:
                on_points(index, points, sent)
            await asyncio.sleep(pace.batch_seconds)
        if not still_drawing():
            return index
        sent = time.time()
        await send({"type": "stroke", "stroke": index, "points": done, "width": BRUSH_WIDTH})
        if on_stroke is not None:
            on_stroke(index, done, sent)
        await asyncio.sleep(pace.pen_up_seconds)
    return len(strokes)
