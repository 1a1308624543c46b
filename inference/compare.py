"""Compare model versions side by side on the same held-out drawings, through the live preprocessing path.

The drawings are the validation split of a folder of `<category>.ndjson`
files (the drawings training holds out, by `crc32(key_id) % 10 == 0`), so
a version is never scored on drawings it trained on. Scoring reuses
`inference.evaluation` (`live_inputs`, `Tally`), like `manage.py evaluate`: the numbers mean the
same as that command's, and each drawing is rasterized once for every model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.classifier import Classifier, ModelFileError
from inference.errors import ModelVersionError
from inference.evaluation import METRICS, Tally, live_inputs, read_drawings
from inference.models import ModelVersion

SCOPES = {
    "both": "categories both versions know",
    "first": "the first version's categories",
    "either": "categories either version knows (a category a version lacks counts as a miss)",
}
MAX_LIMIT = 200


@dataclass
class Comparison:
    versions: list[ModelVersion]
    data_dir: str
    scope: str
    limit: int
    categories: list[str]
    drawings: int = 0
    seconds: float = 0.0
    results: list[dict] = field(default_factory=list)  # one per version, evaluate's result() shape
    per_category: list[dict] = field(default_factory=list)  # biggest top-1 differences first

    def metric_rows(self) -> list[dict]:
        """[{metric, values: [v per version], best: index}] for a side-by-side table."""
        rows = []
        for key in METRICS:
            values = [r[key] for r in self.results]
            rows.append({"metric": key, "values": values, "best": int(np.argmax(values)) if values else 0})
        return rows


def _classifier(version: ModelVersion) -> Classifier:
    try:
        return Classifier(version.path, version.labels)
    except ModelFileError as exc:
        raise ModelVersionError(f"{version}: {exc}") from exc


def compare_model_versions(
    *, versions: list[ModelVersion], data_dir: Path, limit: int = 10, scope: str = "both"
) -> Comparison:
    """Score every version on the same validation drawings; raises ModelVersionError when it cannot."""
    if len(versions) < 2:
        raise ModelVersionError("choose two versions to compare")
    if scope not in SCOPES:
        raise ModelVersionError(f"unknown scope {scope!r}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ModelVersionError(f"no such data folder: {data_dir}")
    files = {p.stem: p for p in data_dir.glob("*.ndjson")}
    label_sets = [set(v.labels) for v in versions]
    if scope == "both":
        wanted = set.intersection(*label_sets)
    elif scope == "first":
        wanted = label_sets[0]
    else:
        wanted = set.union(*label_sets)
    categories = sorted(c for c in wanted if c in files)
    if not categories:
        raise ModelVersionError(f"{data_dir} has no files for {SCOPES[scope]}")
    tallies = [Tally(str(v), _classifier(v)) for v in versions]
    result = Comparison(versions=versions, data_dir=str(data_dir), scope=scope, limit=limit, categories=categories)
    started = time.perf_counter()
    for category in categories:
        inputs = live_inputs(read_drawings(files[category], limit, "validation")[0])
        if not inputs.full:
            continue
        result.drawings += len(inputs.full)
        for tally in tallies:
            tally.add(category, inputs)
    result.seconds = round(time.perf_counter() - started, 2)
    if result.drawings == 0:
        raise ModelVersionError(f"{data_dir} holds no readable validation drawings for these categories")
    result.results = [t.result() for t in tallies]
    rows = []
    for category in categories:
        cells = [r["per_category"].get(category) for r in result.results]
        if any(c is None for c in cells):
            continue
        top1 = [c["top1"] for c in cells]
        rows.append({"category": category, "n": cells[0]["n"], "top1": top1, "diff": round(top1[0] - top1[1], 4)})
    result.per_category = sorted(rows, key=lambda r: (-abs(r["diff"]), r["category"]))
    return result
