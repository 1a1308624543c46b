"""One attempt at a training job, inside a training worker: claim it, train, write progress, finish.

The worker's task (`training.tasks.run_training_job`) runs `JobRun(job_id).run()`
in the worker's thread: the pipeline calls `progress` between batches, and at
most once a second that call writes the job's row (phase, bar, epoch, loss,
ETA, log tail) and reads back whether a cancel was asked, raising
`JobCancelled` to stop training between two steps; nothing is ever
interrupted or killed. Beside it, one daemon thread only refreshes the row's
sign of life every few seconds, because whole phases make no progress call
(TensorFlow's import, graph tracing and the first step, which take half a
minute on a busy machine; the export): the watch in `training.jobs` fails a
job whose row stays silent, so silence must mean a dead worker, not a slow
step. (django-tasks-db has no liveness of its own yet: django-tasks#46.)
A retried job trains on from its checkpoint (`<out_dir>/checkpoint`, see
training.pipeline).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import threading
import time
import traceback
from collections import deque
from pathlib import Path

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from training.job_services import (
    JOB_RECIPE,
    MIRROR_KEYS,
    describe_settings,
    partner_model_file,
    source_for_settings,
)
from training.jobs import LOG_TAIL_BYTES, finish_job
from training.models import JobPhase, JobStatus, TrainingJob

log = logging.getLogger(__name__)

# How often the row is written while the job makes progress calls.
FLUSH_SECONDS = 1.0
# How often the keep-alive thread refreshes the row's sign of life (well inside TRAINING_JOB_STALE_SECONDS).
KEEPALIVE_SECONDS = 5.0
LOG_TAIL_LINES = 200
CHECKPOINT_DIR = "checkpoint"

# Share of the progress bar each phase starts at; training fills the span up to exporting.
PHASE_START = {
    JobPhase.QUEUED: 0.0,
    JobPhase.STARTING: 0.01,
    JobPhase.DOWNLOADING: 0.02,
    JobPhase.PREPARING: 0.1,
    JobPhase.TRAINING: 0.12,
    JobPhase.EXPORTING: 0.9,
    JobPhase.EVALUATING: 0.93,
    JobPhase.REGISTERING: 0.98,
    JobPhase.DONE: 1.0,
}


class JobCancelled(Exception):
    """Raised from a progress call when an admin asked the job to stop."""


class JobEnded(Exception):
    """Raised from a progress call when the job's row was ended elsewhere (the watch took its worker for dead)."""


