"""Timing one live guess against the tutorial path, on one core: what `manage.py bench_inference` measures.

A guess runs on every stroke a player draws, so its cost per drawing decides
how many players one worker core can serve. This times the live path stage by
stage (``simplify`` -> ``rasterize`` -> ``Classifier.probabilities``) on real
Quick, Draw! drawings, next to:

* the "tutorial path" (`inference.tutorial_path`: PIL canvas, LANCZOS resize,
  PNG round trip) on the same drawings and the same model, as a baseline;
* our path on raw-format versions of the same drawings (canvas scale, dense
  float points, timestamps), because browsers send raw strokes.

Both paths run interleaved, drawing by drawing, so background load hits them alike.
That also leaves the live path's caches cold at every drawing (the tutorial
path's canvas, PNG and resampling run in between), so the live path is timed
once more in a pass of its own (``alone_*``): drawing after drawing, as a worker
serving guesses back to back runs it.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inference.classifier import Classifier
from inference.evaluation import EvaluationError, data_files, read_drawings
from inference.recognize import live_input
from inference.strokes import simplify
from inference.tutorial_path import tutorial_probabilities

WARMUP = 50
RAW_SCALE = 2.5
RAW_DENSITY = 5  # points per simplified segment in the raw version
SEED = 1


def sample_drawings(folder: Path, n: int) -> list:
    """`n` drawings spread over every category (evenly spaced files when n is smaller than their count)."""
    files = data_files(folder)
    count = min(n, len(files))
    chosen = [files[i * len(files) // count] for i in range(count)]
    per_file = math.ceil(n / count)
    lists = [read_drawings(path, per_file)[0] for path in chosen]
    spread = [drawings[i] for i in range(per_file) for drawings in lists if i < len(drawings)]
    return spread[:n]


def fake_raw(drawing: list, rng: np.random.Generator) -> list:
    """A plausible raw drawing made from a simplified one.

    Canvas scale (x2.5), an offset, ~5x denser points along each segment with
    sub-pixel jitter (floats, as browsers report), and millisecond timestamps:
    the shape a live client sends, which costs `simplify` more than simplified
    input does.
    """
    offset = rng.uniform(10.0, 300.0, size=2)
    clock = 0.0
    strokes = []
    for stroke in drawing:
        if not len(stroke[0]):
            continue
        xs = np.asarray(stroke[0], dtype=np.float64) * RAW_SCALE + offset[0]
        ys = np.asarray(stroke[1], dtype=np.float64) * RAW_SCALE + offset[1]
        if len(xs) > 1:
            at = (np.arange(len(xs) - 1)[:, None] + np.arange(RAW_DENSITY)[None, :] / RAW_DENSITY).ravel()
            at = np.append(at, len(xs) - 1)
            xs = np.interp(at, np.arange(len(xs)), xs)
            ys = np.interp(at, np.arange(len(ys)), ys)
        xs = xs + rng.normal(0.0, 0.25, len(xs))
        ys = ys + rng.normal(0.0, 0.25, len(ys))
        ts = clock + np.concatenate(([0.0], np.cumsum(rng.uniform(8.0, 25.0, len(xs) - 1))))
        clock = float(ts[-1]) + rng.uniform(150.0, 400.0)
        strokes.append([np.round(xs, 2).tolist(), np.round(ys, 2).tolist(), np.round(ts).astype(int).tolist()])
    return strokes


def pin_one_cpu() -> tuple[set[int] | None, int | None]:
    """Pin this thread to one CPU so the figures are per core; returns the old affinity and the CPU, or Nones."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    before = os.sched_getaffinity(0)
    cpu = max(before)
    os.sched_setaffinity(0, {cpu})
    return before, cpu


def restore_cpus(before: set[int] | None) -> None:
    if before is not None:
        os.sched_setaffinity(0, before)


