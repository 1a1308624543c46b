"""`manage.py evaluate`: score models on Quick, Draw! files through the live path.

Training reports metrics on its own validation split, rendered by training
code. This command measures what players would get instead: every drawing
takes exactly the route of a live guess (``simplify`` -> ``rasterize`` ->
``Classifier.probabilities``), whether the files hold raw canvas strokes or
Google's simplified ones, so a model can be checked, or several compared on
the very same drawings, before it is activated.

The last line of stdout is one JSON object so scripts can read the result
without parsing the human-readable lines before it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.classifier import Classifier, ModelFileError
from inference.raster import CHANNELS, rasterize
from inference.strokes import StrokeError, first_half, is_simplified, simplify
from training.report import metrics_from_probs
from training.sources import is_validation, sample_key

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


def load_model_dir(folder: Path | str) -> Classifier:
    """A classifier from a folder holding model.tflite and labels.txt (the shipped-model layout)."""
    folder = Path(folder)
    model, labels_file = folder / "model.tflite", folder / "labels.txt"
    if not model.is_file() or not labels_file.is_file():
        raise CommandError(f"model folder {folder} needs model.tflite and labels.txt")
    labels = [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
    try:
        return Classifier(model, labels)
    except ModelFileError as exc:
        raise CommandError(str(exc)) from exc


def live_classifier() -> Classifier:
    """The process's active classifier, with a clear error when not even the shipped default exists."""
    from django.conf import settings

    from inference.live import live_model

    try:
        return live_model.classifier()
    except (OSError, ModelFileError) as exc:
        raise CommandError(
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
    """The .ndjson files of --data, or a CommandError saying what is wrong with it."""
    if not folder.exists():
        raise CommandError(f"--data {folder} does not exist")
    if not folder.is_dir():
        raise CommandError(f"--data {folder} is not a folder")
    files = sorted(folder.glob("*.ndjson"))
    if not files:
        raise CommandError(f"--data {folder} holds no <category>.ndjson files")
    return files


def in_split(key: str, split: str) -> bool:
    """`validation`: only the drawings training held out (same key and hash as training.sources); `all`: every one."""
    if split == "all":
        return True
    held_out = is_validation(key)
    return held_out if split == "validation" else not held_out


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


def live_image(drawing: list) -> np.ndarray:
    """The exact image a live guess would classify, with every channel (each model reads the ones it knows)."""
    return rasterize(simplify(drawing), CHANNELS)


@dataclass
class Tally:
    """One model's running score. Metrics are merged file by file, weighted by count, so no probabilities pile up."""

    name: str
    classifier: Classifier
    n: int = 0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(METRICS, 0.0))
    unknown: list[str] = field(default_factory=list)
    per_category: dict[str, dict] = field(default_factory=dict)

    def add(self, category: str, full: np.ndarray, half: np.ndarray) -> None:
        """Score one category's images; a category the model does not know scores label -1, a miss everywhere."""
        labels = self.classifier.labels
        label = labels.index(category) if category in labels else -1
        if label < 0:
            self.unknown.append(category)
        probs = np.stack([self.classifier.probabilities(im) for im in full])
        m = metrics_from_probs(probs, np.full(len(full), label))
        half_top1 = np.array([int(self.classifier.probabilities(im).argmax()) for im in half])
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


