"""Reads about model versions, and the words a new turn may offer."""

from __future__ import annotations

from django.db import DatabaseError

from inference.models import ModelVersion, PendingActivation


def active_model_version() -> ModelVersion | None:
    """The active version, or None (also when the database is not migrated yet)."""
    try:
        return ModelVersion.objects.filter(is_active=True).first()
    except DatabaseError:
        return None


def pending_activation() -> PendingActivation | None:
    """The activation waiting for turns in play to end, if any."""
    return PendingActivation.objects.select_related("version").first()


def words_for_new_turns() -> list[str]:
    """The words a turn starting now may offer: the live model's, and while a swap is pending, only those the
    incoming model knows too, so that no new turn holds the swap up.

    The live words are the active version's in the database, not this process's loaded model's: right
    after a swap a process may serve the old one for up to half a second (inference.live), and its next
    turns must already offer the new words. Should the two models share no word at all, the incoming
    model's words: the live model cannot judge them, but the swap is then never held up and the game goes on."""
    # Every action between turns asks this: read the two label lists only (a version's metrics are large).
    try:
        labels = ModelVersion.objects.filter(is_active=True).values_list("labels", flat=True).first()
    except DatabaseError:
        labels = None
    if labels is None:  # no version registered yet: the shipped default this process serves
        from inference.live import live_model

        labels = live_model.classifier().labels
    incoming = PendingActivation.objects.values_list("version__labels", flat=True).first()
    if incoming is None:
        return labels
    known = set(incoming)
    return [word for word in labels if word in known] or list(incoming)


def model_version_by_ref(*, ref: str) -> ModelVersion | None:
    """A version by id, else by exact name (the newest of that name); None when neither matches."""
    if ref.isdigit():
        found = ModelVersion.objects.filter(pk=int(ref)).first()
        if found is not None:
            return found
    return ModelVersion.objects.filter(name=ref).order_by("-created_at", "-id").first()
