"""Writes about model versions: register, activate, roll back, and the shipped default."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference.classifier import Classifier, ModelFileError
from inference.errors import ModelVersionError
from inference.models import ModelActivation, ModelVersion

log = logging.getLogger(__name__)


def read_model_dir(model_dir: Path) -> tuple[Path, list[str], dict]:
    """A model folder's file, labels and metrics, as written by the training command."""
    model_file = model_dir / "model.tflite"
    labels_file = model_dir / "labels.txt"
    if not model_file.exists() or not labels_file.exists():
        raise ModelVersionError(f"{model_dir} has no model.tflite and labels.txt")
    labels = [line for line in labels_file.read_text().splitlines() if line]
    metrics_file = model_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return model_file, labels, metrics


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path.resolve())


def check_loadable(path: Path, labels: list[str]) -> None:
    try:
        Classifier(path, labels)
    except ModelFileError as exc:
        raise ModelVersionError(str(exc)) from exc


def register_model_version(
    *,
    name: str,
    model_dir: Path,
    metrics: dict | None = None,
    training_settings: dict | None = None,
    training_data: dict | None = None,
    created_by: str = "",
    shipped: bool = False,
) -> ModelVersion:
    model_file, labels, file_metrics = read_model_dir(model_dir)
    check_loadable(model_file, labels)
    report = model_dir / "report.json"
    if report.exists() and (training_settings is None or training_data is None):
        data = json.loads(report.read_text())
        training_settings = training_settings if training_settings is not None else data.get("training_settings", {})
        training_data = training_data if training_data is not None else data.get("training_data", {})
    return ModelVersion.objects.create(
        name=name,
        file_path=_relative(model_file),
        labels=labels,
        metrics=metrics if metrics is not None else file_metrics,
        training_settings=training_settings or {},
        training_data=training_data or {},
        size_bytes=model_file.stat().st_size,
        created_by=created_by,
        is_shipped_default=shipped,
    )


def activate_model_version(*, version: ModelVersion, by: str = "") -> ModelVersion:
    """Make `version` the live model. Refused, with the live model kept, if its file does not load
    or its categories cannot serve a game in progress."""
    check_loadable(version.path, version.labels)
    from game.selectors import words_in_play

    missing = sorted(words_in_play() - set(version.labels))
    if missing:
        raise ModelVersionError(
            "games in progress use words this model does not know: " + ", ".join(missing[:10])
        )
    with transaction.atomic():
        previous = ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).first()
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        version.is_active = True
        version.activated_at = timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
        ModelActivation.objects.create(version=version, previous=previous, activated_by=by)
    return version


def rollback_model_version(*, by: str = "") -> ModelVersion:
    """Re-activate the version that was live before the current one."""
    last = ModelActivation.objects.select_related("previous").first()
    if last is None or last.previous is None:
        raise ModelVersionError("there is no earlier model to roll back to")
    return activate_model_version(version=last.previous, by=by)


def ensure_default_model() -> ModelVersion:
    """Register and activate the shipped default model unless some version is active already.

    Runs after every `migrate`, so a release that ships a new default model
    registers it too (see :func:`current_shipped_default`)."""
    shipped = current_shipped_default()
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return active
    return activate_model_version(version=shipped, by="system")


def current_shipped_default() -> ModelVersion:
    """The version row of the model in SHIPPED_MODEL_DIR, registered anew when a release replaced its files.

    The shipped files live in the code checkout, so an upgrade overwrites the
    old default's file in place. Its row then describes a model that is gone:
    it is renamed and pointed at no file (activating it is refused as missing),
    a new row describes the new files, and if the old default was live the new
    one takes over. A model an admin activated stays live.
    """
    folder = Path(settings.SHIPPED_MODEL_DIR)
    model_file, labels, metrics = read_model_dir(folder)
    shipped = ModelVersion.objects.filter(is_shipped_default=True).order_by("-pk").first()
    if shipped is not None and (shipped.labels, shipped.metrics, shipped.size_bytes) == (
        labels, metrics, model_file.stat().st_size
    ):
        return shipped
    with transaction.atomic():
        new = register_model_version(name="shipped default", model_dir=folder, shipped=True)
        if shipped is not None:
            ModelVersion.objects.filter(pk=shipped.pk).update(
                is_shipped_default=False,
                name=f"{shipped.name} (replaced by version {new.pk})"[:100],
                file_path=f"{shipped.file_path}.replaced-by-{new.pk}",
            )
            if shipped.is_active:
                try:
                    activate_model_version(version=new, by="system: a new shipped default")
                except ModelVersionError as exc:  # e.g. it lacks a word a game is using: an admin decides
                    log.warning("the new shipped default model %s was not activated: %s", new.pk, exc)
    return new
