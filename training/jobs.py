"""Training jobs on the task queue: start, cancel, retry, and the watch that notices a worker that died.

A job is a `TrainingJob` row plus a task on django-tasks' database queue
("training"). Any web process or command enqueues it; a training worker
(`manage.py training_worker`, django-tasks-db's `db_worker` on that queue, on
this host or any other that reaches the database and the model store) runs it
(`training.tasks.run_training_job`) and is the only writer of its progress.
Nothing here imports TensorFlow: web processes import this module.

Cancelling is a flag on the row that the job reads at its next progress write
(at most a second apart while it trains) and stops at, keeping its output.
A worker can die without a word (killed, out of memory, its host gone): a
running job's worker refreshes its row's `heartbeat_at` every few seconds
(training.job_run), so `fail_orphaned_jobs`, which every web process runs
every few seconds, marks a job failed once its row has been silent for
`TRAINING_JOB_STALE_SECONDS`. Retrying a failed job queues it again, and the
worker that takes it resumes from the last epoch's checkpoint in its folder.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from training.models import ACTIVE_STATUSES, RETRYABLE_STATUSES, JobPhase, JobStatus, TrainingJob, TrainingWorker

log = logging.getLogger(__name__)

TRAINING_QUEUE = "training"
LOG_TAIL_BYTES = 12_000


class TrainingJobError(ValueError):
    """A job action that cannot be done (e.g. retrying a job that is still running); the message says why."""


def job_dir_for(*, job: TrainingJob) -> Path:
    return Path(settings.MODEL_STORE_DIR) / f"{time.strftime('%Y%m%d-%H%M%S')}-job{job.pk}"


def _enqueue(job: TrainingJob) -> None:
    from training.tasks import run_training_job

    result = run_training_job.enqueue(job_id=job.pk)
    TrainingJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.task_id = str(result.id)


def start_training_job(*, job_settings: dict, user=None) -> TrainingJob:
    """Record a job with already-checked settings (see job_services.clean_job_settings) and queue it."""
    with transaction.atomic():
        job = TrainingJob.objects.create(
            name=job_settings.get("name", ""),
            settings=job_settings,
            created_by=user,
            epochs=job_settings.get("epochs", 0),
            message=JobPhase.QUEUED.label,
        )
        out_dir = job_dir_for(job=job)
        job.out_dir, job.log_path = str(out_dir), str(out_dir / "job.log")
        job.save(update_fields=["out_dir", "log_path"])
        _enqueue(job)
    return job


def request_cancel(*, job: TrainingJob) -> TrainingJob:
    """Stop a job: a queued one is cancelled at once, a running one at its next progress write (within a second
    while it trains; a phase in native code, such as the export, finishes first)."""
    if job.status == JobStatus.QUEUED:
        finish_job(
            job_id=job.pk,
            status=JobStatus.CANCELLED,
            message="cancelled before it ran",
            from_statuses=[JobStatus.QUEUED],
        )
    TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return job


def retry_training_job(*, job: TrainingJob) -> TrainingJob:
    """Queue a failed or cancelled job again; its worker goes on from the last finished epoch's checkpoint."""
    with transaction.atomic():
        updated = TrainingJob.objects.filter(pk=job.pk, status__in=list(RETRYABLE_STATUSES)).update(
            status=JobStatus.QUEUED,
            phase=JobPhase.QUEUED,
            message=JobPhase.QUEUED.label,
            error="",
            cancel_requested=False,
            finished_at=None,
            eta_seconds=None,
        )
        if not updated:
            raise TrainingJobError(
                f"training job #{job.pk} is {job.status}; only failed or cancelled jobs can be retried"
            )
        job.refresh_from_db()
        _enqueue(job)
    return job


def finish_job(
    *, job_id: int, status: str, error: str = "", message: str = "", version=None, from_statuses=ACTIVE_STATUSES
) -> bool:
    """Move a job to a final status, only if it is still in one of `from_statuses` (first writer wins)."""
    fields: dict = {"status": status, "finished_at": timezone.now(), "eta_seconds": None}
    if error:
        fields["error"] = error[:10000]
    if message:
        fields["message"] = message[:300]
    if status == JobStatus.SUCCEEDED:
        fields.update(phase=JobPhase.DONE, fraction=1.0, model_version=version)
    return bool(TrainingJob.objects.filter(pk=job_id, status__in=list(from_statuses)).update(**fields))


def fail_orphaned_jobs(*, now: datetime | None = None) -> list[int]:
    """Mark running jobs whose worker has not written their row for TRAINING_JOB_STALE_SECONDS as failed
    (cancelled, if a cancel was asked); returns their ids. Web processes run this every few seconds."""
    now = now or timezone.now()
    stale = float(settings.TRAINING_JOB_STALE_SECONDS)
    ended = []
    for job in TrainingJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale)):
        silent = (now - job.heartbeat_at).total_seconds()
        where = f"{job.hostname} pid {job.pid}" if job.pid else "its worker"
        if job.cancel_requested:
            done = finish_job(
                job_id=job.pk, status=JobStatus.CANCELLED, message="cancelled", from_statuses=[JobStatus.RUNNING]
            )
            reason = "cancelled; its worker had stopped"
        else:
            reason = (
                f"the training worker ({where}) stopped without a word: nothing from it for {silent:.0f} s "
                "(killed, out of memory, or its host went down). Retry goes on from the last finished epoch."
            )
            done = finish_job(
                job_id=job.pk,
                status=JobStatus.FAILED,
                error=reason,
                message="its worker died",
                from_statuses=[JobStatus.RUNNING],
            )
        if done:
            _fail_task(job.task_id, reason, now)
            log.warning("training job %s: %s", job.pk, reason)
            ended.append(job.pk)
    return ended


def _fail_task(task_id: str, reason: str, now: datetime) -> None:
    """The queue's record of the lost attempt says so too (django-tasks-db leaves it running for ever)."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if task_id:
        DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path="training.jobs.WorkerLost",
            traceback=reason,
        )


def register_worker(*, worker_id: str, missing_packages: list[str]) -> TrainingWorker:
    """A training worker announces itself (which host, whether it can train) as it starts; the train page reads it."""
    worker, _ = TrainingWorker.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "missing_packages": missing_packages},
    )
    stale = TrainingWorker.objects.values_list("pk", flat=True)[20:]
    TrainingWorker.objects.filter(pk__in=list(stale)).delete()  # keep the latest few announcements
    return worker
