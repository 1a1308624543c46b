"""A tiny end-to-end training run: real data, real Keras, real LiteRT export, registered and served."""

from __future__ import annotations

import io
import json
import multiprocessing
from dataclasses import replace

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from inference.classifier import Classifier
from inference.models import ModelVersion
from inference.raster import CHANNELS, rasterize
from inference.recognize import live_input, recognize
from inference.serving import (
    read_second_network,
    read_serving_settings,
    with_second_network,
    with_serving_settings,
)
from inference.strokes import simplify, turned
from tests.conftest import SHARED_QUICKDRAW, read_drawings, with_moved_biases
from training import pipeline
from training.augment import augment
from training.data import (
    RENDER_CHUNK,
    DataSpec,
    RenderWorkers,
    answered_stream,
    answers_identity,
    distilled_stream,
    keyed_training_stream,
    load_teacher_answers,
    render,
    save_teacher_answers,
    split_samples,
    teacher_answers,
    training_stream,
    validation_arrays,
)
from training.distill import TeacherError, Teachers, soft_targets
from training.early_stopping import STATE_FILE, resumable_early_stopping
from training.mirror import choose_mirror_below
from training.model import build_model, float32_copy
from training.pipeline import TrainConfig, checkpoint_epoch, run_training
from training.sources import LocalFolderSource, MixedSource, is_validation
from training.warmstart import WarmStartError, read_tflite_layers, warm_start_model

CATS = ["cat", "airplane", "snowflake"]


