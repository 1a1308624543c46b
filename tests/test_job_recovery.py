"""A training worker killed mid-job: the job is failed by the watch, and a retry resumes from its last epoch.

Apart from tests/test_jobs.py (same site: a real Daphne and a real training worker) so that the two
test processes of `make test` share the three long training runs.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from tests.test_admin import http_login
from tests.test_jobs import STALE_SECONDS, Site, post, running_site, start_job, wait_for


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.mark.training
@pytest.mark.timeout(900)
def test_a_killed_worker_fails_its_job_within_a_minute_and_a_retry_resumes_from_the_last_epoch(site):
    http = http_login(site.url, "boss")
    job_id = start_job(site, http, epochs="6", per_class="400", name="resumed")
    # In the middle of an epoch after at least two finished ones (so not while their checkpoint is written).
    mid_epoch = wait_for(
        site,
        http,
        job_id,
        lambda s: (
            s["status"] == "running"
            and len(s["history"]) >= 2
            and s["epoch"] > len(s["history"])
            and "step 0 of" not in s["message"]
        ),
        600,
    )
    site.worker.send_signal(signal.SIGKILL)  # OOM killer, a pulled plug: no goodbye
    site.worker.wait(10)
    killed = time.monotonic()
    epochs_done = len(mid_epoch["history"])

    failed = wait_for(site, http, job_id, lambda s: s["finished"], 60)
    print(
        f"killed worker: job marked failed {time.monotonic() - killed:.1f} s after the kill "
        f"(TRAINING_JOB_STALE_SECONDS={STALE_SECONDS}), after {epochs_done} of 6 epochs"
    )
    assert failed["status"] == "failed" and "stopped without a word" in failed["error"], failed
    assert failed["can_retry"]

    site.start_worker()
    post(site, http, f"/admin/training/trainingjob/{job_id}/retry/")
    retried = time.monotonic()
    done = wait_for(site, http, job_id, lambda s: s["finished"], 600)
    assert done["status"] == "succeeded", f"{done['error']}\n{site.logs()[-6000:]}"
    resumed_from = site.query("SELECT resumed_from_epoch FROM training_trainingjob WHERE id = ?", job_id)[0][0]
    print(f"retry: resumed after epoch {resumed_from}, finished {time.monotonic() - retried:.1f} s later")
    # The last checkpoint is the last finished epoch's, or the one before if the kill tore the newest.
    assert resumed_from is not None and resumed_from >= epochs_done - 1 >= 1, (resumed_from, epochs_done)
    assert "[resuming] resuming after epoch" in done["log_tail"] and done["attempt"] == 2
    assert [h["epoch"] for h in done["history"]] == [1, 2, 3, 4, 5, 6], "each epoch once, the early ones kept"
    (metrics,) = site.query("SELECT metrics FROM inference_modelversion WHERE name = 'resumed'")[0]
    assert '"epochs_run": 6' in metrics, "the report counts the epochs of both attempts"
