"""`manage.py protocol_docs`: write docs/protocol.md from game/protocol.py (`--check`: fail if it is stale)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from game import protocol_docs


class Command(BaseCommand):
    help = "Generate docs/protocol.md from the protocol's models."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only check that the file is up to date")

    def handle(self, *args, **options):
        if options["check"]:
            if protocol_docs.DOC_PATH.read_text() != protocol_docs.render():
                raise CommandError(f"{protocol_docs.DOC_PATH} is stale: run `manage.py protocol_docs`")
            self.stdout.write("docs/protocol.md is up to date")
            return
        changed = protocol_docs.write()
        self.stdout.write(f"{protocol_docs.DOC_PATH} {'written' if changed else 'already up to date'}")