def test_a_bound_per_category_takes_from_every_mixed_source_alike_and_alternates_them(tmp_path):
    """`--per-class N` with two sources: N from each, spread through the category, not the first source's alone."""
    lines = (SHARED_QUICKDRAW / "cat.ndjson").read_text().splitlines(keepends=True)
    folders = []
    for name, part in (("a", lines[:100]), ("b", lines[100:])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cat.ndjson").write_text("".join(part))
        folders.append(LocalFolderSource(tmp_path / name))
    keys_of = [{s.key for s in split_samples(f, "cat", validation=False, limit=None)} for f in folders]
    mixed = MixedSource(folders)
    bounded = [s.key for s in split_samples(mixed, "cat", validation=False, limit=30)]
    origin = [0 if key in keys_of[0] else 1 for key in bounded]
    assert len(bounded) == 60 and origin == [0, 1] * 30, "30 from each, in turn"
    everything = [s.key for s in split_samples(mixed, "cat", validation=False, limit=None)]
    assert sorted(everything) == sorted(keys_of[0] | keys_of[1]), "unbounded: every training drawing of both"
    held_out = list(split_samples(mixed, "cat", validation=True, limit=None))
    assert held_out and not {s.key for s in held_out} & set(everything)
    assert len(list(mixed.iter_category("cat"))) == len(lines)


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
    base = rasterize(strokes)[..., None].astype(int)
    aug = render(d, np.random.default_rng(1)).astype(int)
    assert aug.shape == base.shape and (aug > 0).sum() > 20 and not np.array_equal(aug, base)


def test_worker_processes_render_the_same_epoch_as_one_process_and_stop_with_training(shared_quickdraw):
    src = LocalFolderSource(shared_quickdraw)
    spec = DataSpec(categories=CATS, per_class=None, partial_rate=0.5)
    inline = list(keyed_training_stream(src, spec, seed=7))
    assert len(inline) > 2 * RENDER_CHUNK, "several chunks, so that the workers share the epoch"
    before = set(multiprocessing.active_children())
    with RenderWorkers(2) as workers:
        stream = keyed_training_stream(src, spec, seed=7, workers=workers)
        first = next(stream)
        assert len(set(multiprocessing.active_children()) - before) == 2, "rendered in two other processes"
        parallel = [first, *stream]
    assert not set(multiprocessing.active_children()) - before, "none left running once training ends"
    assert [(label, key) for _, label, key in parallel] == [(label, key) for _, label, key in inline]
    assert all(np.array_equal(a, b) for (a, _, _), (b, _, _) in zip(parallel, inline, strict=True)), (
        "the same augmentations and prefixes, whatever the number of workers"
    )


def test_render_workers_keep_two_chunks_per_worker_in_flight_not_the_whole_dataset():
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield -i

    with RenderWorkers(2) as workers:
        results = workers.map(abs, items())
        assert next(results) == 0
        assert len(taken) <= 4, "memory stays flat: the stream is read as the workers go"
        assert list(results) == list(range(1, 1000))


@pytest.mark.training
@pytest.mark.django_db
def test_train_command_exports_a_quantized_model_that_loads_classifies_and_registers(shared_quickdraw, tmp_path):
    out = io.StringIO()
    call_command(
        "train",
        "--source",
        str(shared_quickdraw),
        "--categories",
        ",".join(CATS),
        "--per-class",
        "60",
        "--epochs",
        "1",
        "--export-dir",
        str(tmp_path / "m"),
        "--name",
        "tiny",
        "--checkpoint-dir",
        str(tmp_path / "checkpoint"),
        "--data-workers",
        "2",
        # The faster number format trains here; the tiny model below trains in float32, the default.
        "--precision",
        "mixed_bfloat16",
        "--dropout",
        "0.2",
        stdout=out,
    )
    assert checkpoint_epoch(tmp_path / "checkpoint") == 1, "the state after each epoch, to go on from"
    assert (tmp_path / "checkpoint" / STATE_FILE).is_file(), "early stopping's best epoch, kept for a resume"
    folder = tmp_path / "m"
    for name in (
        "model.tflite",
        "labels.txt",
        "metrics.json",
        "report.json",
        "COMMAND.txt",
        "training_curves.png",
        "confusions.png",
    ):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("top1", "top3", "map3", "early", "tflite_keras_agreement"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["tflite_keras_agreement"] > 0.9
    labels = (folder / "labels.txt").read_text().split()
    assert labels == CATS
    clf = Classifier(folder / "model.tflite", labels)
    top = recognize(read_drawings("snowflake", 1)[0]["drawing"], clf, 3)
    assert sorted(g.label for g in top) == sorted(CATS)
    version = ModelVersion.objects.get(name="tiny")
    assert version.labels == CATS and not version.is_active and version.metrics["top1"] == metrics["top1"]
    assert version.training_data["categories"] == 3 and version.training_settings["epochs"] == 1
    assert (version.training_settings["precision"], version.training_settings["dropout"]) == ("mixed_bfloat16", 0.2)
    assert _tensor_types(folder / "model.tflite") <= {"float32", "int8", "int32"}, (
        "trained in bfloat16, not exported so"
    )
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


def _tensor_types(model_file) -> set[str]:
    from ai_edge_litert.interpreter import Interpreter

    return {np.dtype(t["dtype"]).name for t in Interpreter(model_path=str(model_file)).get_tensor_details()}


def test_a_bfloat16_network_keeps_float32_weights_and_its_float32_copy_answers_alike():
    import keras

    model = build_model(3, width=8, dropout=0.2, precision="mixed_bfloat16")
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert {la.compute_dtype for la in convs} == {"bfloat16"} and {w.dtype for w in model.weights} == {"float32"}
    assert model.layers[-1].compute_dtype == "float32", "the softmax in float32"
    copy = float32_copy(model)
    assert {la.compute_dtype for la in copy.layers if isinstance(la, keras.layers.Conv2D)} == {"float32"}
    assert [la.rate for la in copy.layers if isinstance(la, keras.layers.Dropout)] == [0.2, 0.2]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), copy.get_weights(), strict=True))
    x = _validation_images(1).astype(np.float32) / 255.0
    ours, theirs = model.predict(x, verbose=0), copy.predict(x, verbose=0)
    assert 0 < np.abs(ours - theirs).max() < 0.05, "the same function, computed with fewer bits"
    plain = build_model(3, width=8)
    assert float32_copy(plain) is plain
    with pytest.raises(ValueError, match="precision"):
        build_model(3, precision="float16")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny one-channel model of CATS, trained once for the lever tests below."""
    folder = tmp_path_factory.mktemp("tiny")
    run_training(LocalFolderSource(SHARED_QUICKDRAW), TrainConfig(categories=CATS, per_class=30, epochs=1), folder)
    return folder


def _validation_images(channels: int) -> np.ndarray:
    spec = DataSpec(categories=CATS, per_class=None, channels=channels)
    return validation_arrays(LocalFolderSource(SHARED_QUICKDRAW), spec, limit=10)[0]


@pytest.mark.training
def test_a_one_channel_model_reads_the_ink_of_a_richer_image(tiny_model):
    clf = Classifier(tiny_model / "model.tflite", CATS)
    assert clf.channels == 1
    for drawing in [d["drawing"] for c in CATS for d in read_drawings(c, 2)]:
        strokes = simplify(drawing)
        assert np.array_equal(clf.probabilities(rasterize(strokes, CHANNELS)), clf.probabilities(rasterize(strokes)))


@pytest.mark.training
def test_a_warm_start_answers_as_the_exported_file_and_reads_new_channels_as_nothing(tiny_model):
    images = _validation_images(CHANNELS)
    clf = Classifier(tiny_model / "model.tflite", CATS)
    lite = np.stack([clf.probabilities(im) for im in images])
    for channels in (1, CHANNELS):
        x = images[..., :channels].astype(np.float32) / 255.0
        # Another category order than the file's: the outputs follow the run's order.
        order = [2, 0, 1]
        model = warm_start_model(tiny_model, [CATS[i] for i in order], x, channels=channels)
        keras_probs = model.predict(x, verbose=0)
        assert np.abs(keras_probs - lite[:, order]).max() < 0.02, "int8 weights, float activations: nearly the same"
    with pytest.raises(WarmStartError):
        warm_start_model(tiny_model, [*CATS, "dog"], x, channels=CHANNELS)


@pytest.mark.training
def test_teachers_answer_as_the_mean_of_each_model_on_the_image_and_its_mirror(tiny_model):
    images = _validation_images(CHANNELS)[:7]
    clf = Classifier(tiny_model / "model.tflite", CATS)
    want = np.stack([(clf.probabilities(im) + clf.probabilities(im[:, ::-1])) / 2 for im in images])
    order = [1, 2, 0]
    teachers = Teachers([tiny_model, tiny_model], [CATS[i] for i in order], mirror=True, batch=4)  # one batch padded
    assert len(teachers) == 2
    assert np.allclose(teachers.probabilities(images), want[:, order], atol=1e-5)
    targets = soft_targets(np.array([0, 1]), np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]]), 0.7)
    assert np.allclose(targets, [[0.44, 0.56, 0.0], [0.35, 0.475, 0.175]]) and np.allclose(targets.sum(axis=1), 1)
    with pytest.raises(TeacherError):
        Teachers([tiny_model], [*CATS, "dog"])


@pytest.mark.training
def test_the_distilled_stream_pairs_each_image_with_the_teachers_soft_target(tiny_model):
    images = _validation_images(1)[:5]
    labels = np.array([0, 1, 2, 0, 1])
    teachers = Teachers([tiny_model], CATS)
    pairs = list(distilled_stream(iter(zip(images, labels, strict=True)), teachers, 0.7, len(CATS), chunk=2))
    want = soft_targets(labels, teachers.probabilities(images), 0.7)
    assert len(pairs) == len(images)
    assert all(np.array_equal(image, im) for (image, _), im in zip(pairs, images, strict=True))
    assert np.allclose(np.stack([target for _, target in pairs]), want, atol=1e-6)


@pytest.mark.training
def test_teachers_asked_once_answer_for_each_whole_drawing_and_every_view_of_it_learns_that(
    tiny_model, shared_quickdraw
):
    src = LocalFolderSource(shared_quickdraw)
    spec = DataSpec(categories=CATS, per_class=6, partial_rate=1.0)
    teachers = Teachers([tiny_model], CATS)
    answers = teacher_answers(src, spec, teachers, chunk=4)  # chunks of 4: the last one is partial
    samples = [
        (label, sample)
        for label, category in enumerate(CATS)
        for sample in list(s for s in src.iter_category(category) if not is_validation(s.key))[:6]
    ]
    assert sorted(answers) == sorted((label, sample.key) for label, sample in samples)
    plain = np.stack([render(sample.drawing) for _, sample in samples])
    want = teachers.probabilities(plain)
    got = np.stack([answers[label, sample.key] for label, sample in samples])
    assert got.dtype == np.float16 and np.allclose(got, want, atol=2e-3), "the whole drawing, plainly rendered"

    keyed = list(keyed_training_stream(src, spec, seed=5))
    pairs = list(answered_stream(iter(keyed), answers, 0.7, len(CATS)))
    assert len(pairs) == len(keyed) == 18
    for (image, label, key), (same_image, target) in zip(keyed, pairs, strict=True):
        assert np.array_equal(image, same_image)
        assert np.allclose(target, soft_targets(np.array([label]), answers[label, key][None, :], 0.7)[0])
    assert any(not np.array_equal(image, plain[k]) for k, (image, _, _) in enumerate(keyed)), "views, not the plain"

    unknown = next(iter(keyed))
    [(_, target)] = answered_stream(iter([(unknown[0], 2, "never-answered")]), {}, 0.7, len(CATS))
    assert target.tolist() == [0.0, 0.0, 1.0], "a drawing the teachers could not read learns its label alone"


@pytest.mark.training
def test_a_resumed_run_reads_the_teachers_answers_kept_beside_its_checkpoint_and_only_for_the_same_teachers(
    tiny_model, shared_quickdraw, tmp_path, monkeypatch
):
    src = LocalFolderSource(shared_quickdraw)
    spec = DataSpec(categories=CATS, per_class=4)
    teachers = Teachers([tiny_model], CATS)
    said = []
    answers = pipeline._teacher_answers(src, spec, teachers, tmp_path, lambda *a, **k: said.append(k["message"]), 12)
    kept = tmp_path / pipeline.TEACHER_ANSWERS
    assert kept.exists() and len(answers) == 12 and "answering" in said[-1]

    def ask_again(*args, **kwargs):
        raise AssertionError("the teachers were asked again")

    monkeypatch.setattr(pipeline, "teacher_answers", ask_again)
    again = pipeline._teacher_answers(src, spec, teachers, tmp_path, lambda *a, **k: said.append(k["message"]), 12)
    assert "from" in said[-1] and again.keys() == answers.keys()
    assert all(again[k].dtype == np.float16 and np.array_equal(again[k], answers[k]) for k in answers)

    identity = answers_identity(spec, teachers)
    assert load_teacher_answers(kept, identity) is not None
    for other in (
        answers_identity(DataSpec(categories=CATS, per_class=5), teachers),  # other drawings
        answers_identity(DataSpec(categories=CATS, per_class=4, channels=3), teachers),  # drawn otherwise
        answers_identity(spec, Teachers([tiny_model], CATS, mirror=True)),  # other views asked
    ):
        assert load_teacher_answers(kept, other) is None
    whole = kept.read_bytes()
    for cut in (whole[: len(whole) // 2], whole[:100], b"not an archive"):
        kept.write_bytes(cut)
        assert load_teacher_answers(kept, identity) is None, "an unreadable file is asked again, not trusted"
    assert load_teacher_answers(tmp_path / "none.npz", identity) is None
    save_teacher_answers(kept, {}, identity)
    assert load_teacher_answers(kept, identity) == {}


def test_a_resumed_run_ends_with_the_best_epochs_weights_even_when_that_epoch_came_before_the_resume(tmp_path):
    """Keras' EarlyStopping counts from the resumed epoch; kept beside the checkpoint, it counts on."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    def weights(value: float) -> list[np.ndarray]:
        model.set_weights([np.full(w.shape, value, np.float32) for w in model.get_weights()])
        return model.get_weights()

    def early_stopping(resumed: bool):
        callback = resumable_early_stopping(
            tmp_path, resumed=resumed, monitor="val_accuracy", patience=3, restore_best_weights=True, mode="max"
        )
        callback.set_model(model)
        callback.on_train_begin()
        return callback

    first = early_stopping(resumed=False)
    for epoch, (value, score) in enumerate([(1.0, 0.5), (2.0, 0.7), (3.0, 0.6)]):
        weights(value)
        first.on_epoch_end(epoch, {"val_accuracy": score})
    # The worker dies here; the run goes on from the checkpoint of epoch 3, worse than epoch 2.
    resumed = early_stopping(resumed=True)
    weights(4.0)
    resumed.on_epoch_end(3, {"val_accuracy": 0.65})
    resumed.on_train_end()
    assert all(np.all(w == 2.0) for w in model.get_weights()), "the best epoch's weights, from before the resume"
    assert (resumed.best_epoch, resumed.wait) == (1, 2), "patience counts on too"
    weights(5.0)
    resumed.on_epoch_end(4, {"val_accuracy": 0.55})
    assert model.stop_training, "three epochs without a better score stop the run, two of them before the resume"

    assert early_stopping(resumed=False).best is None, "a run that starts over does not read an earlier run's state"
    kept = tmp_path / STATE_FILE
    kept.write_bytes(kept.read_bytes()[:100])
    assert early_stopping(resumed=True).best is None, "a state cut short counts afresh, not a crash"


