"""A training job: a task on the training queue, its settings, live progress, log tail and outcome; the workers.

Everything the admin shows about a job is in its row, written by the worker
that runs it (never by a web process), so any web process on any host can
show it and the page survives restarts of both. A running job whose worker
stops writing is marked failed by the watch in `training.jobs`.
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)


class JobPhase(models.TextChoices):
    QUEUED = "queued", "waiting for a training worker"
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
    log_tail = models.TextField(blank=True, help_text="The last lines of the job's log, written by its worker.")
    error = models.TextField(blank=True)

    # The queue's task for the latest attempt, and the worker running it.
    task_id = models.CharField(max_length=64, blank=True)
    attempt = models.PositiveIntegerField(default=0, help_text="How many times a worker started it.")
    resumed_from_epoch = models.PositiveIntegerField(
        null=True, blank=True, help_text="The last attempt went on from the checkpoint of this epoch."
    )
    pid = models.PositiveIntegerField(null=True, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When its worker last wrote progress.")
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
    def can_retry(self) -> bool:
        return self.status in RETRYABLE_STATUSES

    def summary(self) -> dict:
        """The job as plain JSON-ready fields (what `training_jobs show` prints)."""
        return {
            "id": self.pk,
            "status": self.status,
            "phase": self.phase,
            "message": self.message,
            "fraction": round(self.fraction, 4),
            "epoch": self.epoch,
            "epochs": self.epochs,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "eta_seconds": self.eta_seconds,
            "error": self.error,
            "pid": self.pid,
            "hostname": self.hostname,
            "attempt": self.attempt,
            "resumed_from_epoch": self.resumed_from_epoch,
            "task_id": self.task_id,
            "model_version": self.model_version_id,
            "log": self.log_path,
        }


class TrainingWorker(models.Model):
    """A training worker as it announced itself when it started: where, and whether it can train at all."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    missing_packages = models.JSONField(default=list, blank=True, help_text="Training packages it could not find.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"training worker {self.hostname} pid {self.pid}"

    @property
    def ready(self) -> bool:
        return not self.missing_packages
