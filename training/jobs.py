"""Training jobs as separate OS processes: start, report progress, cancel, and notice when one died.

Why a process of its own: training takes minutes to hours of CPU and imports
TensorFlow; inside a web worker it would stall every game on that process
and die with every deploy. So `start_training_job` writes a row and spawns
``python manage.py run_training_job <id>`` in a new session (a web restart
neither waits for it nor kills it). That process (`JobRunner`) is the only
writer of the job's progress: a heartbeat thread flushes the latest progress
to the row every second and looks for a cancel request there, so the state
lives in the database and any web process can show it.

A process can die without saying so (OOM killer, `kill -9`, a reboot), which
would leave a row "running" for ever. `reap_dead_jobs` marks such jobs failed:
on the host that runs them it checks the pid (and that the pid is still that
job's process, not a reused number); anywhere, a heartbeat older than
`STALE_SECONDS` counts as dead. The admin views and
`manage.py training_jobs reap` call it.
"""

from __future__ import annotations

import _thread
import io
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from training.models import ACTIVE_STATUSES, JobPhase, JobStatus, TrainingJob

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
# A heartbeat older than this means the process is gone. Generous, because a
# long C++ call (the TFLite converter) can hold the GIL for a while.
STALE_SECONDS = float(getattr(settings, "TRAINING_JOB_STALE_SECONDS", 120))
# A spawned process that has not said hello within this long never started.
START_SECONDS = float(getattr(settings, "TRAINING_JOB_START_SECONDS", 60))
# After a cancel request, how long the job may take to stop by itself before it is cut off.
CANCEL_GRACE_SECONDS = 15.0
# How long a cancel waits for the job's next progress call before interrupting the main thread.
CANCEL_INTERRUPT_SECONDS = 5.0

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

# Popen objects of jobs this process spawned, so their exit is collected (no zombies).
_children: dict[int, subprocess.Popen] = {}


class JobCancelled(Exception):
    """Raised in the job process when an admin asked it to stop."""


# --- starting and stopping -----------------------------------------------------------------


def job_dir_for(*, job: TrainingJob) -> Path:
    return Path(settings.MODEL_STORE_DIR) / f"{time.strftime('%Y%m%d-%H%M%S')}-job{job.pk}"


def start_training_job(*, job_settings: dict, user=None) -> TrainingJob:
    """Record a job with already-checked settings (see job_services.clean_job_settings) and spawn its process."""
    job = TrainingJob.objects.create(name=job_settings.get("name", ""), settings=job_settings, created_by=user)
    out_dir = job_dir_for(job=job)
    job.out_dir = str(out_dir)
    job.log_path = str(out_dir / "job.log")
    job.save(update_fields=["out_dir", "log_path"])
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        spawn_job_process(job=job)
    except OSError as exc:
        finish_job(job_id=job.pk, status=JobStatus.FAILED, error=f"could not start the training process: {exc}")
        job.refresh_from_db()
    return job


def spawn_job_process(*, job: TrainingJob) -> int:
    """``manage.py run_training_job <id>`` in a new session, output appended to the job's log; returns its pid."""
    args = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "run_training_job", str(job.pk)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with open(job.log_path, "ab") as out:
        out.write(f"$ {shlex.join(args[1:])}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            args,
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in the web server's process group: its signals do not reach the job
            close_fds=True,
        )
    TrainingJob.objects.filter(pk=job.pk).update(pid=proc.pid, hostname=socket.gethostname())
    job.pid, job.hostname = proc.pid, socket.gethostname()
    _children[job.pk] = proc
    # Collect the exit status when it ends, so no zombie stays behind in a long-lived web process.
    threading.Thread(target=_wait_for_child, args=(job.pk, proc), daemon=True, name=f"job-{job.pk}-wait").start()
    return proc.pid


def _wait_for_child(job_id: int, proc: subprocess.Popen) -> None:
    proc.wait()
    _children.pop(job_id, None)


def request_cancel(*, job: TrainingJob) -> TrainingJob:
    """Ask a queued or running job to stop. Its process sees the request within a second and exits;
    a job whose process is already gone is marked cancelled at once."""
    if job.status not in ACTIVE_STATUSES:
        return job
    TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    if job.pid and job.hostname == socket.gethostname() and not process_is_job(pid=job.pid, job_id=job.pk):
        finish_job(job_id=job.pk, status=JobStatus.CANCELLED, message="cancelled before it ran")
        job.refresh_from_db()
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


# --- noticing dead processes -------------------------------------------------------------------