@pytest.mark.training
def test_a_resumed_run_draws_the_next_epochs_order_and_augmentations_not_the_first_ones_again(
    shared_quickdraw, tmp_path, monkeypatch
):
    seeds = []

    class Stop(Exception):
        pass

    def dataset(*args, epoch_seed, **kwargs):
        seeds.append(epoch_seed)
        raise Stop

    monkeypatch.setattr(pipeline, "tf_dataset", dataset)
    config = TrainConfig(categories=CATS, per_class=5, epochs=4, seed=3)
    checkpoint = tmp_path / "checkpoint"
    for done in (0, 2):
        if done:
            (checkpoint / pipeline.CHECKPOINT_STATE).write_text(json.dumps({"epoch": done, "batch": 0}))
        with pytest.raises(Stop):
            run_training(LocalFolderSource(shared_quickdraw), config, tmp_path / "out", checkpoint_dir=checkpoint)
    assert seeds == [3000, 3002], "the stream's seed counts on from the epochs already done"


@pytest.mark.training
def test_a_checkpoint_made_with_other_settings_is_refused_by_name_not_resumed(shared_quickdraw, tmp_path, monkeypatch):
    class Reached(Exception):
        pass

    def dataset(*args, **kwargs):
        raise Reached  # training would start here: the checkpoint was accepted

    monkeypatch.setattr(pipeline, "tf_dataset", dataset)
    source = LocalFolderSource(shared_quickdraw)
    checkpoint = tmp_path / "checkpoint"

    def run(**settings):
        config = TrainConfig(**{"categories": CATS, "per_class": 5, "epochs": 4, **settings})
        run_training(source, config, tmp_path / "out", checkpoint_dir=checkpoint)

    with pytest.raises(Reached):
        run()  # a new run keeps its settings beside its checkpoint
    (checkpoint / pipeline.CHECKPOINT_STATE).write_text(json.dumps({"epoch": 2, "batch": 0}))
    with pytest.raises(pipeline.CheckpointMismatch) as refused:
        run(channels=3, dropout=0.1)
    message = str(refused.value)
    assert "after epoch 2" in message and "channels 1 -> 3" in message and "dropout 0.3 -> 0.1" in message
    with pytest.raises(pipeline.CheckpointMismatch, match="other categories"):
        run(categories=CATS[:2])
    with pytest.raises(Reached):
        run(data_workers=2)  # only the speed changes: resumed
    recipe_file = checkpoint / pipeline.CHECKPOINT_RECIPE
    older = {**json.loads(recipe_file.read_text()), "mirror_average": False}  # kept before it became resumable
    recipe_file.write_text(json.dumps(older))
    with pytest.raises(Reached):
        run(mirror_average=True)  # only the exported graph changes: resumed
    with pytest.raises(Reached):
        run(mirror_below=0.5)  # only the exported file's serving setting changes: resumed
    with pytest.raises(CommandError, match="made with other settings"):
        call_command(
            "train", "--source", str(shared_quickdraw), "--categories", ",".join(CATS), "--per-class", "5",
            "--epochs", "4", "--channels", "3", "--checkpoint-dir", str(checkpoint), "--no-register",
            "--export-dir", str(tmp_path / "out"),
        )  # fmt: skip
    (checkpoint / pipeline.CHECKPOINT_STATE).unlink()
    with pytest.raises(Reached):
        run(channels=3)  # a checkpoint with no finished epoch is simply started over, with the new settings
    assert json.loads((checkpoint / pipeline.CHECKPOINT_RECIPE).read_text())["channels"] == 3


