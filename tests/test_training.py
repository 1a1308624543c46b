"""A tiny end-to-end training run: real data, real Keras, real LiteRT export, registered and served."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from inference.classifier import Classifier
from inference.models import ModelVersion
from inference.raster import rasterize
from inference.strokes import simplify
from tests.conftest import read_drawings
from training.augment import augment
from training.data import DataSpec, render, training_stream
from training.sources import LocalFolderSource, is_validation

CATS = ["cat", "airplane", "snowflake"]


def test_validation_split_is_stable_and_about_a_tenth(shared_quickdraw):
    src = LocalFolderSource(shared_quickdraw)
    keys = [s.key for c in CATS for s in src.iter_category(c)]
    held = [k for k in keys if is_validation(k)]
    assert 0.05 < len(held) / len(keys) < 0.15
    assert held == [k for k in keys if is_validation(k)]


def test_training_stream_interleaves_categories_and_augments(shared_quickdraw):
    src = LocalFolderSource(shared_quickdraw)
    spec = DataSpec(categories=CATS, per_class=20)
    items = list(training_stream(src, spec, seed=3))
    labels = [label for _, label in items]
    assert sorted(set(labels)) == [0, 1, 2] and len(items) == 60
    assert labels[:10] != sorted(labels[:10]), "categories are interleaved, not one after another"
    again = list(training_stream(src, spec, seed=4))
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(items, again, strict=False)), "a new epoch, new variants"


def test_augmentation_changes_strokes_but_keeps_the_drawing_recognisable():
    d = read_drawings("cat", 1)[0]["drawing"]
    strokes = simplify(d)
    rng = np.random.default_rng(0)
    out = augment(strokes, rng)
    assert 1 <= len(out) <= len(strokes)
    base = rasterize(strokes).astype(int)
    aug = render(d, np.random.default_rng(1)).astype(int)
    assert aug.shape == base.shape and (aug > 0).sum() > 20 and not np.array_equal(aug, base)


@pytest.mark.training
@pytest.mark.django_db
def test_train_command_exports_a_quantized_model_that_loads_classifies_and_registers(shared_quickdraw, tmp_path):
    out = io.StringIO()
    call_command(
        "train", "--source", str(shared_quickdraw), "--categories", ",".join(CATS), "--per-class", "60",
        "--epochs", "1", "--export-dir", str(tmp_path / "m"), "--name", "tiny", stdout=out,
    )
    folder = tmp_path / "m"
    for name in ("model.tflite", "labels.txt", "metrics.json", "report.json", "COMMAND.txt", "training_curves.png",
                 "confusions.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("top1", "top3", "map3", "early", "tflite_keras_agreement"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["tflite_keras_agreement"] > 0.9
    labels = (folder / "labels.txt").read_text().split()
    assert labels == CATS
    clf = Classifier(folder / "model.tflite", labels)
    top = clf.top_k(rasterize(simplify(read_drawings("snowflake", 1)[0]["drawing"])), 3)
    assert sorted(g.label for g in top) == sorted(CATS)
    version = ModelVersion.objects.get(name="tiny")
    assert version.labels == CATS and not version.is_active and version.metrics["top1"] == metrics["top1"]
    assert version.training_data["categories"] == 3 and version.training_settings["epochs"] == 1
    assert "train" in (folder / "COMMAND.txt").read_text()


@pytest.mark.django_db
def test_finished_game_drawings_are_a_training_source():
    from game.models import Drawing, Turn
    from training.sources import GameDrawingsSource

    raw = [[[10.0, 50.5, 90.0], [10.0, 40.0, 12.0], [0, 16, 32]]]
    ended, running = Turn.objects.create(ended_at="2026-11-25T10:00:00Z"), Turn.objects.create()
    Drawing.objects.create(turn=ended, word="cat", strokes=raw)
    Drawing.objects.create(turn=ended, word="cat", strokes=raw, excluded_from_training=True)
    Drawing.objects.create(turn=running, word="dog", strokes=raw)  # still being drawn
    src = GameDrawingsSource()
    assert src.categories() == ["cat"]
    samples = list(src.iter_category("cat"))
    assert len(samples) == 1 and samples[0].drawing == raw and render(samples[0].drawing) is not None