def process_is_job(*, pid: int, job_id: int) -> bool:
    """True if `pid` is alive (not a zombie) and is the process of job `job_id`, not a reused pid."""
    proc = Path("/proc") / str(pid)
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
        if state in ("Z", "X"):
            return False
        return b"run_training_job" in cmdline and str(job_id).encode() in cmdline
    try:  # no /proc (macOS): existence is all we can check
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def why_dead(*, job: TrainingJob, now=None) -> str:
    """Why an active job's process cannot be alive, or "" if it may be."""
    now = now or timezone.now()
    if job.pid and job.hostname == socket.gethostname():
        child = _children.get(job.pk)
        if child is not None and child.poll() is not None:
            return f"the training process (pid {job.pid}) is gone: it exited with code {child.returncode} unreported"
        if not process_is_job(pid=job.pid, job_id=job.pk):
            return f"the training process (pid {job.pid}) is gone (killed, or it crashed)"
    last = job.heartbeat_at
    if last is None:
        if now - job.created_at > timedelta(seconds=START_SECONDS):
            return f"the training process did not start within {START_SECONDS:.0f} s"
        return ""
    silent = (now - last).total_seconds()
    if silent > STALE_SECONDS:
        return f"no heartbeat from the training process for {silent:.0f} s"
    return ""


def reap_dead_jobs(*, now=None, job_id: int | None = None) -> list[int]:
    """Mark queued/running jobs (all, or just `job_id`) whose process is gone as failed (cancelled if a cancel
    was asked); returns their ids."""
    reaped = []
    active = TrainingJob.objects.filter(status__in=list(ACTIVE_STATUSES))
    for job in active.filter(pk=job_id) if job_id is not None else active:
        reason = why_dead(job=job, now=now)
        if not reason:
            continue
        if job.cancel_requested:
            done = finish_job(job_id=job.pk, status=JobStatus.CANCELLED, message="cancelled")
        else:
            done = finish_job(job_id=job.pk, status=JobStatus.FAILED, error=reason, message=reason)
        if done:
            log.warning("training job %s: %s", job.pk, reason)
            reaped.append(job.pk)
    return reaped


# --- the job process -----------------------------------------------------------------------------


