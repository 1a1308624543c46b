"""`manage.py evaluate`: score models on Quick, Draw! files through the live path (see inference.evaluation).

The last line of stdout is one JSON object so scripts can read the result
without parsing the human-readable lines before it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.evaluation import (
    SPLITS,
    EvaluationError,
    Tally,
    data_files,
    evaluation_result,
    live_classifier,
    load_model_dir,
    score_files,
)


class Command(BaseCommand):
    help = (
        "Score a model (default: the live one) on a folder of <category>.ndjson Quick, Draw! files, raw or "
        "simplified, through the live preprocessing path. The last stdout line is a JSON object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="folder of <category>.ndjson files")
        parser.add_argument("--json", action="store_true", help="print only the JSON line on stdout")
        parser.add_argument("--model", type=Path, default=None, help="folder with model.tflite + labels.txt")
        parser.add_argument("--limit", type=int, default=None, help="at most N drawings per category")
        parser.add_argument(
            "--split",
            choices=SPLITS,
            default="all",
            help="validation: only drawings training held out (crc32(key_id) %% 10 == 0)",
        )
        parser.add_argument(
            "--compare",
            type=Path,
            action="append",
            default=[],
            metavar="DIR",
            help="another model folder to score on the same drawings (repeatable)",
        )

    def handle(self, *args, **opts) -> None:
        if opts["limit"] is not None and opts["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        try:
            result, tallies = self._evaluate(opts)
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        if not opts["json"]:
            self._print_table(result, tallies)
        self.stdout.write(json.dumps(result))

    def _evaluate(self, opts) -> tuple[dict, list[Tally]]:
        from inference.live import live_model

        files = data_files(opts["data"])
        primary = load_model_dir(opts["model"]) if opts["model"] else live_classifier()
        tallies = [Tally(str(opts["model"]) if opts["model"] else f"live:{primary.path}", primary)]
        tallies += [Tally(str(folder), load_model_dir(folder)) for folder in opts["compare"]]
        started = time.perf_counter()
        formats, skipped = score_files(files, opts["limit"], tallies, opts["split"], report=self.stderr.write)
        if tallies[0].n == 0:
            raise EvaluationError(f"--data {opts['data']} holds no readable drawings")
        result = evaluation_result(
            tallies,
            formats,
            skipped,
            time.perf_counter() - started,
            data=opts["data"],
            limit=opts["limit"],
            split=opts["split"],
            compared=bool(opts["compare"]),
        )
        if opts["model"] is None:
            result["model_version"] = live_model.version_id
        return result, tallies

    def _print_table(self, result: dict, tallies: list[Tally]) -> None:
        """Human-readable summary before the JSON line."""
        self.stdout.write(
            f"{result['n']} drawings in {result['categories']} categories ({result['format']}), "
            f"{result['seconds']:.1f} s"
        )
        rows = [(t.name, t.result()) for t in tallies]
        width = max(len(name) for name, _ in rows)
        self.stdout.write(f"{'model':<{width}}  {'top1':>6} {'top3':>6} {'map3':>6} {'early':>6}  unknown")
        for name, r in rows:
            self.stdout.write(
                f"{name:<{width}}  {r['top1']:6.3f} {r['top3']:6.3f} {r['map3']:6.3f} {r['early']:6.3f}  "
                f"{len(r['unknown_categories'])}"
            )
