"""`manage.py bench_inference`: how long one live guess takes, on one core, against the tutorial path.

What it measures and why: see inference.benchmark. The last stdout line is one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.benchmark import run_benchmark
from inference.evaluation import EvaluationError, live_classifier, load_model_dir


class Command(BaseCommand):
    help = (
        "Time the live inference path (preprocess, rasterize, classify) per drawing on one core, next to a typical "
        "tutorial path and to raw-format input. The last stdout line is a JSON object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print only the JSON line on stdout")
        parser.add_argument("--model", type=Path, default=None, help="folder with model.tflite + labels.txt")
        parser.add_argument("--data", type=Path, default=None, help="folder of <category>.ndjson (simplified)")
        parser.add_argument("--n", type=int, default=2000, help="drawings to time (spread over all categories)")

    def handle(self, *args, **opts) -> None:
        if opts["n"] < 1:
            raise CommandError("--n must be at least 1")
        try:
            classifier = load_model_dir(opts["model"]) if opts["model"] else live_classifier()
            result = run_benchmark(
                classifier, opts["data"] or settings.QUICKDRAW_SAMPLE_DIR, opts["n"], report=self.stderr.write
            )
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        if not opts["json"]:
            self._print_table(result)
        self.stdout.write(json.dumps(result))

    def _print_table(self, r: dict) -> None:
        """Human-readable summary before the JSON line."""
        where = f"one core (CPU {r['cpu']})" if r["pinned"] else "unpinned"
        self.stdout.write(f"{r['n']} drawings, {where}, load average {r['load_avg_1min']}")
        self.stdout.write(
            f"live path       median {r['median_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  {r['per_s']:.0f}/s  "
            f"(preprocess {r['preprocess_median_ms']:.3f}, rasterize {r['rasterize_median_ms']:.3f}, "
            f"classify {r['classify_median_ms']:.3f})"
        )
        self.stdout.write(f"live path, raw   median {r['raw_median_ms']:.3f} ms  p99 {r['raw_p99_ms']:.3f} ms")
        self.stdout.write(
            f"live path alone median {r['alone_median_ms']:.3f} ms  p99 {r['alone_p99_ms']:.3f} ms  "
            f"raw median {r['alone_raw_median_ms']:.3f} ms  (guess after guess, nothing in between)"
        )
        self.stdout.write(
            f"tutorial path   median {r['tutorial_median_ms']:.3f} ms  p99 {r['tutorial_p99_ms']:.3f} ms  "
            f"{r['tutorial_per_s']:.0f}/s  ratio {r['ratio']:.1f}x  top-1 agreement {r['top1_agreement']:.2f}"
        )