@pytest.mark.training
def test_a_warm_start_exports_a_three_channel_mirror_averaged_model(tiny_model, tmp_path):
    """Warm start from a one-channel model into stroke-order channels, the mirror average in the file.

    0 epochs (export the warm start as it is): a training step costs a minute of tracing on a busy box,
    and the tiny run above trains one already; this checks what the levers change in the exported file."""
    config = TrainConfig(
        categories=CATS,
        epochs=0,
        channels=CHANNELS,
        init_from=str(tiny_model),
        teachers=[str(tiny_model)],
        mirror_average=True,
    )
    report = run_training(LocalFolderSource(SHARED_QUICKDRAW), config, tmp_path)
    metrics = report["metrics"]
    assert metrics["tflite_keras_agreement"] > 0.9 and 0.0 <= metrics["early"] <= 1.0
    assert metrics["epochs_run"] == 0 and report["training_settings"]["teachers"] == [str(tiny_model)]
    clf = Classifier(tmp_path / "model.tflite", CATS)
    assert clf.channels == CHANNELS
    convs, dense = read_tflite_layers(tmp_path / "model.tflite")
    assert (len(convs), len(dense)) == (6, 2), "the mirror average holds one network: it can seed a warm start"
    drawing = read_drawings("snowflake", 1)[0]["drawing"]
    image = rasterize(simplify(drawing), CHANNELS)
    assert np.allclose(clf.probabilities(image), clf.probabilities(image[:, ::-1]), atol=1e-5), "mirror-invariant"
    one = Classifier(tiny_model / "model.tflite", CATS)
    ink = image[..., 0]
    mean = (one.probabilities(ink) + one.probabilities(ink[:, ::-1])) / 2
    assert np.abs(clf.probabilities(image) - mean).max() < 0.05, "the warm start's mean over the image and its mirror"
    assert sorted(g.label for g in recognize(drawing, clf)) == sorted(CATS)
    with pytest.raises(ValueError):
        clf.probabilities(rasterize(simplify(drawing)))  # ink alone is not what it reads