class ProgressState:
    """The latest progress, updated by the training callback and flushed by the heartbeat thread.

    Pure bookkeeping (no database), so the arithmetic of fraction and ETA is testable alone.
    """

    def __init__(self, *, epochs: int, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.fields: dict = {"epochs": epochs}
        self.history: list[dict] = []
        self.training_started: float | None = None
        self.dirty = True

    def update(self, phase: str, **info) -> str | None:
        """Fold one progress(phase, **info) call in; returns a log line for the phases worth logging."""
        with self.lock:
            self.dirty = True
            return self._update(phase, info)

    def _update(self, phase: str, info: dict) -> str | None:
        f = self.fields
        if phase in ("training", "epoch_end"):
            now = self.clock()
            if self.training_started is None:
                self.training_started = now
            epochs = int(info.get("epochs") or f.get("epochs") or 1)
            epoch = int(info.get("epoch") or 1)
            steps = int(info.get("steps") or f.get("steps") or 0)
            step = steps if phase == "epoch_end" else int(info.get("step") or 0)
            done = ((epoch - 1) + (step / steps if steps else 0.0)) / epochs
            if phase == "epoch_end":
                done = epoch / epochs
            f.update(phase=JobPhase.TRAINING, epoch=epoch, epochs=epochs, step=step, steps=steps)
            f["fraction"] = PHASE_START[JobPhase.TRAINING] + done * (
                PHASE_START[JobPhase.EXPORTING] - PHASE_START[JobPhase.TRAINING]
            )
            if "loss" in info:
                f["loss"] = float(info["loss"])
            if "accuracy" in info:
                f["accuracy"] = float(info["accuracy"])
            if "val_accuracy" in info:
                f["val_accuracy"] = float(info["val_accuracy"])
            elapsed = now - self.training_started
            f["eta_seconds"] = int(elapsed * (1 - done) / done) if done > 0.02 else None
            f["message"] = f"epoch {epoch} of {epochs}" + (f", step {step} of {steps}" if steps else "")
            if phase == "epoch_end":
                entry = {k: round(float(v), 5) for k, v in info.items() if isinstance(v, int | float)}
                self.history.append(entry)
                f["history"] = list(self.history)
                return (
                    f"epoch {epoch}/{epochs}: loss {info.get('loss', 0):.3f} acc {info.get('accuracy', 0):.3f} "
                    f"val_acc {info.get('val_accuracy', 0):.3f} val_top3 {info.get('val_top3', 0):.3f} "
                    f"({info.get('seconds', 0):.0f} s)"
                )
            return None
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
        f.update(phase=known, fraction=max(f.get("fraction", 0.0), PHASE_START[known]))
        if phase in ("exporting", "evaluating"):
            f["eta_seconds"] = None
        f["message"] = str(info.get("message") or JobPhase(known).label)
        return f"[{phase}] {f['message']}"

    def take(self) -> dict | None:
        """The fields to write if anything changed since the last take."""
        with self.lock:
            if not self.dirty:
                return None
            self.dirty = False
            return dict(self.fields)


class QuietStdout(io.TextIOBase):
    """The job's stdout without TensorFlow's listing of captured tensors on export.

    Exporting a model prints one "  140...: TensorSpec(...)" line per variable
    (hundreds for a real model), which would push everything useful out of
    the log tail the admin shows; they are counted instead."""

    NOISE = re.compile(r"^\s+\d+: TensorSpec\(")

    def __init__(self, target):
        self.target = target
        self.pending = ""
        self.dropped = 0

    def write(self, text: str) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            if self.NOISE.match(line):
                self.dropped += 1
                continue
            if self.dropped:
                self.target.write(f"  ({self.dropped} TensorSpec lines left out)\n")
                self.dropped = 0
            self.target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.target.flush()


class JobRunner:
    """Runs one job inside its own process: heartbeat, progress, cancel, outcome."""

    def __init__(self, job_id: int, out=sys.stdout):
        self.job_id = job_id
        self.out = out
        self.state: ProgressState | None = None
        self.stop = threading.Event()
        self.cancel_seen = threading.Event()
        self.terminated = threading.Event()
        self.finished = threading.Event()

    def say(self, line: str) -> None:
        self.out.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        self.out.flush()

    def run(self) -> str:
        """Run the job to its end; returns the final status."""
        job = TrainingJob.objects.get(pk=self.job_id)
        started = TrainingJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED, cancel_requested=False).update(
            status=JobStatus.RUNNING, phase=JobPhase.STARTING, message=JobPhase.STARTING.label, pid=os.getpid(),
            hostname=socket.gethostname(), started_at=timezone.now(), heartbeat_at=timezone.now(),
            fraction=PHASE_START[JobPhase.STARTING],
        )
        if not started:
            job.refresh_from_db()
            if job.status == JobStatus.QUEUED:  # cancelled before it started
                finish_job(job_id=job.pk, status=JobStatus.CANCELLED, message="cancelled before it ran")
            self.say(f"job {job.pk} is {job.status}; nothing to do")
            return TrainingJob.objects.get(pk=job.pk).status
        self.state = ProgressState(epochs=job.settings.get("epochs", 1))
        self.say(f"job {job.pk} started (pid {os.getpid()}): {job.settings}")
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        beat.start()
        stdout, sys.stdout = sys.stdout, QuietStdout(sys.stdout)
        try:
            status = self._run(job)
        finally:
            sys.stdout.flush()
            sys.stdout = stdout
            self.finished.set()
            self.stop.set()
            beat.join(timeout=5)
            signal.signal(signal.SIGTERM, previous)
        return status

    def _run(self, job: TrainingJob) -> str:
        from training.job_services import config_for_settings, describe_settings, source_for_settings

        try:
            from training.services import train_and_register  # a missing training extra fails the job, visibly

            self.say(describe_settings(job.settings))
            source = source_for_settings(job_settings=job.settings)
            self._download_first(source)
            config = config_for_settings(job_settings=job.settings)
            command = f"python manage.py run_training_job {job.pk}  # {describe_settings(job.settings)}"
            version, report = train_and_register(
                source=source,
                config=config,
                out_dir=Path(job.out_dir),
                progress=self._progress,
                command=command,
                created_by=job.created_by.get_username() if job.created_by else "",
                name=job.name or f"job {job.pk}",
            )
        except (JobCancelled, KeyboardInterrupt):
            self._flush()
            return self._stopped()
        except Exception as exc:
            self._flush()
            self.out.write(traceback.format_exc())
            if self.cancel_seen.is_set():
                # The interrupt that stops a phase stuck in native code may surface as any error there.
                return self._stopped()
            error = f"{type(exc).__name__}: {exc}"
            finish_job(job_id=job.pk, status=JobStatus.FAILED, error=error, message="failed")
            self.say(f"failed: {error}")
            return JobStatus.FAILED
        self._flush()
        if not finish_job(job_id=job.pk, status=JobStatus.SUCCEEDED, version=version, message=f"registered {version}"):
            self.say(f"registered {version}, but the job was ended meanwhile")
            return TrainingJob.objects.get(pk=job.pk).status
        m = report["metrics"]
        self.say(f"registered {version}: top1 {m['top1']:.3f} top3 {m['top3']:.3f} map3 {m['map3']:.3f}")
        return JobStatus.SUCCEEDED

    def _stopped(self, *, forced: bool = False) -> str:
        """Record a job stopped on request: cancelled if an admin asked, failed if the process was terminated."""
        asked = TrainingJob.objects.filter(pk=self.job_id, cancel_requested=True).exists()
        how = " (forced)" if forced else ""
        if self.terminated.is_set() and not asked:
            error = "the training process was terminated (SIGTERM)" + (" and did not stop in time" if forced else "")
            finish_job(job_id=self.job_id, status=JobStatus.FAILED, error=error, message="terminated" + how)
            self.say(error)
            return JobStatus.FAILED
        finish_job(job_id=self.job_id, status=JobStatus.CANCELLED, message="cancelled by an admin" + how)
        self.say("cancelled" + how)
        return TrainingJob.objects.get(pk=self.job_id).status

    def _download_first(self, source) -> None:
        """Fetch Quick, Draw! files up front, one category at a time, so the page can show the download."""
        from training.download import QuickDrawDownloadSource
        from training.sources import MixedSource

        parts = source.sources if isinstance(source, MixedSource) else [source]
        for part in parts:
            if isinstance(part, QuickDrawDownloadSource):
                part.progress = False  # a tqdm bar would only fill the log
                cats = part.categories()
                for index, category in enumerate(cats):
                    self._progress("downloading", category=category, index=index, total=len(cats))
                    part.download(category)

    def _progress(self, phase: str, **info) -> None:
        if self.cancel_seen.is_set():
            raise JobCancelled()
        assert self.state is not None
        line = self.state.update(phase, **info)
        if line:
            self.say(line)

    def _flush(self) -> int:
        """Write the latest progress and a heartbeat; returns rows updated (0: the job was ended elsewhere)."""
        assert self.state is not None
        fields = self.state.take() or {}
        return TrainingJob.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(
            heartbeat_at=timezone.now(), **fields
        )

    def _heartbeat(self) -> None:
        """Every second: flush progress, and stop the job if a cancel was asked or it was ended elsewhere."""
        try:
            while not self.stop.wait(HEARTBEAT_SECONDS):
                try:
                    alive = self._flush()
                    cancel = TrainingJob.objects.filter(pk=self.job_id, cancel_requested=True).exists()
                except Exception:
                    log.exception("heartbeat failed")
                    close_old_connections()
                    continue
                if (cancel or not alive) and not self.cancel_seen.is_set() and not self.finished.is_set():
                    self.say("cancel requested" if cancel else "the job was ended from outside; stopping")
                    self.cancel_seen.set()  # training stops at its next progress call (every batch)
                    threading.Thread(target=self._cut_off, daemon=True).start()
        finally:
            connection.close()

    def _cut_off(self) -> None:
        """If the job does not stop at a progress call, interrupt it; if that fails too, record the cancel and exit.

        The interrupt comes second because a KeyboardInterrupt raised inside TensorFlow's native code can
        leave the interpreter in a bad state; a progress call between two steps is the clean way out."""
        if self.finished.wait(CANCEL_INTERRUPT_SECONDS):
            return
        _thread.interrupt_main()  # KeyboardInterrupt in the main thread, at its next bytecode
        if self.finished.wait(CANCEL_GRACE_SECONDS - CANCEL_INTERRUPT_SECONDS):
            return
        self.say(f"did not stop within {CANCEL_GRACE_SECONDS:.0f} s; exiting")
        self._stopped(forced=True)
        os._exit(1)

    def _on_sigterm(self, signum, frame) -> None:
        """Someone terminated the process: stop like a cancel (recorded as failed unless a cancel was asked).

        Only flags here, as for a cancel: the job stops at its next progress call, and is interrupted
        or cut off if it does not (a signal handler may also interrupt a database call of this thread)."""
        if self.terminated.is_set():
            return
        self.terminated.set()
        self.cancel_seen.set()
        threading.Thread(target=self._cut_off, daemon=True).start()
