"""A training job: one `run_training_job` process, its settings, live progress and outcome.

Everything the admin shows about a job is in this row, written by the job's
own process (never by a web worker), so the page survives a web restart and
any web process can serve it. A job whose process died is found by the
reaper in `training.jobs` and marked failed.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings as django_settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobPhase(models.TextChoices):
    QUEUED = "queued", "waiting to start"
    STARTING = "starting", "starting (loading TensorFlow)"
    DOWNLOADING = "downloading", "downloading Quick, Draw! data"
    PREPARING = "preparing", "preparing data"
    TRAINING = "training", "training"
    EXPORTING = "exporting", "exporting the .tflite model"
    EVALUATING = "evaluating", "evaluating"
    REGISTERING = "registering", "registering the model version"
    DONE = "done", "done"


class TrainingJob(models.Model):
    name = models.CharField(max_length=100, blank=True, help_text="Name of the model version it registers.")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    phase = models.CharField(max_length=16, choices=JobPhase.choices, default=JobPhase.QUEUED)
    message = models.CharField(max_length=300, blank=True, help_text="What the current phase is doing.")
    # Overall progress 0..1 for the bar; epoch/step for "epoch k of n".
    fraction = models.FloatField(default=0.0)
    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    val_accuracy = models.FloatField(null=True, blank=True)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="One entry per finished epoch.")

    settings = models.JSONField(default=dict, help_text="Data sources, categories, drawings per category, epochs...")
    out_dir = models.CharField(max_length=500, blank=True)
    log_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)

    # Which process runs it and whether it still lives (see training.jobs.reap_dead_jobs).
    pid = models.PositiveIntegerField(null=True, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model_version = models.ForeignKey(
        "inference.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="training_jobs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"training job #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def log_file(self) -> Path | None:
        return Path(self.log_path) if self.log_path else None
