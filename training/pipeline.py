"""One training run, end to end: data, Keras training, evaluation, LiteRT export, report.

`run_training` is what `manage.py train` (and the admin's jobs) call. It does
not touch the database; `training.services.train_and_register` adds that.
Given a checkpoint folder it saves the training state after every epoch
(Keras' BackupAndRestore) and, run again on the same folder after an
interruption, goes on from the last finished epoch instead of starting over.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import os
import shlex
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from inference.evaluation import metrics_from_probs
from inference.model_store import LABELS_FILE, MODEL_FILE, read_labels, write_labels
from inference.recognize import live_input
from inference.serving import (
    ServingSettingsError,
    check_settings,
    unsure,
    views_mean,
    with_second_network,
    with_serving_settings,
)
from inference.strokes import first_half, simplify
from training.data import (
    DataSpec,
    RenderWorkers,
    answers_identity,
    count_training,
    default_data_workers,
    load_teacher_answers,
    render,
    save_teacher_answers,
    teacher_answers,
    tf_dataset,
    training_stream,
    validation_arrays,
)
from training.distill import Teachers
from training.early_stopping import resumable_early_stopping
from training.mirror import MIRROR_AUTO, choose_mirror_below
from training.model import float32_copy, with_mirror_average
from training.quickdraw_js import check_channels
from training.report import confused_pairs, per_category_accuracy, write_json, write_plots
from training.sources import DrawingSource

log = logging.getLogger(__name__)

Progress = Callable[..., None]


@dataclass
class TrainConfig:
    categories: list[str] | None = None  # None: every category the source has
    per_class: int | None = None
    epochs: int = 20
    batch_size: int = 128
    width: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    dropout: float = 0.3
    augment: bool = True
    partial_rate: float = 0.3
    patience: int = 6
    seed: int = 1
    validation_per_class: int | None = None
    extra: dict = field(default_factory=dict)
    # Quality levers (issue 16): stroke-order channels, a warm start from an exported model, distillation from
    # teacher models, the mirror average inside the exported file.
    channels: int = 1
    init_from: str | None = None
    teachers: list[str] = field(default_factory=list)
    distill_weight: float = 0.7
    teacher_mirror: bool = False  # teachers also answer for the mirrored image (twice their cost)
    # Teachers answer once per drawing, for the whole plain drawing, before training (an epoch then costs
    # what one without teachers does), instead of for every augmented view and prefix.
    teacher_once: bool = False
    mirror_average: bool = False
    # Instead of the mirror average in the file: the file holds the network alone and asks to be served with the
    # mirror image's answer averaged in only when the drawing's top probability is below this (inference.serving);
    # MIRROR_AUTO: the threshold chosen on the validation split (choose_mirror_below).
    mirror_below: float | str | None = None
    # An exported model (its folder, or its .tflite file) of the same categories whose network the exported file
    # also carries: for the drawings below mirror_below it is asked too, with both views (and the turned ones),
    # and all the answers averaged (inference.serving). Two recipes err on different drawings; each guess the
    # first network is sure of still costs one invoke.
    second_network: str | None = None
    # Angles (degrees) of the turned views the file asks for the drawings below mirror_below, redrawn from their
    # strokes and answered by the second network, or by the first without one (inference.serving):
    # `train --turns 10` is (10, -10).
    turns: tuple[float, ...] | None = None
    # Processes rendering training drawings beside the training loop (None: default_data_workers()). The
    # images are the same whatever the number; only the speed changes.
    data_workers: int | None = None
    # The number format training computes in (training.model.PRECISIONS); the exported file is float32 either way.
    precision: str = "float32"


# Keras' BackupAndRestore writes this beside the weights after every epoch.
CHECKPOINT_STATE = "training_metadata.json"
# The settings a checkpoint was made with, so that a run with other settings is refused rather than resumed.
CHECKPOINT_RECIPE = "recipe.json"
# Settings a resumed run may change: the number of render processes changes only the speed, never the images;
# the mirror average, mirror_below, a second network and turns change only the exported file, not the network trained
# (a finished run can be resumed to export its best epoch again, with or without them).
RESUMABLE_CHANGES = frozenset({"data_workers", "mirror_average", "mirror_below", "second_network", "turns"})
# The teachers' answers (--teacher-once), kept beside the checkpoint for a resumed run.
TEACHER_ANSWERS = "teacher_answers.npz"
HISTORY_FILE = "history.csv"


def _noop(*_args, **_kwargs) -> None:
    pass


def checkpoint_epoch(checkpoint_dir: Path | None) -> int:
    """How many epochs the checkpoint in `checkpoint_dir` holds (0: none, training starts over)."""
    state = checkpoint_dir / CHECKPOINT_STATE if checkpoint_dir is not None else None
    if state is None or not state.is_file():
        return 0
    try:
        return int(json.loads(state.read_text())["epoch"])
    except (ValueError, KeyError, TypeError):
        return 0


class CheckpointMismatch(ValueError):
    """A checkpoint folder holds a run made with other settings; resuming it would train something else."""


def checkpoint_recipe(config: TrainConfig, categories: list[str]) -> dict:
    """What a checkpoint must have been made with to be resumed: every setting but RESUMABLE_CHANGES, as JSON."""
    recipe = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}
    recipe["categories"] = list(categories)
    return json.loads(json.dumps(recipe))


def check_checkpoint_recipe(checkpoint_dir: Path, recipe: dict, resumed: int) -> None:
    """Keep `recipe` beside a new checkpoint; refuse to resume one made with other settings.

    A checkpoint from before recipes were kept is resumed as before (nothing to compare)."""
    path = checkpoint_dir / CHECKPOINT_RECIPE
    if resumed and path.is_file():
        kept = json.loads(path.read_text())
        # A checkpoint kept before a setting became resumable holds that setting too: not compared either.
        compared = (set(kept) | set(recipe)) - RESUMABLE_CHANGES
        changed = sorted(k for k in compared if kept.get(k) != recipe.get(k))
        if changed:
            differences = ", ".join(
                "other categories" if k == "categories" else f"{k} {_short(kept.get(k))} -> {_short(recipe.get(k))}"
                for k in changed
            )
            raise CheckpointMismatch(
                f"the checkpoint in {checkpoint_dir} (after epoch {resumed}) was made with other settings "
                f"({differences}); run with those settings to go on, or choose another checkpoint folder"
            )
        return
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recipe, indent=1) + "\n")


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_history(path: Path) -> dict[str, list[float]]:
    """Per-epoch metrics from Keras' CSVLogger file, across interrupted runs (a repeated epoch counts once)."""
    if not path.is_file():
        return {}
    rows: dict[int, dict] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                rows[int(row.pop("epoch"))] = {k: float(v) for k, v in row.items() if v not in ("", None)}
            except (KeyError, ValueError):
                continue
    history: dict[str, list[float]] = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            history.setdefault(key, []).append(value)
    return history


