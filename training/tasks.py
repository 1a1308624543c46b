"""The training queue's task. Web processes import this to enqueue; only a training worker runs it.

Light on purpose: what the task runs (TensorFlow, the pipeline) is imported
inside it, on the worker.
"""

from __future__ import annotations

from django_tasks import task


class TrainingJobFailed(Exception):
    """Raised by the task when its job failed, so the queue's record says failed too (the job row says why)."""


@task(queue_name="training")
def run_training_job(job_id: int) -> str:
    """Run training job `job_id` to its end on this worker; returns its final status."""
    from training.job_run import JobRun
    from training.models import JobStatus

    status = JobRun(job_id).run()
    if status == JobStatus.FAILED:
        raise TrainingJobFailed(f"training job {job_id} failed; its page says why")
    return status
