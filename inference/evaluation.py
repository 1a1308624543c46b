"""Scoring models on Quick, Draw! files through the live path: metrics, the held-out split, reading drawings.

Training reports metrics on its own validation split, rendered by training
code. This measures what players would get instead: every drawing takes
exactly the route of a live guess (``simplify`` -> ``rasterize`` ->
``Classifier.probabilities``), whether the files hold raw canvas strokes or
Google's simplified ones, so a model can be checked, or several compared on
the very same drawings, before it is activated. `manage.py evaluate`,
`bench_inference` and the admin's comparison use it; training imports the
split rule and the metrics from here, so both sides mean the same by them.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.classifier import Classifier, ModelFileError, Turned
from inference.errors import ModelVersionError
from inference.model_store import read_model_dir
from inference.raster import CHANNELS
from inference.recognize import live_input
from inference.strokes import StrokeError, first_half, is_simplified, simplify

# How many drawings at the top of a file decide its format.
FORMAT_PROBE = 10
# Google's simplified files are looser than `is_simplified` (exactly 0 and
# 255): RDP drops extreme points, so about 3 drawings in 10 start a few units
# away from 0 or end a few short of 255. These slacks accept them.
ALIGN_SLACK = 8
SPAN_SLACK = 16
# Files as downloaded from Google's bucket are named like this.
DOWNLOAD_PREFIXES = ("full_raw_", "full_simplified_")
METRICS = ("top1", "top3", "map3", "early")
SPLITS = ("all", "validation", "train")
# One drawing in ten is held out for validation, chosen by a hash of its key so
# the split is the same on every run and on every machine.
VALIDATION_MODULUS = 10


class EvaluationError(ValueError):
    """Data or a model that cannot be scored; the message says which and why."""


# --- the held-out split ---------------------------------------------------------------------------


def is_validation(key: str) -> bool:
    return zlib.crc32(key.encode()) % VALIDATION_MODULUS == 0


def sample_key(record: dict, path: Path, line_no: int) -> str:
    """A drawing's identity for the train/validation split: its key_id, or its file and line when it has none."""
    return str(record.get("key_id") or f"{path.stem}:{line_no}")


def in_split(key: str, split: str) -> bool:
    """`validation`: only the drawings training held out; `train`: the others; `all`: every one."""
    if split == "all":
        return True
    held_out = is_validation(key)
    return held_out if split == "validation" else not held_out


# --- metrics ------------------------------------------------------------------------------------------


def top_k_indices(probs: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-probs, axis=1)[:, :k]


def metrics_from_probs(probs: np.ndarray, labels: np.ndarray, k: int = 3) -> dict:
    """top-1, top-3 and MAP@3 (the Kaggle Quick, Draw! metric)."""
    if len(labels) == 0:
        return {"n": 0, "top1": 0.0, "top3": 0.0, "map3": 0.0}
    k = min(k, probs.shape[1])  # a 2-category model's top-3 is its top-2
    top = top_k_indices(probs, k)
    hits = top == labels[:, None]
    map3 = float((hits / np.arange(1, k + 1)).sum(axis=1).mean())
    return {
        "n": int(len(labels)),
        "top1": float(hits[:, 0].mean()),
        "top3": float(hits.any(axis=1).mean()),
        "map3": map3,
    }


# --- models and data ----------------------------------------------------------------------------------


def load_model_dir(folder: Path | str) -> Classifier:
    """A classifier from a folder holding model.tflite and labels.txt (the shipped-model layout)."""
    try:
        found = read_model_dir(folder)
        return Classifier(found.model_file, found.labels)
    except (ModelVersionError, ModelFileError) as exc:
        raise EvaluationError(str(exc)) from exc


def live_classifier() -> Classifier:
    """The process's active classifier, with a clear error when not even the shipped default exists."""
    from django.conf import settings

    from inference.live import live_model

    try:
        return live_model.classifier()
    except (OSError, ModelFileError) as exc:
        raise EvaluationError(
            f"no usable live model (shipped default: {settings.SHIPPED_MODEL_DIR}): {exc}; pass --model DIR"
        ) from exc


def category_of(path: Path) -> str:
    """The category a file holds: its name, without the prefix of Google's downloads."""
    stem = path.stem
    for prefix in DOWNLOAD_PREFIXES:
        if stem.startswith(prefix):
            return stem[len(prefix) :]
    return stem


def data_files(folder: Path) -> list[Path]:
    """The .ndjson files of a data folder, or an EvaluationError saying what is wrong with it."""
    if not folder.exists():
        raise EvaluationError(f"--data {folder} does not exist")
    if not folder.is_dir():
        raise EvaluationError(f"--data {folder} is not a folder")
    files = sorted(folder.glob("*.ndjson"))
    if not files:
        raise EvaluationError(f"--data {folder} holds no <category>.ndjson files")
    return files


def read_drawings(path: Path, limit: int | None, split: str = "all") -> tuple[list, int]:
    """Up to `limit` drawings of one file, and how many lines were not a drawing record."""
    drawings: list = []
    bad = 0
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh):
            if limit is not None and len(drawings) >= limit:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                drawing = record["drawing"] if isinstance(record, dict) else None
            except (json.JSONDecodeError, KeyError):
                drawing = None
            if isinstance(drawing, list):
                if split == "all" or in_split(sample_key(record, path, line_no), split):
                    drawings.append(drawing)
            else:
                bad += 1
    return drawings, bad


