"""Training services: build a data source from options, train, and register the result."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from training.pipeline import Progress, TrainConfig, run_training
from training.sources import DrawingSource, LocalFolderSource, MixedSource


def make_source(*, specs: list[str], categories: list[str] | None = None) -> DrawingSource:
    """`folder:PATH` (or a bare path), `quickdraw[:simplified|raw|binary]`, `games`; several make a mix."""
    sources: list[DrawingSource] = []
    for spec in specs:
        kind, _, arg = spec.partition(":")
        if kind == "quickdraw":
            from training.download import QuickDrawDownloadSource

            sources.append(
                QuickDrawDownloadSource(
                    categories=categories,
                    fmt=arg or "binary",
                    cache_dir=Path(settings.QUICKDRAW_CACHE_DIR),
                    base_url=settings.QUICKDRAW_BASE_URL,
                )
            )
        elif kind == "games":
            from game.training_source import GameDrawingsSource

            sources.append(GameDrawingsSource())
        elif kind == "folder":
            sources.append(LocalFolderSource(arg))
        else:
            sources.append(LocalFolderSource(spec))
    if not sources:
        raise ValueError("name at least one data source")
    return sources[0] if len(sources) == 1 else MixedSource(sources)


def new_model_dir() -> Path:
    return Path(settings.MODEL_STORE_DIR) / time.strftime("%Y%m%d-%H%M%S")


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
):
    from inference.services import activate_model_version, register_model_version

    out_dir = out_dir or new_model_dir()
    report = run_training(source, config, out_dir, progress=progress or (lambda *a, **k: None), command=command)
    version = register_model_version(
        name=name or out_dir.name,
        model_dir=out_dir,
        metrics=report["metrics"],
        training_settings=report["training_settings"],
        training_data=report["training_data"],
        created_by=created_by,
    )
    if activate:
        activate_model_version(version=version, by=created_by)
    return version, report
