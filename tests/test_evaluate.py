"""`manage.py evaluate` and `manage.py bench_inference`, run on real Quick, Draw! drawings and a real model.

The model is the shipped one (`settings.SHIPPED_MODEL_DIR`). While that is
still being trained, point GTD_TEST_MODEL_DIR at another model folder
(model.tflite + labels.txt); without either the tests fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import shutil
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from inference.benchmark import fake_raw
from inference.classifier import Classifier
from inference.recognize import recognize
from inference.strokes import first_half

PER_CATEGORY = 10
N_CATEGORIES = 3
UNKNOWN = "not a category"


@pytest.fixture
def model_dir() -> Path:
    """The model the tests score with: GTD_TEST_MODEL_DIR if set, else the shipped model."""
    folder = Path(os.environ.get("GTD_TEST_MODEL_DIR") or settings.SHIPPED_MODEL_DIR)
    assert (folder / "model.tflite").is_file() and (folder / "labels.txt").is_file(), (
        f"no model at {folder}; set GTD_TEST_MODEL_DIR to a folder with model.tflite and labels.txt"
    )
    return folder


def model_labels(model_dir: Path) -> list[str]:
    return [line.strip() for line in (model_dir / "labels.txt").read_text().splitlines() if line.strip()]


@pytest.fixture
def categories(model_dir: Path, shared_quickdraw: Path) -> list[str]:
    """Three categories the model knows and the shared sample holds, so the scores mean something."""
    known = [c for c in model_labels(model_dir) if (shared_quickdraw / f"{c}.ndjson").is_file()]
    assert len(known) >= N_CATEGORIES, f"the model at {model_dir} knows fewer than 3 sample categories"
    return known[:N_CATEGORIES]


def first_records(path: Path, n: int) -> list[dict]:
    with path.open() as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def write_ndjson(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def simplified_dir(tmp_path: Path, categories: list[str], shared_quickdraw: Path) -> Path:
    """3 categories x 10 drawings in the simplified format, copied from the shared sample."""
    folder = tmp_path / "simplified"
    folder.mkdir()
    for category in categories:
        write_ndjson(
            folder / f"{category}.ndjson", first_records(shared_quickdraw / f"{category}.ndjson", PER_CATEGORY)
        )
    return folder


@pytest.fixture
def raw_dir(tmp_path: Path, simplified_dir: Path) -> Path:
    """The same drawings in a plausible raw format: canvas scale, dense float points, timestamps."""
    folder = tmp_path / "raw"
    folder.mkdir()
    rng = np.random.default_rng(7)
    for path in sorted(simplified_dir.glob("*.ndjson")):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        write_ndjson(folder / path.name, [{**r, "drawing": fake_raw(r["drawing"], rng)} for r in records])
    return folder


def run(command: str, *args: str) -> tuple[dict, str]:
    """Run a command; its last stdout line parsed as JSON, and the whole stdout."""
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    text = out.getvalue()
    return json.loads(text.strip().splitlines()[-1]), text


def evaluate(data: Path, model_dir: Path, *extra: str) -> dict:
    return run("evaluate", "--data", str(data), "--json", "--model", str(model_dir), *extra)[0]


def test_scores_a_simplified_folder(simplified_dir: Path, model_dir: Path, categories: list[str]) -> None:
    result = evaluate(simplified_dir, model_dir)

    assert result["n"] == N_CATEGORIES * PER_CATEGORY
    assert 0.0 <= result["top1"] <= result["map3"] <= result["top3"] <= 1.0
    assert 0.0 <= result["early"] <= 1.0
    assert result["format"] == "simplified"
    assert result["unknown_categories"] == []
    assert result["seconds"] > 0
    assert {c: v["n"] for c, v in result["per_category"].items()} == dict.fromkeys(categories, PER_CATEGORY)


def test_scores_equal_classifying_each_drawing_by_hand(
    simplified_dir: Path, model_dir: Path, categories: list[str]
) -> None:
    """The command's figures are the live path's (inference.recognize: simplify, rasterize, classify, and for an
    unsure drawing the turned views the file asks for), per drawing."""
    labels = model_labels(model_dir)
    classifier = Classifier(model_dir / "model.tflite", labels)
    if not os.environ.get("GTD_TEST_MODEL_DIR"):
        assert classifier.turns, "the shipped file asks for turned views: the by-hand path must draw them too"
    top1 = top3 = early = 0
    for category in categories:
        for record in first_records(simplified_dir / f"{category}.ndjson", PER_CATEGORY):
            guesses = [g.label for g in recognize(record["drawing"], classifier, 3)]
            top1 += guesses[0] == category
            top3 += category in guesses
            early += recognize(first_half(record["drawing"]), classifier, 1)[0].label == category
    n = N_CATEGORIES * PER_CATEGORY

    result = evaluate(simplified_dir, model_dir)

    assert result["top1"] == pytest.approx(top1 / n)
    assert result["top3"] == pytest.approx(top3 / n)
    assert result["early"] == pytest.approx(early / n)


def test_raw_copy_is_detected_and_scores_alike(simplified_dir: Path, raw_dir: Path, model_dir: Path) -> None:
    simplified = evaluate(simplified_dir, model_dir)
    raw = evaluate(raw_dir, model_dir)

    assert raw["format"] == "raw"
    assert raw["n"] == simplified["n"]
    assert raw["top1"] == pytest.approx(simplified["top1"], abs=0.1)
    assert raw["top3"] == pytest.approx(simplified["top3"], abs=0.1)


def test_unknown_categories_count_as_misses(simplified_dir: Path, model_dir: Path, categories: list[str]) -> None:
    base = evaluate(simplified_dir, model_dir)
    shutil.copy(simplified_dir / f"{categories[0]}.ndjson", simplified_dir / f"{UNKNOWN}.ndjson")

    result = evaluate(simplified_dir, model_dir)

    n = (N_CATEGORIES + 1) * PER_CATEGORY
    assert result["n"] == n
    assert result["unknown_categories"] == [UNKNOWN]
    assert result["per_category"][UNKNOWN]["top1"] == 0.0
    for key in ("top1", "top3", "map3", "early"):
        assert result[key] * n == pytest.approx(base[key] * base["n"]), key


def test_limit_is_per_category(simplified_dir: Path, model_dir: Path) -> None:
    assert evaluate(simplified_dir, model_dir, "--limit", "4")["n"] == N_CATEGORIES * 4


def test_compare_scores_every_model_on_the_same_drawings(simplified_dir: Path, model_dir: Path) -> None:
    result = evaluate(simplified_dir, model_dir, "--compare", str(model_dir))

    assert len(result["models"]) == 2
    for entry in result["models"].values():
        assert entry["n"] == result["n"]
        assert entry["top1"] == result["top1"]
        assert entry["early"] == result["early"]


def test_without_json_flag_the_last_line_is_still_json(simplified_dir: Path, model_dir: Path) -> None:
    result, text = run("evaluate", "--data", str(simplified_dir), "--model", str(model_dir))

    assert len(text.strip().splitlines()) > 1
    assert result["n"] == N_CATEGORIES * PER_CATEGORY


def missing_folder(tmp: Path) -> Path:
    return tmp / "missing"


def a_file(tmp: Path) -> Path:
    path = tmp / "cat.ndjson"
    path.write_text("")
    return path


def empty_folder(tmp: Path) -> Path:
    return tmp


def folder_without_drawings(tmp: Path) -> Path:
    (tmp / "cat.ndjson").write_text('not json\n{"word": "cat"}\n')
    return tmp


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (missing_folder, "does not exist"),
        (a_file, "is not a folder"),
        (empty_folder, "no <category>.ndjson"),
        (folder_without_drawings, "no readable drawings"),
    ],
)
def test_bad_data_is_a_command_error(tmp_path: Path, model_dir: Path, make, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        evaluate(make(tmp_path), model_dir)


def test_bench_inference_reports_positive_timings(model_dir: Path, shared_quickdraw: Path) -> None:
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None

    result, _ = run("bench_inference", "--n", "20", "--json", "--model", str(model_dir))

    assert result["n"] == 20
    for key in (
        "median_ms",
        "p99_ms",
        "per_s",
        "preprocess_median_ms",
        "rasterize_median_ms",
        "classify_median_ms",
        "tutorial_median_ms",
        "tutorial_p99_ms",
        "ratio",
        "raw_median_ms",
        "alone_median_ms",
        "alone_p99_ms",
        "alone_raw_median_ms",
    ):
        assert result[key] > 0, key
    assert result["p99_ms"] >= result["median_ms"] and result["alone_p99_ms"] >= result["alone_median_ms"]
    assert result["raw_points_median"] > result["points_median"]
    if cpus is not None:
        assert os.sched_getaffinity(0) == cpus, "bench_inference must give back the CPUs it pinned away"


@pytest.mark.django_db
def test_split_validation_scores_only_the_held_out_drawings(shared_quickdraw, tmp_path):
    import io
    import json as _json
    import shutil

    from django.core.management import call_command

    from training.sources import LocalFolderSource, is_validation

    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(shared_quickdraw / "cat.ndjson", folder / "cat.ndjson")
    held = sum(1 for s in LocalFolderSource(shared_quickdraw).iter_category("cat") if is_validation(s.key))
    out = io.StringIO()
    call_command("evaluate", "--data", str(folder), "--json", "--split", "validation", stdout=out, stderr=io.StringIO())
    result = _json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["n"] == held and 0 < held < 200 and result["split"] == "validation"


def test_metrics_of_a_two_category_model_count_its_top_two_as_top_three() -> None:
    from inference.evaluation import metrics_from_probs

    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    m = metrics_from_probs(probs, np.array([0, 0, 1]))
    assert m["top1"] == pytest.approx(1 / 3) and m["top3"] == 1.0 and m["map3"] == pytest.approx((1 + 0.5 + 0.5) / 3)
