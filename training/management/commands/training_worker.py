"""`manage.py training_worker`: run training jobs (django-tasks-db's `db_worker` on the "training" queue).

Checks first that this Python can train, and announces itself (host, pid,
what is missing) so the admin's train page can say before a job starts that
no worker can run it, with the command that installs what is missing.
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string


class Command(BaseCommand):
    help = "Run training jobs from the queue (db_worker on the training queue), after checking the training packages."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds between two looks at the queue when it is empty (default 1)",
        )
        parser.add_argument("--max-tasks", type=int, default=None, help="exit after running this many jobs")
        parser.add_argument("--worker-id", default="", help="a name unique among the workers (default: random)")

    def handle(self, *args, **opts):
        from training.dependencies import missing_message, missing_training_packages
        from training.jobs import TRAINING_QUEUE, register_worker

        worker_id = opts["worker_id"] or f"trainer-{get_random_string(12)}"
        missing = missing_training_packages()
        worker = register_worker(worker_id=worker_id, missing_packages=missing)
        if missing:
            raise CommandError(f"this training worker cannot train: {missing_message(missing)}")
        self.stdout.write(
            f"training worker {worker.worker_id} ({worker.hostname}, pid {worker.pid}) "
            f"takes jobs from the {TRAINING_QUEUE!r} queue"
        )
        call_command(
            "db_worker",
            queue_name=TRAINING_QUEUE,
            interval=opts["interval"],
            max_tasks=opts["max_tasks"],
            worker_id=worker_id,
            reload=False,
            startup_delay=False,
            stdout=self.stdout,
            stderr=self.stderr,
        )
