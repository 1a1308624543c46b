"""`manage.py activate_model ID|NAME` / `--rollback` / `--list` / `--cancel-pending`: switch the live model from a script.

The same services as the admin's Activate and Roll back buttons, so the
same checks apply (a file that does not load is refused; a version lacking a
word of a turn in play waits, pending, until those turns end) and the switch
is recorded; every web and inference process follows within a second.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inference.errors import ModelVersionError
from inference.models import ModelVersion
from inference.selectors import model_version_by_ref


class Command(BaseCommand):
    help = "Make a model version live for every room (by id or name), roll back to the previous one, or list them."

    def add_arguments(self, parser):
        parser.add_argument("version", nargs="?", help="id or name of the version to activate")
        parser.add_argument(
            "--rollback", action="store_true", help="re-activate the version live before the current one"
        )
        parser.add_argument("--list", action="store_true", help="list the versions")
        parser.add_argument(
            "--cancel-pending", action="store_true", help="drop the activation waiting for turns in play to end"
        )
        parser.add_argument("--by", default="", help="who to record as activating it (default: command line)")

    def handle(self, *args, **opts):
        from inference.services import activate_model_version, cancel_pending_activation, rollback_model_version

        if opts["cancel_pending"]:
            cancelled = cancel_pending_activation()
            self.stdout.write(
                f"cancelled the pending activation of {cancelled.version}" if cancelled else "no activation was pending"
            )
            return
        if opts["list"]:
            for v in ModelVersion.objects.order_by("-created_at", "-id"):
                top1 = v.metrics.get("top1")
                score = f"top1 {top1:.3f}" if isinstance(top1, int | float) else "top1 -"
                mark = "*" if v.is_active else " "
                self.stdout.write(f"{mark} #{v.pk:<4} {v.name:<30} {len(v.labels):>4} categories  {score}")
            return
        by = opts["by"] or "command line"
        if opts["rollback"] == bool(opts["version"]):
            raise CommandError("name a version to activate, or pass --rollback (not both)")
        try:
            if opts["rollback"]:
                result = rollback_model_version(by=by)
            else:
                version = model_version_by_ref(ref=opts["version"])
                if version is None:
                    raise CommandError(f"no model version with id or name {opts['version']!r} (see --list)")
                result = activate_model_version(version=version, by=by)
        except ModelVersionError as exc:
            raise CommandError(f"refused, the live model stays: {exc}") from exc
        version = result.version
        if result.live:
            self.stdout.write(f"{version} is live ({len(version.labels)} categories)")
        else:
            self.stdout.write(
                f"{version} is pending: it goes live when the turns in play using "
                f"{', '.join(result.waiting_for[:10])} end (--cancel-pending to drop it)"
            )
