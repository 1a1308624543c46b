"""`manage.py run_training_job ID`: the process of one training job (spawned by the admin or `training_jobs start`).

Not meant to be typed by hand; it runs the job recorded in the database,
writes its progress there and exits with 0 when the model was registered.
"""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

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
            self.stderr.write(f"CommandError: job {opts['job_id']} ended {status}")
        # The outcome is in the database; exit at once. After a cancel interrupted TensorFlow mid-step,
        # its worker threads can keep a normal interpreter shutdown waiting for ever.
        connections.close_all()
        self.stdout.flush()
        self.stderr.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if status == JobStatus.SUCCEEDED else 1)