def _progress_callback(progress: Progress, epochs: int, steps: int):
    """A Keras callback forwarding epoch and batch progress to a plain function."""
    import keras

    class ProgressCallback(keras.callbacks.Callback):
        epoch = 0
        started = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.started = epoch + 1, time.time()
            progress("training", epoch=self.epoch, epochs=epochs, step=0, steps=steps)

        def on_train_batch_end(self, batch, logs=None):
            # Every batch, so that a job's cancel (raised from progress) stops training between two steps;
            # losses only every 50, since reading them waits for the step to finish.
            metrics = _floats(logs) if (batch + 1) % 50 == 0 else {}
            progress("training", epoch=self.epoch, epochs=epochs, step=batch + 1, steps=steps, **metrics)

        def on_epoch_end(self, epoch, logs=None):
            progress("epoch_end", epoch=epoch + 1, epochs=epochs, seconds=time.time() - self.started, **_floats(logs))

    return ProgressCallback()


def _predict_progress(progress: Progress):
    """A Keras callback that reports progress while the Keras model scores the held-out drawings."""
    import keras

    class PredictProgress(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            if batch % 20 == 19:
                progress("evaluating", message=f"Keras model: batch {batch + 1}")

    return PredictProgress()


def _floats(logs) -> dict:
    return {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float | np.floating)}


