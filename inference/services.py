"""Writes about model versions: register, activate (at once or when the turns in play end), roll back.

Activation never strands a game. A version whose file is missing or does not
load is refused at once, the live model kept. A loadable version that lacks a
word some turn in play uses becomes *pending*: it goes live the moment those
turns end (`complete_pending_activation`, which every web process runs every
second), and meanwhile new turns only offer words it knows
(`inference.selectors.words_for_new_turns`). Inference knows nothing of games:
which words are in play comes from the hook the game registers in
`settings.INFERENCE_WORDS_IN_PLAY`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from inference.classifier import Classifier, ModelFileError
from inference.errors import ModelVersionError
from inference.model_store import copy_into_store, folder_digest, read_model_dir, stored_path
from inference.models import ModelActivation, ModelVersion, PendingActivation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActivationResult:
    version: ModelVersion
    live: bool  # False: pending, it goes live when the turns using `waiting_for` end
    waiting_for: list[str] = field(default_factory=list)


@cache
def _words_in_play_hook():
    path = getattr(settings, "INFERENCE_WORDS_IN_PLAY", "")
    return import_string(path) if path else None


def words_in_play() -> set[str]:
    """The words turns in play use, as the game's hook reports them (none without a hook)."""
    hook = _words_in_play_hook()
    return set(hook()) if hook is not None else set()


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
    found = read_model_dir(model_dir)
    check_loadable(found.model_file, found.labels)
    if training_settings is None:
        training_settings = found.report.get("training_settings", {})
    if training_data is None:
        training_data = found.report.get("training_data", {})
    return ModelVersion.objects.create(
        name=name,
        file_path=stored_path(found.model_file),
        labels=found.labels,
        metrics=metrics if metrics is not None else found.metrics,
        training_settings=training_settings or {},
        training_data=training_data or {},
        size_bytes=found.model_file.stat().st_size,
        created_by=created_by,
        is_shipped_default=shipped,
    )


def activate_model_version(*, version: ModelVersion, by: str = "") -> ActivationResult:
    """Make `version` the live model now, or as soon as the turns using words it lacks end.

    Refused (ModelVersionError, the live model kept) when its file does not load. Either way an
    earlier pending activation is replaced: the latest decision is the one that counts."""
    check_loadable(version.path, version.labels)
    with transaction.atomic():
        PendingActivation.objects.all().delete()
        missing = sorted(words_in_play() - set(version.labels))
        if missing and not version.is_active:
            PendingActivation.objects.create(version=version, requested_by=by, waiting_for=missing[:100])
            return ActivationResult(version=version, live=False, waiting_for=missing)
        _make_live(version=version, by=by)
    return ActivationResult(version=version, live=True)


def _make_live(*, version: ModelVersion, by: str) -> None:
    previous = ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).first()
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    ModelActivation.objects.create(version=version, previous=previous, activated_by=by)


def complete_pending_activation() -> ModelVersion | None:
    """Make the pending version live if no turn in play uses a word it lacks any more; returns it then.

    Cheap when nothing waits (one query). The decision is re-checked under a row lock, so with several
    web processes running this at once the swap happens exactly once."""
    if not PendingActivation.objects.exists():
        return None
    with transaction.atomic():
        pending = PendingActivation.objects.select_for_update().select_related("version").first()
        if pending is None:
            return None
        version = pending.version
        missing = sorted(words_in_play() - set(version.labels))
        if missing:
            if missing != pending.waiting_for:
                PendingActivation.objects.filter(pk=pending.pk).update(waiting_for=missing[:100])
            return None
        pending.delete()
        try:
            check_loadable(version.path, version.labels)
        except ModelVersionError as exc:  # its file went away while it waited: the live model stays
            log.error("pending activation of %s dropped: %s", version, exc)
            return None
        _make_live(version=version, by=f"{pending.requested_by or 'system'} (when the turns in play ended)")
    log.info("%s is live: the turns that used words it lacks have ended", version)
    return version


def cancel_pending_activation() -> PendingActivation | None:
    """Drop the waiting activation, if any; the live model stays. Returns what was cancelled."""
    with transaction.atomic():
        pending = PendingActivation.objects.select_for_update().select_related("version").first()
        if pending is not None:
            pending.delete()
    return pending


def rollback_model_version(*, by: str = "") -> ActivationResult:
    """Re-activate the version that was live before the current one (pending, like any activation, if it must)."""
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
    activate_model_version(version=shipped, by="system")
    return shipped


def current_shipped_default() -> ModelVersion:
    """The version row of the model in SHIPPED_MODEL_DIR, its files copied into the model store.

    The shipped files live in the code checkout, so an upgrade overwrites them in place. Each
    release's files are copied to `<store>/shipped-<content hash>/` when first registered, so every
    shipped version keeps its own file and can be rolled back to after an upgrade. When a release
    brings new files, a new row describes them and, if the old default was live, takes over (at
    once, or pending until the turns in play end); a model an admin activated stays live.
    """
    folder = Path(settings.SHIPPED_MODEL_DIR)
    found = read_model_dir(folder)
    stored = copy_into_store(folder, f"shipped-{folder_digest(folder)}")
    stored_file = stored_path(stored / found.model_file.name)
    shipped = ModelVersion.objects.filter(is_shipped_default=True).order_by("-pk").first()
    if shipped is not None and shipped.file_path == stored_file:
        return shipped
    if shipped is not None and (shipped.labels, shipped.metrics, shipped.size_bytes) == (
        found.labels,
        found.metrics,
        found.model_file.stat().st_size,
    ):
        # The same release, registered before versions kept their files in the store: point it at its copy.
        ModelVersion.objects.filter(pk=shipped.pk).update(file_path=stored_file)
        shipped.file_path = stored_file
        return shipped
    with transaction.atomic():
        new = register_model_version(name="shipped default", model_dir=stored, shipped=True)
        if shipped is not None:
            ModelVersion.objects.filter(pk=shipped.pk).update(
                is_shipped_default=False, name=f"{shipped.name} (replaced by version {new.pk})"[:100]
            )
            if shipped.is_active:
                result = activate_model_version(version=new, by="system: a new shipped default")
                if not result.live:
                    log.warning(
                        "the new shipped default %s goes live when turns using %s end",
                        new.pk,
                        ", ".join(result.waiting_for[:10]),
                    )
    return new