@pytest.mark.training
def test_an_export_with_mirror_below_is_served_with_the_mirror_only_for_unsure_drawings(tiny_model, tmp_path):
    """0 epochs: the tiny model exported again with the serving setting; its metrics are the adaptive answers'."""
    config = TrainConfig(categories=CATS, epochs=0, init_from=str(tiny_model), mirror_below=1.0)
    report = run_training(LocalFolderSource(SHARED_QUICKDRAW), config, tmp_path)
    assert report["training_settings"]["mirror_below"] == 1.0
    assert report["metrics"]["mirror_below"] == 1.0 and report["metrics"]["second_view_share"] == 1.0
    assert report["metrics"]["tflite_keras_agreement"] > 0.9, "Keras' answers are combined by the same rule"
    model_bytes = (tmp_path / "model.tflite").read_bytes()
    assert read_serving_settings(model_bytes) == {"mirror_below": 1.0}
    (tmp_path / "plain.tflite").write_bytes(with_serving_settings(model_bytes, {}))
    served, plain = (Classifier(tmp_path / name, CATS) for name in ("model.tflite", "plain.tflite"))
    convs, dense = read_tflite_layers(tmp_path / "model.tflite")
    assert (len(convs), len(dense)) == (6, 2), "one network, no mirror in the graph"
    image = rasterize(simplify(read_drawings("snowflake", 1)[0]["drawing"]))
    own, mirrored = plain.probabilities(image), plain.probabilities(image[:, ::-1])
    assert not np.allclose(own, mirrored), "a drawing whose mirror answers differently"
    np.testing.assert_allclose(served.probabilities(image), (own + mirrored) / 2, atol=1e-7)  # below 1.0: unsure