class ProgressState:
    """The latest progress, from the pipeline's progress calls, as fields of the job's row.

    Pure bookkeeping (no database), so the arithmetic of fraction and ETA is testable alone. A retried
    job starts from its row's bar and epoch history, so neither moves backwards."""

    def __init__(self, *, epochs: int, fraction: float = 0.0, history: list | None = None, clock=time.monotonic):
        self.clock = clock
        self.fields: dict = {"epochs": epochs}
        self.fraction = fraction
        self.history: list[dict] = list(history or [])
        self.training_started: float | None = None
        self.done_at_start = 0.0
        self.dirty = True

    def update(self, phase: str, **info) -> str | None:
        """Fold one progress(phase, **info) call in; returns a log line for the phases worth logging."""
        self.dirty = True
        line = self._update(phase, info)
        self.fraction = max(self.fraction, self.fields.get("fraction", 0.0))
        self.fields["fraction"] = self.fraction
        return line

    def _training(self, phase: str, info: dict) -> str | None:
        f = self.fields
        now = self.clock()
        epochs = int(info.get("epochs") or f.get("epochs") or 1)
        epoch = int(info.get("epoch") or 1)
        steps = int(info.get("steps") or f.get("steps") or 0)
        step = steps if phase == "epoch_end" else int(info.get("step") or 0)
        done = epoch / epochs if phase == "epoch_end" else ((epoch - 1) + (step / steps if steps else 0.0)) / epochs
        if self.training_started is None:
            self.training_started, self.done_at_start = now, done
        f.update(phase=JobPhase.TRAINING, epoch=epoch, epochs=epochs, step=step, steps=steps)
        f["fraction"] = PHASE_START[JobPhase.TRAINING] + done * (
            PHASE_START[JobPhase.EXPORTING] - PHASE_START[JobPhase.TRAINING]
        )
        for key in ("loss", "accuracy", "val_accuracy"):
            if key in info:
                f[key] = float(info[key])
        progressed = done - self.done_at_start
        elapsed = now - self.training_started
        f["eta_seconds"] = int(elapsed * (1 - done) / progressed) if progressed > 0.02 else None
        f["message"] = f"epoch {epoch} of {epochs}" + (f", step {step} of {steps}" if steps else "")
        if phase != "epoch_end":
            return None
        entry = {k: round(float(v), 5) for k, v in info.items() if isinstance(v, int | float)}
        self.history = [h for h in self.history if h.get("epoch") != epoch] + [entry]
        f["history"] = list(self.history)
        return (
            f"epoch {epoch}/{epochs}: loss {info.get('loss', 0):.3f} acc {info.get('accuracy', 0):.3f} "
            f"val_acc {info.get('val_accuracy', 0):.3f} val_top3 {info.get('val_top3', 0):.3f} "
            f"({info.get('seconds', 0):.0f} s)"
        )

    def _update(self, phase: str, info: dict) -> str | None:
        f = self.fields
        if phase in ("training", "epoch_end"):
            return self._training(phase, info)
        if phase == "resuming":
            f.update(resumed_from_epoch=int(info["epoch"]), epoch=int(info["epoch"]))
            return f"[resuming] {info.get('message') or ''}".rstrip()
        if phase == "downloading":
            index, total = int(info.get("index", 0)), max(int(info.get("total", 1)), 1)
            f.update(phase=JobPhase.DOWNLOADING, eta_seconds=None)
            f["fraction"] = PHASE_START[JobPhase.DOWNLOADING] + (index / total) * (
                PHASE_START[JobPhase.PREPARING] - PHASE_START[JobPhase.DOWNLOADING]
            )
            f["message"] = f"{info.get('category', '')} ({index + 1} of {total})"
            return f"[downloading] {f['message']}"
        if phase == "done":
            f.update(phase=JobPhase.REGISTERING, fraction=PHASE_START[JobPhase.REGISTERING], eta_seconds=None)
            f["message"] = "registering the model version"
            return "[done] " + " ".join(f"{k}={v:.4g}" for k, v in info.items() if isinstance(v, int | float))
        known = phase if phase in PHASE_START else JobPhase.PREPARING
        f.update(phase=known, fraction=max(self.fraction, PHASE_START[known]))
        if phase in ("exporting", "evaluating"):
            f["eta_seconds"] = None
        f["message"] = str(info.get("message") or JobPhase(known).label)[:300]
        return f"[{phase}] {f['message']}"

    def take(self) -> dict | None:
        """The fields to write if anything changed since the last take."""
        if not self.dirty:
            return None
        self.dirty = False
        return dict(self.fields)


