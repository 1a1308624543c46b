"""`manage.py run_training_job ID`: the process of one training job (spawned by the admin or `training_jobs start`).

Not meant to be typed by hand; it runs the job recorded in the database,
writes its progress there and exits with 0 when the model was registered.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from training.models import JobStatus, TrainingJob


class Command(BaseCommand):
    help = "Run training job ID (as its own process): progress and outcome go to the job's database row."

    def add_arguments(self, parser):
        parser.add_argument("job_id", type=int)

    def handle(self, *args, **opts):
        from training.jobs import JobRunner

        if not TrainingJob.objects.filter(pk=opts["job_id"]).exists():
            raise CommandError(f"no training job {opts['job_id']}")
        status = JobRunner(opts["job_id"], out=self.stdout).run()
        if status != JobStatus.SUCCEEDED:
            raise CommandError(f"job {opts['job_id']} ended {status}")