def test_an_export_with_a_second_network_asks_both_networks_for_both_views_of_an_unsure_drawing(tiny_model, tmp_path):
    """0 epochs: the tiny model exported again carrying another network of the same categories."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.tflite").write_bytes(with_moved_biases((tiny_model / "model.tflite").read_bytes(), len(CATS)))
    (other / "labels.txt").write_text("\n".join(CATS) + "\n")
    out = tmp_path / "pair"
    config = TrainConfig(
        categories=CATS, epochs=0, init_from=str(tiny_model), mirror_below=1.0, second_network=str(other)
    )
    report = run_training(LocalFolderSource(SHARED_QUICKDRAW), config, out)
    model_bytes = (out / "model.tflite").read_bytes()
    assert read_second_network(model_bytes) == (other / "model.tflite").read_bytes()
    assert report["metrics"]["second_network_bytes"] == (other / "model.tflite").stat().st_size
    assert report["metrics"]["size_bytes"] == len(model_bytes) and report["metrics"]["second_view_share"] == 1.0
    assert report["metrics"]["tflite_keras_agreement"] > 0.9, "Keras' answers are combined with the second's"
    (out / "first.tflite").write_bytes(with_second_network(with_serving_settings(model_bytes, {}), None))
    pair, first, second = (
        Classifier(path, CATS) for path in (out / "model.tflite", out / "first.tflite", other / "model.tflite")
    )
    image = rasterize(simplify(read_drawings("snowflake", 1)[0]["drawing"]))
    flipped = image[:, ::-1]
    views = [clf.probabilities(view) for clf in (first, second) for view in (image, flipped)]
    assert not np.allclose(views[0], views[2], atol=1e-3), "two networks that answer differently"
    np.testing.assert_allclose(pair.probabilities(image), np.mean(views, axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="reads 1-channel images, this model 3"):  # refused before training
        run_training(LocalFolderSource(SHARED_QUICKDRAW), replace(config, channels=3), tmp_path / "three")
    # Turned views: drawn from the held-out drawings' strokes, asked of the second network.
    turning = run_training(LocalFolderSource(SHARED_QUICKDRAW), replace(config, turns=(10, -10)), tmp_path / "turn")
    assert (
        list(turning["training_settings"]["turns"]) == [10, -10] and turning["metrics"]["tflite_keras_agreement"] > 0.9
    )
    turned_pair = Classifier(tmp_path / "turn" / "model.tflite", CATS)
    assert turned_pair.turns == (10.0, -10.0) and turned_pair.has_second_network
    assert turning["metrics"]["turns"] == [10.0, -10.0], "the model page says how the file is served"
    strokes = simplify(read_drawings("snowflake", 1)[0]["drawing"])
    more = [second.probabilities(rasterize(turned(strokes, angle))) for angle in (10, -10)]
    np.testing.assert_allclose(
        turned_pair.probabilities(*live_input(strokes, 1)), np.mean(views + more, axis=0), atol=1e-6
    )
    # The metrics are the file's answers as served live: predict_tflite draws the turned views from the drawings.
    drawings = [d["drawing"] for c in CATS for d in read_drawings(c, 3)]
    images = np.stack([rasterize(simplify(d)) for d in drawings])
    file_bytes = (tmp_path / "turn" / "model.tflite").read_bytes()
    live = np.stack([turned_pair.probabilities(*live_input(simplify(d), 1)) for d in drawings])
    np.testing.assert_allclose(pipeline.predict_tflite(file_bytes, images, drawings=drawings), live, atol=1e-6)
    assert not np.allclose(pipeline.predict_tflite(file_bytes, images), live, atol=1e-4), "without them: other answers"
    (other / "labels.txt").write_text("\n".join(reversed(CATS)) + "\n")
    with pytest.raises(ValueError, match="other categories"):
        run_training(LocalFolderSource(SHARED_QUICKDRAW), config, tmp_path / "refused")


def test_auto_chooses_the_lowest_threshold_that_keeps_the_mirror_averages_answers():
    own = np.array([[0.9, 0.05, 0.05], [0.35, 0.4, 0.25], [0.3, 0.28, 0.42], [0.5, 0.3, 0.2]])
    mirrored = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    labels = np.array([0, 0, 2, 1])
    # Drawing 1 needs its mirror (wrong alone at 0.40 sure, right averaged), so the threshold must lie above
    # 0.40; drawing 3 (0.50 sure) is wrong alone and right averaged too, but always averaging gets it right only
    # from 0.55 up: the lowest threshold that matches always averaging is 0.55.
    asked = (own + mirrored) / 2
    assert choose_mirror_below(own, asked, labels, max_share=1.0) == 0.55
    assert choose_mirror_below(own[:3], asked[:3], labels[:3], max_share=1.0) == 0.45
    assert choose_mirror_below(own[:1], asked[:1], labels[:1]) == 0.05, "sure and right: hardly ever the mirror"
    assert choose_mirror_below(own[:0], asked[:0], labels[:0]) == 1.0, "nothing to choose on: always"
    # 0.55 asks three drawings in four again; at most half of them: the highest threshold that asks two (0.50),
    # though it misses drawing 3, so that the median guess stays one view.
    assert choose_mirror_below(own, asked, labels) == 0.5
    assert choose_mirror_below(own[:3], asked[:3], labels[:3], max_share=2 / 3) == 0.45, "within the bound: as before"


def test_the_mirror_options_exclude_each_other_and_need_a_probability(shared_quickdraw):
    for flags, message in (
        (["--mirror-average", "--mirror-below", "0.5"], "exclude each other"),
        (["--mirror-average", "--mirror-below", "auto"], "exclude each other"),
        (["--mirror-below", "0"], "a probability above 0"),
        (["--mirror-below", "1.5"], "a probability above 0"),
        (["--mirror-below", "often"], "a probability or auto"),
        (["--second-network", "elsewhere"], "below mirror_below: set it too"),
        (["--turns", "10"], "turned views are asked only"),
        (["--mirror-below", "0.5", "--turns", "a lot"], "an angle in degrees"),
        (["--mirror-below", "0.5", "--turns", "60"], "turns must be 1 to 4 angles of at most 45 degrees"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("train", "--source", str(shared_quickdraw), "--categories", "cat", "--epochs", "0", *flags)


def test_the_teachers_options_need_a_teacher(shared_quickdraw):
    for flag in ("--teacher-once", "--teacher-mirror"):
        with pytest.raises(CommandError, match="need at least one --teacher"):
            call_command("train", "--source", str(shared_quickdraw), "--categories", "cat", "--epochs", "0", flag)