# Long evaluation loops report progress (a training job's sign of life) every this many drawings.
PROGRESS_EVERY = 2000


def predict_tflite(
    model_bytes: bytes, images: np.ndarray, progress: Progress = _noop, drawings: list | None = None
) -> np.ndarray:
    """Probabilities from the exported model: the exact file that will ship. With the drawings the images were
    rendered from, served as a live guess is, turned views included where the file asks for them."""
    from inference.classifier import Classifier

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"gtd-check-{os.getpid()}.tflite"
    tmp.write_bytes(model_bytes)
    try:
        n_out = _tflite_outputs(tmp)
        clf = Classifier(tmp, [str(i) for i in range(n_out)])
        out = np.zeros((len(images), n_out), dtype=np.float32)
        for i, image in enumerate(images):
            if i % PROGRESS_EVERY == 0 and i:
                progress("evaluating", message=f"classified {i} of {len(images)} held-out drawings")
            out[i] = clf.probabilities(image, None if drawings is None else _turned_drawing(drawings[i], clf.channels))
        return out
    finally:
        tmp.unlink(missing_ok=True)


def _turned_images(drawings: list, degrees: float, channels: int) -> np.ndarray:
    """Held-out drawings turned by `degrees`, as the live path draws them (inference.recognize.live_input)."""
    images = [_turned_drawing(d, channels)(degrees) for d in drawings]
    return np.stack([im[..., None] if im.ndim == 2 else im for im in images])


def _turned_drawing(drawing, channels: int):
    """How to draw a held-out drawing turned (inference.recognize.live_input), read only when asked."""
    return lambda degrees: live_input(simplify(drawing), channels)[1](degrees)


def _tflite_outputs(path: Path) -> int:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    return int(it.get_output_details()[0]["shape"][-1])


def early_accuracy(
    probs_fn, drawings: list, labels: np.ndarray, channels: int = 1, progress: Progress = _noop
) -> float:
    """Share of drawings already guessed right (top-1) from the first half of their strokes (`probs_fn` answers
    for the half drawings' images, given the half drawings too)."""
    if not drawings:
        return 0.0
    right = 0
    for start in range(0, len(drawings), PROGRESS_EVERY):
        if start:
            progress("evaluating", message=f"scored {start} of {len(drawings)} half drawings")
        halves = [first_half(d) for d in drawings[start : start + PROGRESS_EVERY]]
        images = np.stack([render(half, channels=channels) for half in halves])
        right += int((probs_fn(images, halves).argmax(axis=1) == labels[start : start + PROGRESS_EVERY]).sum())
    return right / len(drawings)


def export_tflite(model) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
    return converter.convert()


def _teacher_answers(
    source: DrawingSource, spec: DataSpec, teachers: Teachers, checkpoint_dir: Path | None, progress: Progress, n: int
) -> dict:
    """The teachers' answers for every training drawing: asked, or read back from the checkpoint of this run."""
    identity = answers_identity(spec, teachers)
    kept = checkpoint_dir / TEACHER_ANSWERS if checkpoint_dir is not None else None
    answers = load_teacher_answers(kept, identity) if kept is not None else None
    if answers is not None:
        progress("preparing", message=f"the teachers' answers for {len(answers)} drawings, from {kept}")
        return answers
    progress("preparing", message=f"{len(teachers)} teachers answering for {n} drawings")
    answers = teacher_answers(source, spec, teachers)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        save_teacher_answers(kept, answers, identity)
    return answers


def check_mirror(config: TrainConfig) -> None:
    """A ValueError for mirror settings that contradict each other or cannot be served."""
    if config.mirror_average and config.mirror_below is not None:
        raise ValueError("the mirror average in the file and mirror_below exclude each other: choose one")
    if config.mirror_below != MIRROR_AUTO:
        check_settings({"mirror_below": config.mirror_below})
    if config.second_network is not None and config.mirror_below is None:
        raise ValueError("a second network is asked only for the drawings below mirror_below: set it too")
    if config.turns:
        if config.mirror_below is None:
            raise ValueError("turned views are asked only for the drawings below mirror_below: set it too")
        check_settings({"mirror_below": 1.0, "turns": list(config.turns)})