class JobLog:
    """The job's log: every line appended to its file in the job folder, the last ones kept for its row."""

    def __init__(self, path: Path, tail: str = ""):
        self.path = path
        self.lines: deque[str] = deque(tail.splitlines()[-LOG_TAIL_LINES:], maxlen=LOG_TAIL_LINES)

    def write(self, line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        for part in stamped.splitlines() or [""]:
            self.lines.append(part)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(stamped + "\n")
        except OSError:
            log.exception("cannot write the job log %s", self.path)
        print(stamped, file=sys.stdout, flush=True)  # the worker's own output too

    def tail(self) -> str:
        text = "\n".join(self.lines) + "\n" if self.lines else ""
        return text[-LOG_TAIL_BYTES:]


class _LogHandler(logging.Handler):
    """Log records of the training code, while a job runs, into its log."""

    def __init__(self, job_log: JobLog, thread: threading.Thread):
        super().__init__(logging.INFO)
        self.job_log, self.thread = job_log, thread

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is self.thread:
            self.job_log.write(f"{record.levelname.lower()}: {record.getMessage()}")


class _KeepAlive:
    """While a job runs: its row's `heartbeat_at`, refreshed every KEEPALIVE_SECONDS from a daemon thread.

    It writes that one field of a running job and nothing else: progress, cancel and the outcome stay
    with the job's own thread."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"job-{job_id}-alive", daemon=True)

    def __enter__(self) -> _KeepAlive:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self.stop.wait(KEEPALIVE_SECONDS):
                try:
                    TrainingJob.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    log.exception("job %s: could not refresh its sign of life; trying again", self.job_id)
        finally:
            connection.close()  # this thread's own connection


def config_for_settings(*, job_settings: dict):
    """The TrainConfig a job's stored settings describe (unset ones keep TrainConfig's defaults, so a job
    stored before a setting existed trains, and resumes, as it did); a paired job's second network is its
    partner version's file, wherever the model store keeps it now."""
    from training.pipeline import TrainConfig

    recipe = {key: job_settings[key] for key in (*JOB_RECIPE, *MIRROR_KEYS) if key in job_settings}
    return TrainConfig(
        categories=job_settings.get("categories"),
        per_class=job_settings.get("per_class"),
        epochs=job_settings["epochs"],
        augment=job_settings.get("augment", True),
        batch_size=job_settings.get("batch_size") or 128,
        validation_per_class=job_settings.get("validation_per_class"),
        second_network=partner_model_file(job_settings=job_settings),
        **recipe,
    )


