"""Training services: train a model into a folder of the model store, and register it as a version."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from training.pipeline import Progress, TrainConfig, run_training
from training.sources import DrawingSource


def new_model_dir() -> Path:
    return Path(settings.MODEL_STORE_DIR) / time.strftime("%Y%m%d-%H%M%S")


def register_trained_model(*, out_dir: Path, report: dict, created_by: str = "", name: str | None = None):
    """The ModelVersion of a folder `run_training` wrote."""
    from inference.services import register_model_version

    return register_model_version(
        name=name or out_dir.name,
        model_dir=out_dir,
        metrics=report["metrics"],
        training_settings=report["training_settings"],
        training_data=report["training_data"],
        created_by=created_by,
    )


def train_and_register(
    *,
    source: DrawingSource,
    config: TrainConfig,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    command: str | None = None,
    created_by: str = "",
    activate: bool = False,
    name: str | None = None,
    checkpoint_dir: Path | None = None,
):
    """Train, register, and with `activate` ask for it to go live (at once, or when the turns in play end).

    With `checkpoint_dir`, training keeps its state there after every epoch and goes on from it when run again."""
    from inference.services import activate_model_version

    out_dir = out_dir or new_model_dir()
    report = run_training(
        source,
        config,
        out_dir,
        progress=progress or (lambda *a, **k: None),
        command=command,
        checkpoint_dir=checkpoint_dir,
    )
    version = register_trained_model(out_dir=out_dir, report=report, created_by=created_by, name=name)
    if activate:
        activate_model_version(version=version, by=created_by)
    return version, report