def second_network_file(spec: str, categories: list[str], channels: int) -> bytes:
    """The network of an exported model (a folder holding model.tflite and labels.txt, or a .tflite file
    beside its labels.txt), without serving settings or a second network of its own; a ValueError if it cannot
    be read, answers for other categories (or in another order), or reads other images than `channels`."""
    from inference.classifier import Classifier, ModelFileError

    path = Path(spec)
    model, labels = (path / MODEL_FILE, path / LABELS_FILE) if path.is_dir() else (path, path.parent / LABELS_FILE)
    try:
        model_bytes, its_labels = model.read_bytes(), read_labels(labels)
    except OSError as exc:
        raise ValueError(f"cannot read the second network {spec}: {exc}") from exc
    if its_labels != categories:
        raise ValueError(f"the second network {spec} answers for other categories (or in another order)")
    try:
        its_channels = Classifier(model, its_labels).channels
        network = with_second_network(with_serving_settings(model_bytes, {}), None)
    except (ModelFileError, ServingSettingsError, struct.error, IndexError) as exc:
        raise ValueError(f"the second network {spec} is not a model file: {exc}") from exc
    if its_channels != channels:
        raise ValueError(f"the second network {spec} reads {its_channels}-channel images, this model {channels}")
    return network


def run_training(
    source: DrawingSource,
    config: TrainConfig,
    out_dir: Path,
    progress: Progress = _noop,
    command: str | None = None,
    checkpoint_dir: Path | None = None,
) -> dict:
    """Train, evaluate and export into `out_dir` (model.tflite, labels.txt, metrics.json, plots, logs).

    With `checkpoint_dir`, the state after each epoch is kept there, and a run on a folder that already
    holds one resumes after its epoch (progress("resuming", epoch=k) says so first)."""
    import keras
    import tensorflow as tf

    check_mirror(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    gpus = tf.config.list_physical_devices("GPU")
    log.info("training on %s", "GPU: " + ", ".join(g.name for g in gpus) if gpus else "CPU")

    check_channels(source, config.channels)
    categories = config.categories or source.categories()
    # Read before training, so that a second network that cannot be carried is refused now, not hours later.
    second = second_network_file(config.second_network, categories, config.channels) if config.second_network else None
    spec = DataSpec(
        categories=categories,
        per_class=config.per_class,
        augment=config.augment,
        partial_rate=config.partial_rate,
        channels=config.channels,
    )
    progress("preparing", message=f"counting drawings in {len(categories)} categories")
    n_train = count_training(source, spec)
    if n_train == 0:
        raise ValueError("no training drawings found for these categories")
    x_val, y_val, val_drawings = validation_arrays(source, spec, limit=config.validation_per_class)
    progress("preparing", message=f"{n_train} training drawings, {len(y_val)} validation drawings")

    steps = math.ceil(n_train / config.batch_size)
    resumed = checkpoint_epoch(checkpoint_dir)  # epochs a checkpoint already holds (0: none)
    if checkpoint_dir is not None:
        check_checkpoint_recipe(checkpoint_dir, checkpoint_recipe(config, categories), resumed)
    teachers = Teachers(config.teachers, categories, mirror=config.teacher_mirror) if config.teachers else None
    answers = None
    if teachers is not None and config.teacher_once:
        answers = _teacher_answers(source, spec, teachers, checkpoint_dir, progress, n_train)
        teachers = None
    workers = config.data_workers if config.data_workers is not None else default_data_workers()
    render_workers = RenderWorkers(workers) if workers else None  # its processes start with the first epoch
    train_ds = tf_dataset(
        source,
        spec,
        batch_size=config.batch_size,
        # A resumed run goes on with the next epoch's order and augmentations, not the first epoch's again.
        epoch_seed=config.seed * 1000 + resumed,
        teachers=teachers,
        distill_weight=config.distill_weight,
        answers=answers,
        workers=render_workers,
    )
    val_ds = tf.data.Dataset.from_tensor_slices(
        (x_val.astype(np.float32) / 255.0, keras.utils.to_categorical(y_val, len(categories)))
    ).batch(512)

    model = _build_and_compile(categories, config, steps, warm_start_images(source, spec, config))
    history_file = out_dir / HISTORY_FILE
    # An epoch is recorded (history file, progress) before its checkpoint: killed in between, the epoch runs
    # again on resume and its second record replaces the first, so no finished epoch goes unrecorded.
    callbacks = [
        keras.callbacks.CSVLogger(str(history_file), append=checkpoint_dir is not None),
        _progress_callback(progress, config.epochs, steps),
    ]
    if len(y_val):
        # Before the checkpoint's own callback: its state for an epoch is kept before the epoch counts as done.
        callbacks.append(
            resumable_early_stopping(
                checkpoint_dir,
                resumed=bool(resumed),
                monitor="val_accuracy",
                patience=config.patience,
                restore_best_weights=True,
                mode="max",
            )
        )
    if checkpoint_dir is not None:
        if resumed:
            progress(
                "resuming",
                epoch=resumed,
                epochs=config.epochs,
                message=f"resuming after epoch {resumed} from the checkpoint in {checkpoint_dir}",
            )
        # Two states kept: a worker killed while writing one resumes from the one before.
        callbacks.append(
            keras.callbacks.BackupAndRestore(str(checkpoint_dir), double_checkpoint=True, delete_checkpoint=False)
        )
    callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out_dir / "logs"), update_freq="epoch"))
    t0, cpu0 = time.time(), time.process_time()
    try:
        if config.epochs:  # 0 epochs: export (and evaluate) the --init-from model as it is
            model.fit(
                train_ds,
                validation_data=val_ds if len(y_val) else None,
                epochs=config.epochs,
                steps_per_epoch=steps,
                callbacks=callbacks,
                shuffle=False,  # the stream is shuffled already
                verbose=0,
            )
    finally:
        if render_workers is not None:
            render_workers.close()
    train_seconds, train_cpu_seconds = time.time() - t0, time.process_time() - cpu0
    history = read_history(history_file)

    progress("exporting")
    model = float32_copy(model)
    if config.mirror_average:
        model = with_mirror_average(model)
    model_bytes = export_tflite(model)
    mirror_below, second_views, second_own = config.mirror_below, None, None
    turns = {"turns": [float(a) for a in config.turns]} if config.turns else {}

    def served(below: float, network: bytes) -> bytes:  # the file as it ships, asking again below `below`
        carried = with_serving_settings(network, {"mirror_below": below, **turns})
        return carried if second is None else with_second_network(carried, second)

    if mirror_below is not None:
        progress("evaluating", message="the network's answers for each held-out drawing and its mirror image")
        own = predict_tflite(model_bytes, x_val, progress)
        if second is not None:  # the second network's own answers (its file asks nothing more)
            second_own = predict_tflite(second, x_val, progress)
        if mirror_below == MIRROR_AUTO:  # every drawing's answer if it were asked again: the file below 1.0
            asked = predict_tflite(served(1.0, model_bytes), x_val, progress, val_drawings)
            mirror_below = choose_mirror_below(own, asked, y_val)
        second_views = float(unsure(own, mirror_below).mean()) if len(y_val) else 0.0
        model_bytes = served(mirror_below, model_bytes)
    (out_dir / MODEL_FILE).write_bytes(model_bytes)
    write_labels(out_dir / LABELS_FILE, categories)

    progress("evaluating", message=f"scoring {len(y_val)} held-out drawings with the exported model")
    keras_probs = (
        model.predict(x_val.astype(np.float32) / 255.0, verbose=0, callbacks=[_predict_progress(progress)])
        if len(y_val)
        else np.zeros((0, len(categories)))
    )
    again = np.flatnonzero(unsure(keras_probs, mirror_below))  # served as the file asks: a second opinion
    if len(again):  # Keras in the first network's place; the second network's part from its file
        views = [x_val[again][:, :, ::-1]]
        views += [_turned_images([val_drawings[i] for i in again], a, config.channels) for a in config.turns or ()]
        keras_views = views if second is None else views[:1]  # the turned views are the second's where it is
        answers = [keras_probs[again]] + [model.predict(v.astype(np.float32) / 255.0, verbose=0) for v in keras_views]
        if second is not None:
            answers += [predict_tflite(second, v) for v in (x_val[again], *views)]
        keras_probs[again] = views_mean(answers)
    lite_probs = predict_tflite(model_bytes, x_val, progress, val_drawings)
    agreement = float((keras_probs.argmax(1) == lite_probs.argmax(1)).mean()) if len(y_val) else 1.0
    metrics = metrics_from_probs(lite_probs, y_val)
    metrics["keras_top1"] = metrics_from_probs(keras_probs, y_val)["top1"]
    metrics["tflite_keras_agreement"] = agreement
    if mirror_below is not None:  # the file's threshold, and how many held-out drawings took a second view
        metrics["mirror_below"], metrics["second_view_share"] = mirror_below, second_views
        if config.turns:  # and the turned views it asks for them
            metrics["turns"] = [float(a) for a in config.turns]
    if second is not None:
        metrics["second_network_bytes"] = len(second)
        metrics["second_network_top1"] = metrics_from_probs(second_own, y_val)["top1"] if len(y_val) else 0.0
    progress("evaluating", message="scoring guesses from the first half of each drawing")
    metrics["early"] = early_accuracy(
        lambda ims, halves: predict_tflite(model_bytes, ims, drawings=halves),
        val_drawings,
        y_val,
        config.channels,
        progress,
    )
    metrics["size_bytes"] = len(model_bytes)
    metrics["train_seconds"] = round(train_seconds, 1)
    metrics["train_cpu_seconds"] = round(train_cpu_seconds, 1)
    metrics["epochs_run"] = len(history.get("loss", []))
    pred = lite_probs.argmax(1) if len(y_val) else np.zeros(0, dtype=np.int64)
    per_cat = per_category_accuracy(pred, y_val, categories)
    pairs = confused_pairs(pred, y_val, categories)
    progress("evaluating", message="drawing the plots")
    plots = write_plots(out_dir, history, per_cat, pairs)

    settings_used = asdict(config)
    settings_used["categories"] = None if config.categories is None else categories
    data = {
        "source": source.name,
        "categories": len(categories),
        "per_class": config.per_class,
        "train_drawings": n_train,
        "validation_drawings": int(len(y_val)),
        "validation": "held out by crc32(key_id) % 10 == 0",
    }
    report = {
        "metrics": metrics,
        "training_settings": settings_used,
        "training_data": data,
        "per_category": per_cat,
        "confused_pairs": pairs,
        "history": history,
        "plots": plots,
    }
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "report.json", report)
    (out_dir / "COMMAND.txt").write_text((command or shlex.join(sys.argv)) + "\n")
    progress("done", **{k: v for k, v in metrics.items() if isinstance(v, int | float)})
    return report


def warm_start_images(source: DrawingSource, spec: DataSpec, config: TrainConfig, n: int = 2048) -> np.ndarray | None:
    """Training images (augmented, as batches will be) to measure a warm start's BatchNorm statistics on."""
    if not config.init_from:
        return None
    images = [image for image, _ in itertools.islice(training_stream(source, spec, seed=config.seed), n)]
    return np.stack(images).astype(np.float32) / 255.0


def _build_and_compile(categories: list[str], config: TrainConfig, steps: int, warm_images: np.ndarray | None = None):
    import keras

    from training.model import build_model
    from training.warmstart import warm_start_model

    if config.init_from:
        model = warm_start_model(
            config.init_from,
            categories,
            warm_images,
            channels=config.channels,
            dropout=config.dropout,
            precision=config.precision,
        )
    else:
        model = build_model(
            len(categories),
            width=config.width,
            dropout=config.dropout,
            channels=config.channels,
            precision=config.precision,
        )
    total = max(1, steps * config.epochs)
    warmup = min(steps, total // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        decay_steps=max(1, total - warmup),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
        alpha=0.01,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy", keras.metrics.TopKCategoricalAccuracy(k=3, name="top3")],
    )
    return model