class JobRun:
    """One attempt at one job, in the calling thread (a training worker's task)."""

    def __init__(self, job_id: int, *, clock=time.monotonic):
        self.job_id = job_id
        self.clock = clock
        self.thread = threading.current_thread()
        self.state: ProgressState | None = None
        self.log: JobLog | None = None
        self.flushed_at = float("-inf")

    def say(self, line: str) -> None:
        assert self.log is not None
        self.log.write(line)

    def run(self) -> str:
        """Run the job to its end; returns its final status."""
        job = TrainingJob.objects.get(pk=self.job_id)
        now = timezone.now()
        claimed = TrainingJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED, cancel_requested=False).update(
            status=JobStatus.RUNNING,
            phase=JobPhase.STARTING,
            message=JobPhase.STARTING.label,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            started_at=job.started_at or now,
            heartbeat_at=now,
            attempt=job.attempt + 1,
            fraction=max(job.fraction, PHASE_START[JobPhase.STARTING]),
            resumed_from_epoch=None,
        )
        if not claimed:  # cancelled before a worker took it, or taken already
            job.refresh_from_db()
            return job.status
        job.refresh_from_db()
        self.log = JobLog(Path(job.log_path), tail=job.log_tail)
        self.state = ProgressState(epochs=job.settings.get("epochs", 1), fraction=job.fraction, history=job.history)
        self.say(f"attempt {job.attempt} on {job.hostname} (pid {job.pid}): {describe_settings(job.settings)}")
        handler = _LogHandler(self.log, self.thread)
        logger = logging.getLogger("training")
        logger.addHandler(handler)
        try:
            with _KeepAlive(job.pk):
                return self._run(job)
        finally:
            logger.removeHandler(handler)

    def _run(self, job: TrainingJob) -> str:
        out_dir = Path(job.out_dir)
        try:
            self._train(job, out_dir)
        except JobCancelled:
            self.say("cancelled")
            self._flush(force=True, check=False)
            finish_job(
                job_id=job.pk,
                status=JobStatus.CANCELLED,
                message="cancelled by an admin",
                from_statuses=[JobStatus.RUNNING],
            )  # its checkpoint stays: a retry goes on from it
            return TrainingJob.objects.get(pk=job.pk).status
        except JobEnded:
            self.say("the job was ended elsewhere (its worker was taken for dead); stopping")
            return TrainingJob.objects.get(pk=job.pk).status
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.say(traceback.format_exc().rstrip())
            self.say(f"failed: {error}")
            self._flush(force=True, check=False)
            finish_job(
                job_id=job.pk, status=JobStatus.FAILED, error=error, message="failed", from_statuses=[JobStatus.RUNNING]
            )
            return JobStatus.FAILED
        except BaseException as exc:  # the worker is being stopped (SIGTERM twice, Ctrl-C): say so, then let it
            error = (
                f"the training worker was stopped ({type(exc).__name__}); Retry goes on from the last finished epoch"
            )
            self.say(error)
            self._flush(force=True, check=False)
            finish_job(
                job_id=job.pk,
                status=JobStatus.FAILED,
                error=error,
                message="its worker was stopped",
                from_statuses=[JobStatus.RUNNING],
            )
            raise
        shutil.rmtree(out_dir / CHECKPOINT_DIR, ignore_errors=True)
        return JobStatus.SUCCEEDED

    def _train(self, job: TrainingJob, out_dir: Path):
        from training.dependencies import missing_message, missing_training_packages

        missing = missing_training_packages()
        if missing:  # the worker checks at start too; this says it on the job's own page
            raise RuntimeError(missing_message(missing))
        from training.download import download_all, download_sources
        from training.pipeline import run_training
        from training.services import register_trained_model

        source = source_for_settings(job_settings=job.settings)
        for part in download_sources(source):
            part.progress = False  # a byte-level bar would only fill the log
        download_all(
            source,
            on_category=lambda category, index, total: self._progress(
                "downloading", category=category, index=index, total=total
            ),
        )
        report = run_training(
            source,
            config_for_settings(job_settings=job.settings),
            out_dir,
            progress=self._progress,
            checkpoint_dir=out_dir / CHECKPOINT_DIR,
            command=f"training job {job.pk}: {describe_settings(job.settings)}",
        )
        self._flush(force=True)
        with transaction.atomic():  # a job ended meanwhile registers nothing
            version = register_trained_model(
                out_dir=out_dir,
                report=report,
                name=job.name or f"job {job.pk}",
                created_by=job.created_by.get_username() if job.created_by else "",
            )
            m = version.metrics
            self.say(
                f"registered {version}: top1 {m.get('top1', 0):.3f} top3 {m.get('top3', 0):.3f} "
                f"map3 {m.get('map3', 0):.3f}"
            )
            self._flush(force=True, check=False)
            if not finish_job(
                job_id=job.pk,
                status=JobStatus.SUCCEEDED,
                version=version,
                message=f"registered {version}",
                from_statuses=[JobStatus.RUNNING],
            ):
                raise JobEnded()
        return version

    def _progress(self, phase: str, **info) -> None:
        assert self.state is not None
        before = self.state.fields.get("phase")
        line = self.state.update(phase, **info)
        if line:
            self.say(line)
        # A finished epoch or a new phase is written at once; steps at most every FLUSH_SECONDS.
        self._flush(force=phase in ("epoch_end", "resuming") or self.state.fields.get("phase") != before)

    def _flush(self, *, force: bool = False, check: bool = True) -> None:
        """Write the latest progress, log tail and time (at most every FLUSH_SECONDS unless forced); with `check`,
        raise JobCancelled if a cancel was asked, JobEnded if the row was ended elsewhere."""
        now = self.clock()
        if not force and now - self.flushed_at < FLUSH_SECONDS:
            return
        self.flushed_at = now
        assert self.state is not None and self.log is not None
        fields = self.state.take() or {}
        rows = TrainingJob.objects.filter(pk=self.job_id, status=JobStatus.RUNNING)
        if check:
            rows = rows.filter(cancel_requested=False)
        if rows.update(heartbeat_at=timezone.now(), log_tail=self.log.tail(), **fields) or not check:
            return
        if TrainingJob.objects.filter(pk=self.job_id, status=JobStatus.RUNNING, cancel_requested=True).exists():
            self.say("cancel requested")
            raise JobCancelled()
        raise JobEnded()
