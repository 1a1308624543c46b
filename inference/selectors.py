"""Reads about model versions."""

from __future__ import annotations

from django.db import DatabaseError

from inference.models import ModelVersion


def active_model_version() -> ModelVersion | None:
    """The active version, or None (also when the database is not migrated yet)."""
    try:
        return ModelVersion.objects.filter(is_active=True).first()
    except DatabaseError:
        return None


def words_for_new_turns() -> list[str]:
    """The words a new turn may use: the live model's categories."""
    from inference.live import live_model

    return live_model.classifier().labels
