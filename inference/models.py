"""A trained model the game can serve: its file, labels, metrics and provenance."""

from __future__ import annotations

from pathlib import Path

from django.db import models

from inference.model_store import resolve


class ModelVersion(models.Model):
    name = models.CharField(max_length=100)
    # Relative to MODEL_STORE_DIR (every version's folder is in the store), or absolute.
    file_path = models.CharField(max_length=500)
    labels = models.JSONField(help_text="Category names in the model's output order.")
    metrics = models.JSONField(default=dict, blank=True)
    training_settings = models.JSONField(default=dict, blank=True)
    training_data = models.JSONField(default=dict, blank=True, help_text="Sources, categories, drawings per category.")
    size_bytes = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    is_shipped_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_model_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    @property
    def path(self) -> Path:
        return resolve(self.file_path)


class ModelActivation(models.Model):
    """Who switched the live model, when, and from what: the audit trail and roll-back's memory."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="activations")
    previous = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_by = models.CharField(max_length=150, blank=True)
    activated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-activated_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} activated by {self.activated_by or 'system'}"


class PendingActivation(models.Model):
    """A swap that waits: the version goes live once no turn in play uses a word it lacks.

    At most one at a time (a new activation or a cancel replaces it); every web
    process checks it every second (`inference.services.complete_pending_activation`),
    and meanwhile new turns only offer words this version knows."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="pending_activations")
    requested_by = models.CharField(max_length=150, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    waiting_for = models.JSONField(default=list, blank=True, help_text="Words in play it lacks, when last checked.")

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} waits for turns using {', '.join(self.waiting_for[:5]) or 'no word'} to end"
