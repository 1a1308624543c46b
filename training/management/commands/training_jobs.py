"""`manage.py training_jobs start|list|show|cancel|retry|reap`: the admin's training jobs, from a script.

`start` queues the job for a training worker, exactly like the admin's form
does, and returns at once (add `--wait` to follow it to the end); `retry`
queues a failed or cancelled job again (it goes on from its last epoch);
`reap` runs the watch that web processes run every few seconds (jobs whose
worker stopped writing are marked failed).
"""

from __future__ import annotations

import argparse
import json
import time

from django.core.management.base import BaseCommand, CommandError

from training.job_services import (
    IMAGE_KINDS,
    JOB_RECIPE,
    MIRROR_MODES,
    PARTNER_ACTIVE,
    RECIPE_MIRROR,
    SOURCE_KINDS,
    JobSettingsError,
    clean_job_settings,
    describe_settings,
)
from training.models import TrainingJob


class Command(BaseCommand):
    help = "Start, list, show, cancel or retry training jobs (a training worker runs them), or reap dead ones."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        start = sub.add_parser("start", help="queue a training job for a training worker")
        start.add_argument(
            "--source",
            action="append",
            choices=SOURCE_KINDS,
            default=[],
            help="quickdraw (download), folder, games; repeat to mix (default: folder)",
        )
        start.add_argument(
            "--folder", default="", help="for --source folder: one of TRAINING_DATA_DIRS (default: the first)"
        )
        start.add_argument("--categories", default="all", help="all, or a,b,c")
        start.add_argument("--per-class", type=int, default=None)
        start.add_argument("--epochs", type=int, default=10)
        start.add_argument("--no-augment", action="store_true")
        start.add_argument(
            "--channels",
            type=int,
            choices=sorted(IMAGE_KINDS),
            default=None,
            help=f"3 ink and stroke order, 1 ink only (default: {JOB_RECIPE['channels']}, the shipped model's)",
        )
        start.add_argument(
            "--partial-rate",
            type=float,
            default=None,
            help=f"share of unfinished-drawing examples (default: {JOB_RECIPE['partial_rate']}, the shipped model's)",
        )
        start.add_argument(
            "--mirror",
            choices=list(MIRROR_MODES),
            default=None,
            help="when the model asks its mirror image too: unsure (only for drawings it is less sure of than a "
            "threshold chosen on the validation split), always (averaged in the file) or never "
            f"(default: {RECIPE_MIRROR}, the shipped model's)",
        )
        start.add_argument(
            "--mirror-average",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="the older spelling of --mirror always (--no-mirror-average: --mirror never)",
        )
        start.add_argument(
            "--partner",
            default=None,
            metavar="VERSION",
            help=f"a model version (id or name, or {PARTNER_ACTIVE}) whose network the new model carries, asked with "
            "the mirror image for the drawings the new network is unsure of; the job trains its categories",
        )
        start.add_argument("--name", default="")
        start.add_argument("--wait", action="store_true", help="print progress until the job ends")
        sub.add_parser("list", help="the latest jobs")
        show = sub.add_parser("show", help="one job as JSON")
        show.add_argument("job_id", type=int)
        cancel = sub.add_parser("cancel", help="ask a job to stop")
        cancel.add_argument("job_id", type=int)
        retry = sub.add_parser("retry", help="queue a failed or cancelled job again (it resumes from its checkpoint)")
        retry.add_argument("job_id", type=int)
        retry.add_argument("--wait", action="store_true", help="print progress until the job ends")
        sub.add_parser("reap", help="mark running jobs whose worker stopped writing as failed")

    def handle(self, *args, **opts):
        from training import jobs

        action = opts["action"]
        if action == "start":
            mirror = opts["mirror"]
            if opts["mirror_average"] is not None:
                if mirror is not None:
                    raise CommandError("give --mirror or --mirror-average, not both")
                mirror = "always" if opts["mirror_average"] else "never"
            try:
                job_settings = clean_job_settings(
                    sources=opts["source"] or ["folder"],
                    folder=opts["folder"],
                    categories=opts["categories"],
                    per_class=opts["per_class"],
                    epochs=opts["epochs"],
                    augment=not opts["no_augment"],
                    name=opts["name"],
                    channels=opts["channels"],
                    partial_rate=opts["partial_rate"],
                    mirror=mirror,
                    partner=opts["partner"],
                )
            except JobSettingsError as exc:
                raise CommandError(str(exc)) from exc
            job = jobs.start_training_job(job_settings=job_settings)
            self.stdout.write(f"queued training job {job.pk}: {describe_settings(job_settings)}")
            self.stdout.write(f"log: {job.log_path}")
            if opts["wait"]:
                self._follow(job.pk)
        elif action == "list":
            for job in TrainingJob.objects.all()[:30]:
                self.stdout.write(
                    f"#{job.pk:<4} {job.status:<10} {job.phase:<12} {job.fraction:5.0%}  {job.created_at:%Y-%m-%d %H:%M}  "
                    f"{describe_settings(job.settings)}"
                )
        elif action == "show":
            self.stdout.write(json.dumps(self._job(opts["job_id"]).summary(), default=str))
        elif action == "cancel":
            job = jobs.request_cancel(job=self._job(opts["job_id"]))
            self.stdout.write(f"job {job.pk}: {job.status}{' (cancel requested)' if job.is_active else ''}")
        elif action == "retry":
            try:
                job = jobs.retry_training_job(job=self._job(opts["job_id"]))
            except jobs.TrainingJobError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"queued training job {job.pk} again (attempt {job.attempt + 1})")
            if opts["wait"]:
                self._follow(job.pk)
        elif action == "reap":
            self.stdout.write(f"marked failed: {jobs.fail_orphaned_jobs() or 'none'}")

    def _job(self, job_id: int) -> TrainingJob:
        job = TrainingJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"no training job {job_id}")
        return job

    def _follow(self, job_id: int) -> None:
        last = None
        while True:
            job = TrainingJob.objects.get(pk=job_id)
            line = f"{job.status} {job.phase} {job.fraction:.0%} {job.message}"
            if line != last:
                self.stdout.write(line)
                last = line
            if not job.is_active:
                if job.error:
                    raise CommandError(job.error)
                return
            time.sleep(1)