def time_live(drawing: list, classifier: Classifier) -> tuple[list[float], np.ndarray]:
    """The live path's three stages, each timed in ms, and its probabilities."""
    t0 = time.perf_counter_ns()
    strokes = simplify(drawing)
    t1 = time.perf_counter_ns()
    image, turn = live_input(strokes, classifier.channels)
    t2 = time.perf_counter_ns()
    probs = classifier.probabilities(image, turn)  # an unsure drawing's turned views are drawn in this stage
    t3 = time.perf_counter_ns()
    return [(t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6], probs


def time_call(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """One call's duration in ms, and its result."""
    t0 = time.perf_counter_ns()
    out = fn()
    return (time.perf_counter_ns() - t0) / 1e6, out


def stats(times_ms: np.ndarray) -> tuple[float, float]:
    """Median and 99th percentile, in ms."""
    return float(np.median(times_ms)), float(np.percentile(times_ms, 99))


def time_paths(drawings: list, raws: list, classifier: Classifier) -> dict[str, np.ndarray]:
    """Every path on every drawing, interleaved and alternating which goes first, so load hits both alike."""
    stages, tutorial, raw, tutorial_raw, agree = [], [], [], [], []
    for i, (drawing, raw_drawing) in enumerate(zip(drawings, raws, strict=True)):
        if i % 2:
            tut_ms, tut_probs = time_call(lambda d=drawing: tutorial_probabilities(d, classifier))
            live_ms, probs = time_live(drawing, classifier)
        else:
            live_ms, probs = time_live(drawing, classifier)
            tut_ms, tut_probs = time_call(lambda d=drawing: tutorial_probabilities(d, classifier))
        raw_ms, _ = time_live(raw_drawing, classifier)
        tut_raw_ms, _ = time_call(lambda d=raw_drawing: tutorial_probabilities(d, classifier))
        tutorial_raw.append(tut_raw_ms)
        stages.append(live_ms)
        tutorial.append(tut_ms)
        raw.append(sum(raw_ms))
        agree.append(int(probs.argmax()) == int(tut_probs.argmax()))
    return {
        "stages": np.array(stages).reshape(-1, 3),
        "tutorial": np.array(tutorial),
        "raw": np.array(raw),
        "tutorial_raw": np.array(tutorial_raw),
        "agree": np.array(agree, dtype=bool),
    }


def time_alone(drawings: list, raws: list, classifier: Classifier) -> dict[str, np.ndarray]:
    """The live path by itself, over every drawing and then every raw one: each guess after the last one's."""
    return {
        "alone": np.array([sum(time_live(d, classifier)[0]) for d in drawings]),
        "alone_raw": np.array([sum(time_live(d, classifier)[0]) for d in raws]),
    }


def bench_result(
    timings: dict, classifier: Classifier, data: Path, cpu: int | None, drawings: list, raws: list
) -> dict:
    """`bench_inference`'s JSON: medians and tails of every path, the stages, and where it ran."""
    total = timings["stages"].sum(axis=1)
    median, p99 = stats(total)
    tut_median, tut_p99 = stats(timings["tutorial"])
    raw_median, raw_p99 = stats(timings["raw"])
    tut_raw_median, _ = stats(timings["tutorial_raw"])
    stage_medians = np.median(timings["stages"], axis=0)
    alone_median, alone_p99 = stats(timings["alone"])
    return {
        "n": len(total),
        "median_ms": round(median, 4),
        "p99_ms": round(p99, 4),
        "mean_ms": round(float(total.mean()), 4),
        "per_s": round(1000.0 / float(total.mean()), 1),
        "preprocess_median_ms": round(float(stage_medians[0]), 4),
        "rasterize_median_ms": round(float(stage_medians[1]), 4),
        "classify_median_ms": round(float(stage_medians[2]), 4),
        "tutorial_median_ms": round(tut_median, 4),
        "tutorial_p99_ms": round(tut_p99, 4),
        "tutorial_per_s": round(1000.0 / float(timings["tutorial"].mean()), 1),
        "ratio": round(tut_median / median, 2),
        "raw_median_ms": round(raw_median, 4),
        "raw_p99_ms": round(raw_p99, 4),
        # Raw canvas strokes (what browsers send, and the dataset's raw files): the tutorial
        # path draws and resizes a canvas of the drawing's real size, ours does not.
        "tutorial_raw_median_ms": round(tut_raw_median, 4),
        "raw_ratio": round(tut_raw_median / raw_median, 2),
        # The live path in a pass of its own (see time_alone): a worker answering guesses back to back.
        "alone_median_ms": round(alone_median, 4),
        "alone_p99_ms": round(alone_p99, 4),
        "alone_raw_median_ms": round(stats(timings["alone_raw"])[0], 4),
        "points_median": float(np.median([sum(len(s[0]) for s in d) for d in drawings])),
        "raw_points_median": float(np.median([sum(len(s[0]) for s in d) for d in raws])),
        "top1_agreement": round(float(timings["agree"].mean()), 4),
        "model": str(classifier.path),
        "data": str(data),
        "cpu": cpu,
        "pinned": cpu is not None,
        "warmup": min(WARMUP, len(total)),
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def run_benchmark(
    classifier: Classifier, data: Path, n: int, report: Callable[[str], None] = lambda line: None
) -> dict:
    """Time `n` drawings of `data` (and raw versions of them) on one pinned core, after a warm-up."""
    drawings = sample_drawings(Path(data), n)
    if not drawings:
        raise EvaluationError(f"--data {data} holds no readable drawings")
    rng = np.random.default_rng(SEED)
    raws = [fake_raw(d, rng) for d in drawings]
    report(f"timing {len(drawings)} drawings from {data} with {classifier.path}")
    before, cpu = pin_one_cpu()
    report(f"pinned to CPU {cpu}" if cpu is not None else "cannot pin to one CPU on this platform")
    started = time.perf_counter()
    gc.collect()
    gc.disable()  # a collection landing inside one sample would only add noise to p99
    try:
        time_paths(drawings[:WARMUP], raws[:WARMUP], classifier)
        timings = time_paths(drawings, raws, classifier)
        timings |= time_alone(drawings, raws, classifier)
    finally:
        gc.enable()
        restore_cpus(before)
    result = bench_result(timings, classifier, Path(data), cpu, drawings, raws)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result
