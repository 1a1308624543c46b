"""The model store: one folder per model version, and the one place that reads and writes a model folder.

A model folder holds `model.tflite`, `labels.txt` (one category a line, in the
model's output order) and optionally `metrics.json`, `report.json` and plots.
Every version lives under `MODEL_STORE_DIR`, the shipped default included (it
is copied there when it is registered), so a release that replaces the shipped
files never takes an older version's file away: any version can be rolled
back to. A version's `file_path` is stored relative to the store, so a trainer
on another host that mounts the same store elsewhere writes paths every web
and inference process resolves.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from inference.errors import ModelVersionError

MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class ModelFolder:
    model_file: Path
    labels: list[str]
    metrics: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def read_labels(path: Path) -> list[str]:
    """The categories of a labels file, in the model's output order (blank lines and edge spaces ignored)."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_labels(path: Path, labels: list[str]) -> None:
    Path(path).write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")


def read_model_dir(model_dir: Path | str) -> ModelFolder:
    """A model folder's file, labels, metrics and report, or a ModelVersionError saying what is missing."""
    folder = Path(model_dir)
    model_file, labels_file = folder / MODEL_FILE, folder / LABELS_FILE
    if not model_file.is_file() or not labels_file.is_file():
        raise ModelVersionError(f"model folder {folder} needs {MODEL_FILE} and {LABELS_FILE}")
    metrics_file, report_file = folder / METRICS_FILE, folder / REPORT_FILE
    return ModelFolder(
        model_file=model_file,
        labels=read_labels(labels_file),
        metrics=json.loads(metrics_file.read_text()) if metrics_file.is_file() else {},
        report=json.loads(report_file.read_text()) if report_file.is_file() else {},
    )


def store_dir() -> Path:
    return Path(settings.MODEL_STORE_DIR)


def stored_path(path: Path) -> str:
    """What a version's `file_path` holds: relative to the store when inside it, else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(store_dir().resolve()))
    except ValueError:
        return str(resolved)


def resolve(file_path: str) -> Path:
    """The file a version's `file_path` names (relative paths are inside the store)."""
    path = Path(file_path)
    return path if path.is_absolute() else store_dir() / path


def folder_digest(folder: Path) -> str:
    """A short content hash of a model folder (model, labels, metrics): the same files give the same name."""
    digest = hashlib.sha256()
    for name in (MODEL_FILE, LABELS_FILE, METRICS_FILE):
        path = folder / name
        digest.update(name.encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def copy_into_store(folder: Path, name: str) -> Path:
    """A copy of `folder`'s files at `<store>/<name>/` (made once: an existing copy is kept as it is).

    Copied into a temporary sibling and renamed, so a half-written copy is never taken for a model."""
    target = store_dir() / name
    if (target / MODEL_FILE).is_file():
        return target
    store_dir().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=store_dir()))
    try:
        for path in Path(folder).iterdir():
            if path.is_file():
                shutil.copy2(path, staging / path.name)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / MODEL_FILE).is_file():  # another process made the same copy first: fine
            raise
    return target