def looks_simplified(drawing: list) -> bool:
    """Simplified format: two lists per stroke, integers, top-left aligned, longest side about 255."""
    if not all(isinstance(stroke, list) and len(stroke) == 2 for stroke in drawing):
        return False  # raw strokes carry a third list, the timestamps
    try:
        if is_simplified(drawing):
            return True
        pts = np.array([[x, y] for xs, ys in drawing for x, y in zip(xs, ys, strict=True)], dtype=np.float64)
    except (StrokeError, TypeError, ValueError):
        return False
    if len(pts) == 0 or not np.array_equal(pts, np.round(pts)):
        return False
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return bool(lo.min() >= 0 and hi.max() <= 255 and lo.max() <= ALIGN_SLACK and hi.max() >= 255 - SPAN_SLACK)


def detect_format(drawings: list) -> str:
    """'simplified' when most of the first drawings look simplified, else 'raw'."""
    probe = drawings[:FORMAT_PROBE]
    if not probe:
        return "empty"
    votes = sum(looks_simplified(d) for d in probe)
    return "simplified" if votes * 2 > len(probe) else "raw"


@dataclass
class LiveInputs:
    """Readable drawings as a live guess sees them, whole and half-way: each one's image, with every channel (each
    model reads the ones it knows), and how to draw it turned (inference.recognize.live_input)."""

    full: list[np.ndarray] = field(default_factory=list)
    full_turned: list[Turned] = field(default_factory=list)
    half: list[np.ndarray] = field(default_factory=list)
    half_turned: list[Turned] = field(default_factory=list)
    unreadable: int = 0


def live_inputs(drawings: list) -> LiveInputs:
    """Each readable drawing's input and its first half's, and how many were unreadable."""
    inputs = LiveInputs()
    for drawing in drawings:
        try:
            whole, half = simplify(drawing), simplify(first_half(drawing))
            (image, turn), (half_image, half_turn) = live_input(whole, CHANNELS), live_input(half, CHANNELS)
        except (StrokeError, TypeError, ValueError):  # strokes that are not lists of numbers
            inputs.unreadable += 1
            continue
        inputs.full.append(image)
        inputs.full_turned.append(turn)
        inputs.half.append(half_image)
        inputs.half_turned.append(half_turn)
    return inputs


# --- scoring ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """One model's running score. Metrics are merged file by file, weighted by count, so no probabilities pile up."""

    name: str
    classifier: Classifier
    n: int = 0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(METRICS, 0.0))
    unknown: list[str] = field(default_factory=list)
    per_category: dict[str, dict] = field(default_factory=dict)

    def add(self, category: str, inputs: LiveInputs) -> None:
        """Score one category's drawings; a category the model does not know scores label -1, a miss everywhere."""
        labels = self.classifier.labels
        label = labels.index(category) if category in labels else -1
        if label < 0:
            self.unknown.append(category)
        answer = self.classifier.probabilities
        probs = np.stack([answer(im, turn) for im, turn in zip(inputs.full, inputs.full_turned, strict=True)])
        m = metrics_from_probs(probs, np.full(len(inputs.full), label))
        half_top1 = np.array(
            [int(answer(im, turn).argmax()) for im, turn in zip(inputs.half, inputs.half_turned, strict=True)]
        )
        m["early"] = float((half_top1 == label).mean())
        self.n += m["n"]
        for key in METRICS:
            self.sums[key] += m[key] * m["n"]
        self.per_category[category] = {"n": m["n"], "top1": round(m["top1"], 4), "early": round(m["early"], 4)}

    def result(self) -> dict:
        n = max(self.n, 1)
        out: dict = {"n": self.n, **{key: self.sums[key] / n for key in METRICS}}
        out["model"] = str(self.classifier.path)
        out["labels"] = len(self.classifier.labels)
        out["unknown_categories"] = sorted(self.unknown)
        out["per_category"] = self.per_category
        return out


def unique_name(name: str, taken: dict) -> str:
    """`name`, or `name#2`, `name#3`... when the same folder is compared twice."""
    candidate, i = name, 1
    while candidate in taken:
        i += 1
        candidate = f"{name}#{i}"
    return candidate


def score_files(
    files: list[Path],
    limit: int | None,
    tallies: list[Tally],
    split: str = "all",
    report: Callable[[str], None] = lambda line: None,
) -> tuple[dict[str, str], int]:
    """Preprocess each drawing once, classify it with every model; returns each file's format and the skips."""
    formats: dict[str, str] = {}
    skipped = 0
    for path in files:
        category = category_of(path)
        drawings, bad = read_drawings(path, limit, split)
        formats[category] = detect_format(drawings)
        inputs = live_inputs(drawings)
        bad += inputs.unreadable
        skipped += bad
        note = f", {bad} unreadable skipped" if bad else ""
        report(f"{category}: {len(inputs.full)} drawings ({formats[category]}){note}")
        if inputs.full:
            for tally in tallies:
                tally.add(category, inputs)
    return formats, skipped


def evaluation_result(
    tallies: list[Tally],
    formats: dict[str, str],
    skipped: int,
    seconds: float,
    *,
    data: Path,
    limit: int | None,
    split: str,
    compared: bool = False,
) -> dict:
    """`evaluate`'s JSON: the primary model's figures at top level, every model under "models" when compared."""
    kinds = Counter(f for f in formats.values() if f != "empty")
    result = tallies[0].result()
    result.update(
        format=next(iter(kinds)) if len(kinds) == 1 else "mixed",
        formats=dict(kinds),
        categories=len(formats),
        skipped=skipped,
        data=str(data),
        limit=limit,
        split=split,
        seconds=round(seconds, 3),
    )
    if compared:
        models: dict[str, dict] = {}
        for tally in tallies:
            entry = tally.result()
            entry.pop("per_category")
            models[unique_name(tally.name, models)] = entry
        result["models"] = models
    return result
