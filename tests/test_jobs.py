"""Training jobs: their own process, live progress, cancel, a killed process noticed, a web restart survived.

The end-to-end tests run as production does: a real Daphne on a fresh
SQLite file, a staff user driving the admin over HTTP, and real `run_training_job`
processes training tiny models on the shared Quick, Draw! sample. The
job's row is read through the admin's own progress feed; the database file
is opened read-only only to check what was registered. The unit tests
cover the reaper's rules and the progress arithmetic without processes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from tests.live_server import REPO, _migrate, _stop, _wait_until_up, daphne_args, free_port, server_env
from tests.test_admin import create_user_in, http_login
from training.job_services import JobSettingsError, clean_job_settings
from training.jobs import PHASE_START, ProgressState, process_is_job, reap_dead_jobs, request_cancel
from training.models import JobPhase, JobStatus, TrainingJob

CATEGORIES = ["snowflake", "apple", "bicycle"]


# --- the reaper and the progress arithmetic, no processes ------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.django_db
def test_reaper_marks_jobs_whose_process_is_gone_or_silent_as_failed_and_leaves_live_ones():
    here, now = socket.gethostname(), timezone.now()
    fresh = now - timedelta(seconds=2)

    def make(**fields) -> TrainingJob:
        return TrainingJob.objects.create(status=JobStatus.RUNNING, settings={}, **fields)

    killed = make(pid=dead_pid(), hostname=here, heartbeat_at=fresh)
    reused = make(pid=os.getpid(), hostname=here, heartbeat_at=fresh)  # alive, but pytest, not a job process
    silent = make(pid=1, hostname="another-host", heartbeat_at=now - timedelta(seconds=600))
    elsewhere = make(pid=1, hostname="another-host", heartbeat_at=fresh)  # other host: only the heartbeat counts
    cancelled = make(pid=dead_pid(), hostname=here, heartbeat_at=fresh, cancel_requested=True)
    never = TrainingJob.objects.create(status=JobStatus.QUEUED, settings={})
    TrainingJob.objects.filter(pk=never.pk).update(created_at=now - timedelta(seconds=300))
    waiting = TrainingJob.objects.create(status=JobStatus.QUEUED, settings={})
    done = TrainingJob.objects.create(status=JobStatus.SUCCEEDED, settings={}, pid=dead_pid(), hostname=here)

    reaped = reap_dead_jobs(now=now)

    assert sorted(reaped) == sorted([killed.pk, reused.pk, silent.pk, cancelled.pk, never.pk])
    status = dict(TrainingJob.objects.values_list("pk", "status"))
    assert status[killed.pk] == status[reused.pk] == status[silent.pk] == status[never.pk] == JobStatus.FAILED
    assert status[cancelled.pk] == JobStatus.CANCELLED
    assert status[elsewhere.pk] == JobStatus.RUNNING and status[waiting.pk] == JobStatus.QUEUED
    assert status[done.pk] == JobStatus.SUCCEEDED
    errors = dict(TrainingJob.objects.values_list("pk", "error"))
    assert "is gone" in errors[killed.pk] and "no heartbeat" in errors[silent.pk] and "did not start" in errors[never.pk]
    assert reap_dead_jobs(now=now) == [], "a reaped job stays reaped"


def test_a_pid_counts_as_the_jobs_process_only_if_its_command_line_names_the_job():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "run_training_job", "17"])
    try:
        assert process_is_job(pid=proc.pid, job_id=17)
        assert not process_is_job(pid=proc.pid, job_id=18)
        assert not process_is_job(pid=os.getpid(), job_id=17)
    finally:
        proc.kill()
        proc.wait()
    assert not process_is_job(pid=proc.pid, job_id=17)


def test_progress_state_turns_pipeline_callbacks_into_bar_epoch_loss_and_eta():
    clock = iter([100.0, 110.0, 120.0, 130.0]).__next__
    state = ProgressState(epochs=2, clock=clock)
    state.update("preparing", message="counting drawings")
    assert state.take()["fraction"] == PHASE_START[JobPhase.PREPARING] and state.take() is None
    state.update("training", epoch=1, epochs=2, step=0, steps=100)  # t=100
    state.update("training", epoch=1, epochs=2, step=50, steps=100, loss=2.0, accuracy=0.25)  # t=110
    f = state.take()
    assert f["phase"] == JobPhase.TRAINING and (f["epoch"], f["epochs"], f["step"]) == (1, 2, 50)
    assert f["loss"] == 2.0 and f["accuracy"] == 0.25
    assert f["eta_seconds"] == 30  # a quarter done in 10 s: 30 s to go
    line = state.update("epoch_end", epoch=1, epochs=2, seconds=20.0, loss=1.5, accuracy=0.5, val_accuracy=0.4)
    f = state.take()
    assert "epoch 1/2" in line and f["val_accuracy"] == 0.4 and f["history"][0]["loss"] == 1.5
    assert f["fraction"] == pytest.approx((PHASE_START[JobPhase.TRAINING] + PHASE_START[JobPhase.EXPORTING]) / 2)
    state.update("exporting")
    assert state.take()["eta_seconds"] is None
    state.update("done", top1=0.5)
    assert state.take()["phase"] == JobPhase.REGISTERING


def test_quick_draw_downloads_happen_first_one_category_at_a_time_as_the_downloading_phase(tmp_path):
    import io

    from training.download import QuickDrawDownloadSource
    from training.jobs import JobRunner
    from training.sources import LocalFolderSource, MixedSource

    fetched: list[str] = []

    class Recorded(QuickDrawDownloadSource):
        def download(self, category: str) -> Path:
            fetched.append(category)
            return tmp_path / category

    (tmp_path / "folder").mkdir()
    source = MixedSource([LocalFolderSource(tmp_path / "folder"), Recorded(cache_dir=tmp_path, categories=["cat", "dog"])])
    runner = JobRunner(0, out=io.StringIO())
    runner.state = ProgressState(epochs=1)
    updates: list[dict] = []
    update = runner.state.update
    runner.state.update = lambda phase, **info: updates.append({"phase": phase, **info}) or update(phase, **info)
    runner._download_first(source)
    assert fetched == ["cat", "dog"] and not source.sources[1].progress, "no tqdm bar in the job's log"
    assert [(u["phase"], u["category"], u["index"], u["total"]) for u in updates] == [
        ("downloading", "cat", 0, 2), ("downloading", "dog", 1, 2)]
    fields = runner.state.take()
    assert fields["phase"] == JobPhase.DOWNLOADING and fields["message"] == "dog (2 of 2)"
    assert PHASE_START[JobPhase.DOWNLOADING] < fields["fraction"] < PHASE_START[JobPhase.PREPARING]
    assert "[downloading] cat (1 of 2)" in runner.out.getvalue()


@pytest.mark.django_db
def test_job_settings_are_checked_before_any_process_starts(shared_quickdraw, tmp_path):
    ok = clean_job_settings(sources=["folder"], folder=str(shared_quickdraw), categories="cat, dog,cat",
                            per_class=5, epochs=1)
    assert ok["categories"] == ["cat", "dog"] and ok["specs"] == [f"folder:{shared_quickdraw}"]
    assert clean_job_settings(sources=["folder"], folder=str(shared_quickdraw), epochs=1)["category_count"] == len(
        list(shared_quickdraw.glob("*.ndjson")))
    cases = [
        ({"sources": []}, "at least one data source"),
        ({"sources": ["folder"], "folder": str(tmp_path / "nope")}, "does not exist"),
        ({"sources": ["folder"], "folder": str(tmp_path)}, "no <category>.ndjson"),
        ({"sources": ["folder"], "folder": str(shared_quickdraw), "categories": "cat,unicornz"}, "unicornz"),
        ({"sources": ["folder"], "folder": str(shared_quickdraw), "categories": "cat"}, "at least 2"),
        ({"sources": ["folder"], "folder": str(shared_quickdraw), "epochs": 0}, "epochs"),
        ({"sources": ["quickdraw"], "categories": "cat,dgo"}, "not a Quick, Draw! category"),
        ({"sources": ["games"]}, "needs at least 2"),
    ]
    for kwargs, message in cases:
        with pytest.raises(JobSettingsError, match=re.escape(message)):
            clean_job_settings(**{"epochs": 1, **kwargs})


@pytest.mark.django_db
def test_cancel_of_a_running_job_is_a_request_its_process_acts_on():
    job = TrainingJob.objects.create(status=JobStatus.RUNNING, settings={}, pid=os.getpid(),
                                     hostname="another-host", heartbeat_at=timezone.now())
    request_cancel(job=job)
    job.refresh_from_db()
    assert job.cancel_requested and job.status == JobStatus.RUNNING  # the process stops itself within a second
    finished = TrainingJob.objects.create(status=JobStatus.SUCCEEDED, settings={})
    request_cancel(job=finished)
    finished.refresh_from_db()
    assert not finished.cancel_requested and finished.status == JobStatus.SUCCEEDED


# --- real processes behind a real server -------------------------------------------------------------------------


class Site:
    """A Daphne on a SQLite file that can be restarted on the same database, like a deploy."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db = workdir / "db.sqlite3"
        self.env = server_env(self.db, {"MODEL_STORE_DIR": str(workdir / "models")})
        _migrate(self.env, workdir / "migrate.log")
        create_user_in(self.env, "boss")
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.starts = 0

    def start(self) -> None:
        port = free_port()
        log_path = self.workdir / f"web{self.starts}.log"
        self.starts += 1
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *daphne_args(port)],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        _wait_until_up(self.url, self.proc, log_path, 60)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def query(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=20) as db:
            return db.execute(sql, args).fetchall()

    def logs(self) -> str:
        return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.workdir.rglob("*.log")))