class Command(BaseCommand):
    help = (
        "Score a model (default: the live one) on a folder of <category>.ndjson Quick, Draw! files, raw or "
        "simplified, through the live preprocessing path. The last stdout line is a JSON object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="folder of <category>.ndjson files")
        parser.add_argument("--json", action="store_true", help="print only the JSON line on stdout")
        parser.add_argument("--model", type=Path, default=None, help="folder with model.tflite + labels.txt")
        parser.add_argument("--limit", type=int, default=None, help="at most N drawings per category")
        parser.add_argument(
            "--split", choices=["all", "validation", "train"], default="all",
            help="validation: only drawings training held out (crc32(key_id) %% 10 == 0)",
        )
        parser.add_argument(
            "--compare", type=Path, action="append", default=[], metavar="DIR",
            help="another model folder to score on the same drawings (repeatable)",
        )

    def handle(self, *args, **opts) -> None:
        if opts["limit"] is not None and opts["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        files = data_files(opts["data"])
        tallies = self._tallies(opts["model"], opts["compare"])
        started = time.perf_counter()
        formats, skipped = self._score(files, opts["limit"], tallies, opts["split"])
        seconds = time.perf_counter() - started
        if tallies[0].n == 0:
            raise CommandError(f"--data {opts['data']} holds no readable drawings")
        result = self._result(tallies, formats, skipped, seconds, opts)
        if not opts["json"]:
            self._print_table(result, tallies)
        self.stdout.write(json.dumps(result))

    def _tallies(self, model: Path | None, compare: list[Path]) -> list[Tally]:
        """The primary model (--model, else live) first, then the --compare ones."""
        primary = load_model_dir(model) if model else live_classifier()
        tallies = [Tally(str(model) if model else f"live:{primary.path}", primary)]
        for folder in compare:
            tallies.append(Tally(str(folder), load_model_dir(folder)))
        return tallies

    def _score(self, files: list[Path], limit: int | None, tallies: list[Tally], split: str = "all",
               ) -> tuple[dict[str, str], int]:
        """Preprocess each drawing once, classify it with every model; returns each file's format and the skips."""
        formats: dict[str, str] = {}
        skipped = 0
        for path in files:
            category = category_of(path)
            drawings, bad = read_drawings(path, limit, split)
            formats[category] = detect_format(drawings)
            full, half = [], []
            for drawing in drawings:
                try:
                    images = live_image(drawing), live_image(first_half(drawing))
                except (StrokeError, TypeError, ValueError):  # strokes that are not lists of numbers
                    bad += 1
                    continue
                full.append(images[0])
                half.append(images[1])
            skipped += bad
            note = f", {bad} unreadable skipped" if bad else ""
            self.stderr.write(f"{category}: {len(full)} drawings ({formats[category]}){note}")
            if full:
                for tally in tallies:
                    tally.add(category, np.stack(full), np.stack(half))
        return formats, skipped

    def _result(self, tallies: list[Tally], formats: dict[str, str], skipped: int, seconds: float, opts) -> dict:
        """The JSON object: the primary model's figures at top level, every model under "models" with --compare."""
        from inference.live import live_model

        kinds = Counter(f for f in formats.values() if f != "empty")
        result = tallies[0].result()
        result.update(
            format=next(iter(kinds)) if len(kinds) == 1 else "mixed",
            formats=dict(kinds),
            categories=len(formats),
            skipped=skipped,
            data=str(opts["data"]),
            limit=opts["limit"],
            split=opts["split"],
            seconds=round(seconds, 3),
        )
        if opts["model"] is None:
            result["model_version"] = live_model.version_id
        if opts["compare"]:
            models: dict[str, dict] = {}
            for tally in tallies:
                entry = tally.result()
                entry.pop("per_category")
                models[unique_name(tally.name, models)] = entry
            result["models"] = models
        return result

    def _print_table(self, result: dict, tallies: list[Tally]) -> None:
        """Human-readable summary before the JSON line."""
        self.stdout.write(
            f"{result['n']} drawings in {result['categories']} categories ({result['format']}), "
            f"{result['seconds']:.1f} s"
        )
        rows = [(t.name, t.result()) for t in tallies]
        width = max(len(name) for name, _ in rows)
        self.stdout.write(f"{'model':<{width}}  {'top1':>6} {'top3':>6} {'map3':>6} {'early':>6}  unknown")
        for name, r in rows:
            self.stdout.write(
                f"{name:<{width}}  {r['top1']:6.3f} {r['top3']:6.3f} {r['map3']:6.3f} {r['early']:6.3f}  "
                f"{len(r['unknown_categories'])}"
            )