@pytest.fixture
def site():
    workdir = Path(tempfile.mkdtemp(prefix="doodle-jobs-"))
    site = Site(workdir)
    site.start()
    try:
        yield site
    finally:
        site.stop()
        # No job process may outlive the test: end the ones it started, by pid.
        for job_id, pid in site.query("SELECT id, pid FROM training_trainingjob WHERE pid IS NOT NULL"):
            if process_is_job(pid=pid, job_id=job_id):
                os.kill(pid, signal.SIGKILL)
        print(site.logs()[-12000:])


def start_job(site: Site, http: requests.Session, **overrides) -> int:
    form = {"sources": ["folder"], "categories": ", ".join(CATEGORIES), "per_class": "60", "epochs": "1",
            "augment": "on", "name": "tiny", **overrides}
    form["csrfmiddlewaretoken"] = http.cookies["csrftoken"]
    add = site.url + "/admin/training/trainingjob/add/"
    answer = http.post(add, data=form, headers={"Referer": add}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[-3000:]
    return int(re.search(r"/trainingjob/(\d+)/change/", answer.headers["Location"]).group(1))


def progress(site: Site, http: requests.Session, job_id: int) -> dict:
    answer = http.get(f"{site.url}/admin/training/trainingjob/{job_id}/progress/", timeout=30)
    answer.raise_for_status()
    return answer.json()


def wait_for(site: Site, http: requests.Session, job_id: int, until, timeout: float, seen: list | None = None) -> dict:
    end = time.monotonic() + timeout
    while True:
        snap = progress(site, http, job_id)
        if seen is not None and (not seen or seen[-1] != (snap["phase"], snap["epoch_text"], snap["percent"])):
            seen.append((snap["phase"], snap["epoch_text"], snap["percent"]))
        if until(snap):
            return snap
        assert time.monotonic() < end, f"job {job_id} stuck at {snap}\n{site.logs()[-6000:]}"
        time.sleep(0.3)


@pytest.mark.training
def test_a_tiny_job_runs_in_its_own_process_reports_progress_survives_a_web_restart_and_registers_a_version(site):
    http = http_login(site.url, "boss")
    job_id = start_job(site, http)
    seen: list = []
    running = wait_for(site, http, job_id, lambda s: s["status"] == "running", 30, seen)
    (pid,) = site.query("SELECT pid FROM training_trainingjob WHERE id = ?", job_id)[0]
    assert pid != site.proc.pid and process_is_job(pid=pid, job_id=job_id), "its own process, not the web server"
    assert running["phase"] in ("starting", "preparing", "training")

    site.stop()  # a deploy: the web server goes away while the job trains ...
    assert process_is_job(pid=pid, job_id=job_id), "the job outlives the web server"
    site.start()  # ... and a new one (same database) shows the same job
    http = http_login(site.url, "boss")

    done = wait_for(site, http, job_id, lambda s: s["finished"], 150, seen)
    assert done["status"] == "succeeded", f"{done['error']}\n{site.logs()[-6000:]}"
    phases = [phase for phase, _, _ in seen]
    assert "training" in phases and phases.index("training") < len(phases) - 1
    assert ("training", "1 of 1") in {(p, e) for p, e, _ in seen}, seen
    percents = [int(p.rstrip("%")) for _, _, p in seen]
    assert percents == sorted(percents) and percents[-1] == 100, "the bar only moves forward, to the end"
    assert done["history"] and done["loss"] and done["accuracy"]
    assert "epoch 1/1" in done["log_tail"] and "registered" in done["log_tail"]

    version = done["model_version"]
    assert version["labels"] == CATEGORIES and version["name"] == "tiny"
    (labels, file_path, active, created_by) = site.query(
        "SELECT labels, file_path, is_active, created_by FROM inference_modelversion WHERE id = ?", version["id"])[0]
    assert labels == '["snowflake", "apple", "bicycle"]' and Path(file_path).is_file()
    assert not active and created_by == "boss", "registered, not activated: activating is a separate decision"
    page = http.get(site.url + version["url"], timeout=30).text
    assert "training_curves.png" in page and "snowflake, apple, bicycle" in page


@pytest.mark.training
def test_cancel_stops_a_training_process_and_a_killed_process_is_marked_failed(site):
    http = http_login(site.url, "boss")
    to_cancel = start_job(site, http, epochs="30", per_class="150", name="long")
    to_kill = start_job(site, http, epochs="30", per_class="150", name="doomed")

    wait_for(site, http, to_kill, lambda s: s["status"] == "running", 30)
    (kill_pid,) = site.query("SELECT pid FROM training_trainingjob WHERE id = ?", to_kill)[0]
    os.kill(kill_pid, signal.SIGKILL)
    failed = wait_for(site, http, to_kill, lambda s: s["finished"], 15)
    assert failed["status"] == "failed" and f"pid {kill_pid}" in failed["error"] and "gone" in failed["error"]
    page = http.get(f"{site.url}/admin/training/trainingjob/{to_kill}/change/", timeout=30).text
    assert f"(pid {kill_pid}) is gone" in page and "ax-badge ax-failed" in page

    wait_for(site, http, to_cancel, lambda s: s["phase"] == "training", 90)
    (pid,) = site.query("SELECT pid FROM training_trainingjob WHERE id = ?", to_cancel)[0]
    cancel_url = f"{site.url}/admin/training/trainingjob/{to_cancel}/cancel/"
    http.post(cancel_url, data={"csrfmiddlewaretoken": http.cookies["csrftoken"]}, headers={"Referer": cancel_url},
              timeout=30).raise_for_status()
    asked = time.monotonic()
    stopped = wait_for(site, http, to_cancel, lambda s: s["finished"], 20)
    assert stopped["status"] == "cancelled" and time.monotonic() - asked < 20
    assert stopped["model_version"] is None and "cancel requested" in stopped["log_tail"]
    end = time.monotonic() + 10
    while process_is_job(pid=pid, job_id=to_cancel) and time.monotonic() < end:
        time.sleep(0.2)
    assert not process_is_job(pid=pid, job_id=to_cancel), "the cancelled process exited"

    # An operator's SIGTERM (a deploy, a host shutdown) stops the job cleanly and records it as failed.
    to_term = start_job(site, http, epochs="30", per_class="150", name="terminated")
    wait_for(site, http, to_term, lambda s: s["phase"] == "training", 90)
    (term_pid,) = site.query("SELECT pid FROM training_trainingjob WHERE id = ?", to_term)[0]
    os.kill(term_pid, signal.SIGTERM)
    ended = wait_for(site, http, to_term, lambda s: s["finished"], 20)
    assert ended["status"] == "failed" and "terminated (SIGTERM)" in ended["error"], ended
    end = time.monotonic() + 10
    while process_is_job(pid=term_pid, job_id=to_term) and time.monotonic() < end:
        time.sleep(0.2)
    assert not process_is_job(pid=term_pid, job_id=to_term), "the terminated process exited"
    names = "('long', 'doomed', 'terminated')"
    assert site.query(f"SELECT COUNT(*) FROM inference_modelversion WHERE name IN {names}") == [(0,)]
