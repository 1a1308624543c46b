"""Training data: drawings through the live preprocessing and rasterizer, streamed into tf.data.

The stream reads every category lazily and interleaves them at random, so its
memory does not grow with the dataset: a million drawings per category stream
like two hundred.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inference.raster import SIZE, rasterize
from inference.strokes import StrokeError, simplify
from training.augment import augment
from training.distill import Teachers, soft_targets
from training.npz_files import UNREADABLE, save_npz_atomically
from training.redraw import NO_STROKE_ORDER, redraw
from training.sources import DrawingSource, Sample, alternate, category_streams, is_validation


@dataclass(frozen=True)
class DataSpec:
    categories: list[str]
    per_class: int | None  # training drawings per category (None: all)
    augment: bool = True
    # Share of training examples cut to a stroke prefix, so the AI learns to
    # guess from the first strokes, as players need it to.
    partial_rate: float = 0.3
    # Image channels (1: ink; 3: ink, stroke order, recency; see inference.raster).
    channels: int = 1


def split_samples(source: DrawingSource, category: str, *, validation: bool, limit: int | None) -> Iterator[Sample]:
    """`category`'s training or held-out samples. `limit` bounds each source of a mixed source alike (a bound
    on them all together would read only the first source's), and their samples alternate."""
    # A generator: no source opens a file (or downloads one) until the category is read.
    yield from alternate([_split(stream, validation, limit) for stream in category_streams(source, category)])


def _split(samples: Iterator[Sample], validation: bool, limit: int | None) -> Iterator[Sample]:
    n = 0
    for sample in samples:
        held_out = not sample.training_only and is_validation(sample.key)
        if held_out != validation:
            continue
        if limit is not None and n >= limit:
            return
        n += 1
        yield sample


def render(
    drawing,
    rng: np.random.Generator | None = None,
    partial_rate: float = 0.0,
    channels: int = 1,
) -> np.ndarray | None:
    """The live path (preprocess + rasterize), with optional augmentation and stroke prefixes.

    A (28, 28, channels) uint8 image, or None for a drawing that cannot be read. A picture (a
    training-only sample of training.quickdraw_js) is redrawn (training.redraw); it has ink only.
    """
    if isinstance(drawing, np.ndarray):
        if channels != 1:
            raise ValueError(NO_STROKE_ORDER)
        return redraw(drawing, rng)[..., None]
    try:
        if rng is not None and partial_rate and len(drawing) > 1 and rng.random() < partial_rate:
            drawing = drawing[: int(rng.integers(1, len(drawing)))]
        strokes = simplify(drawing)
        if rng is not None:
            strokes = simplify([[p[:, 0], p[:, 1]] for p in augment(strokes, rng)])
        image = rasterize(strokes, channels)
        return image[..., None] if channels == 1 else image
    except StrokeError:
        return None


def count_training(source: DrawingSource, spec: DataSpec) -> int:
    return sum(
        sum(1 for _ in split_samples(source, c, validation=False, limit=spec.per_class)) for c in spec.categories
    )


def training_stream(
    source: DrawingSource, spec: DataSpec, seed: int, workers: RenderWorkers | None = None
) -> Iterator[tuple[np.ndarray, int]]:
    """One epoch of (image, label) pairs, categories interleaved at random."""
    for image, label, _key in keyed_training_stream(source, spec, seed, workers):
        yield image, label


# Drawings rendered together, by one worker, from one random generator seeded by the epoch and the chunk's
# place in it. Fixed, so that an epoch's images are the same whatever the number of workers that render them.
RENDER_CHUNK = 256


def keyed_training_stream(
    source: DrawingSource, spec: DataSpec, seed: int, workers: RenderWorkers | None = None
) -> Iterator[tuple[np.ndarray, int, str]]:
    """:func:`training_stream` with each drawing's key (for answers cached per drawing).

    With `workers`, the drawings are rendered in those processes (the order and images are the same)."""
    chunks = (
        _RenderChunk(seed=(seed, i), spec=spec, labels=labels, keys=keys, drawings=drawings)
        for i, (labels, keys, drawings) in enumerate(_interleaved_chunks(source, spec, np.random.default_rng(seed)))
    )
    rendered = workers.map(_render_chunk, chunks) if workers is not None else map(_render_chunk, chunks)
    for items in rendered:
        yield from items


def _interleaved_chunks(
    source: DrawingSource, spec: DataSpec, rng: np.random.Generator
) -> Iterator[tuple[list[int], list[str], list]]:
    """The epoch's training drawings, categories interleaved at random, RENDER_CHUNK at a time."""
    iters = {i: split_samples(source, c, validation=False, limit=spec.per_class) for i, c in enumerate(spec.categories)}
    live = list(iters)
    chunk: tuple[list[int], list[str], list] = ([], [], [])
    while live:
        j = int(rng.integers(len(live)))
        label = live[j]
        sample = next(iters[label], None)
        if sample is None:
            live[j] = live[-1]
            live.pop()
            continue
        for part, value in zip(chunk, (label, sample.key, sample.drawing), strict=True):
            part.append(value)
        if len(chunk[0]) == RENDER_CHUNK:
            yield chunk
            chunk = ([], [], [])
    if chunk[0]:
        yield chunk


@dataclass(frozen=True)
class _RenderChunk:
    seed: tuple[int, int]
    spec: DataSpec
    labels: list[int]
    keys: list[str]
    drawings: list


def _render_chunk(chunk: _RenderChunk) -> list[tuple[np.ndarray, int, str]]:
    spec = chunk.spec
    rng = np.random.default_rng(chunk.seed) if spec.augment else None
    rendered = []
    for drawing, label, key in zip(chunk.drawings, chunk.labels, chunk.keys, strict=True):
        image = render(drawing, rng, spec.partial_rate if spec.augment else 0.0, spec.channels)
        if image is not None:
            rendered.append((image, label, key))
    return rendered


class RenderWorkers:
    """Processes that rasterize training drawings beside the training loop (`train --data-workers`).

    One Python thread renders about a thousand drawings a second, which a GPU trains on in a fraction of the
    time: there, the input pipeline is the limit. Chunks go out in order with a bounded number in flight, so
    memory stays flat whatever the dataset's size. The processes are spawned, not forked: the parent holds
    TensorFlow's threads.
    """

    def __init__(self, count: int):
        self.count = count
        self._pool = None  # started on first use, so that nothing is left running if training never starts
        self._closed = False

    def map(self, fn, items: Iterator) -> Iterator:
        """fn over items in the workers, results in order, at most two chunks per worker in flight."""
        if self._closed:  # a dataset's prefetch may still ask after training ended: start nothing again
            return
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("spawn"))
        pending: collections.deque = collections.deque()
        for item in items:
            if self._closed:
                return
            pending.append(self._pool.submit(fn, item))
            if len(pending) >= 2 * self.count:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> RenderWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_data_workers() -> int:
    """Render workers for this machine: none on two cores (they would only take the training's), else half."""
    cores = len(os.sched_getaffinity(0))
    return 0 if cores <= 2 else min(8, cores // 2)


def validation_arrays(
    source: DrawingSource, spec: DataSpec, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, list]:
    """Held-out drawings rendered plainly, their labels, and the drawings (for early-guess scoring)."""
    images, labels, drawings = [], [], []
    for i, c in enumerate(spec.categories):
        for sample in split_samples(source, c, validation=True, limit=limit):
            image = render(sample.drawing, channels=spec.channels)
            if image is not None:
                images.append(image)
                labels.append(i)
                drawings.append(sample.drawing)
    x = np.stack(images) if images else np.zeros((0, SIZE, SIZE, spec.channels), np.uint8)
    return x, np.asarray(labels, dtype=np.int64), drawings


def distilled_stream(
    stream: Iterator[tuple[np.ndarray, int]], teachers: Teachers, weight: float, n_classes: int, chunk: int = 256
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, soft target) pairs: the teachers answer for `chunk` images at a time (see training.distill)."""
    while True:
        items = list(itertools.islice(stream, chunk))
        if not items:
            return
        images = np.stack([image for image, _ in items])
        labels = np.array([label for _, label in items])
        targets = soft_targets(labels, teachers.probabilities(images), weight)
        yield from zip(images, targets, strict=True)


def teacher_answers(
    source: DrawingSource, spec: DataSpec, teachers: Teachers, chunk: int = 1024
) -> dict[tuple[int, str], np.ndarray]:
    """The teachers' mean probabilities for every training drawing, whole and plainly rendered, by (label, key).

    Asked once before training (about 10 s per thousand drawings on these 2 cores), so an epoch costs what one without
    teachers does; every augmented view and stroke prefix of a drawing then learns from the teachers'
    answer for the whole drawing, which also teaches the early guess what the drawing will become.
    Kept as float16: 62,000 drawings of 345 categories take about 43 MB.
    """
    answers: dict[tuple[int, str], np.ndarray] = {}
    pending: list[tuple[tuple[int, str], np.ndarray]] = []

    def flush() -> None:
        probs = teachers.probabilities(np.stack([image for _, image in pending])).astype(np.float16)
        answers.update(zip((key for key, _ in pending), probs, strict=True))
        pending.clear()

    for label, category in enumerate(spec.categories):
        for sample in split_samples(source, category, validation=False, limit=spec.per_class):
            image = render(sample.drawing, channels=spec.channels)
            if image is not None:
                pending.append(((label, sample.key), image))
                if len(pending) >= chunk:
                    flush()
    if pending:
        flush()
    return answers


def answers_identity(spec: DataSpec, teachers: Teachers) -> str:
    """What a set of :func:`teacher_answers` depends on, as text: the teachers and the data and rendering asked."""
    data = {k: v for k, v in asdict(spec).items() if k in ("categories", "per_class", "channels")}
    return json.dumps({"teachers": teachers.identity(), "data": data}, sort_keys=True)


def save_teacher_answers(path: Path, answers: dict[tuple[int, str], np.ndarray], identity: str) -> None:
    """Keep answers beside a checkpoint, so a resumed run does not ask the teachers again (minutes per run)."""
    keys = list(answers)
    n_classes = len(next(iter(answers.values()))) if answers else 0
    save_npz_atomically(
        path,
        identity=np.array(identity),
        labels=np.array([label for label, _ in keys], np.int32),
        keys=np.array([key for _, key in keys], dtype=str),
        probabilities=np.stack(list(answers.values())) if answers else np.zeros((0, n_classes), np.float16),
    )


def load_teacher_answers(path: Path, identity: str) -> dict[tuple[int, str], np.ndarray] | None:
    """Answers kept by :func:`save_teacher_answers` for the same teachers and data; None when there are none."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            if str(kept["identity"]) != identity:
                return None
            probs = kept["probabilities"]
            return {
                (int(label), str(key)): probs[i]
                for i, (label, key) in enumerate(zip(kept["labels"], kept["keys"], strict=True))
            }
    except UNREADABLE:  # none yet, or cut short: ask again
        return None


def answered_stream(
    stream: Iterator[tuple[np.ndarray, int, str]],
    answers: dict[tuple[int, str], np.ndarray],
    weight: float,
    n_classes: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, soft target) pairs from answers cached per drawing (see :func:`teacher_answers`)."""
    for image, label, key in stream:
        answer = answers.get((label, key))
        if answer is None:  # the whole drawing could not be read, only this view of it: its label alone
            target = np.zeros(n_classes, np.float32)
            target[label] = 1.0
        else:
            target = soft_targets(np.array([label]), answer[None, :], weight)[0]
        yield image, target


def tf_dataset(
    source: DrawingSource,
    spec: DataSpec,
    *,
    batch_size: int,
    epoch_seed: int,
    teachers: Teachers | None = None,
    distill_weight: float = 0.0,
    answers: dict[tuple[int, str], np.ndarray] | None = None,
    workers: RenderWorkers | None = None,
):
    """A tf.data pipeline over :func:`training_stream`; a new random order and augmentation every epoch.

    With `teachers` (asked for every view) or their `answers` cached per drawing, targets are the
    distilled soft targets instead of one-hot labels. With `workers`, drawings are rendered in them.
    """
    import tensorflow as tf

    n_classes = len(spec.categories)
    counter = {"epoch": epoch_seed}
    image_spec = tf.TensorSpec(shape=(SIZE, SIZE, spec.channels), dtype=tf.uint8)

    def gen():
        counter["epoch"] += 1
        if answers is not None:
            yield from answered_stream(
                keyed_training_stream(source, spec, seed=counter["epoch"], workers=workers),
                answers,
                distill_weight,
                n_classes,
            )
            return
        stream = training_stream(source, spec, seed=counter["epoch"], workers=workers)
        if teachers is None:
            yield from stream
        else:
            yield from distilled_stream(stream, teachers, distill_weight, n_classes)

    if teachers is None and answers is None:
        signature = (image_spec, tf.TensorSpec(shape=(), dtype=tf.int64))

        def to_target(y):
            return tf.one_hot(y, n_classes)
    else:
        signature = (image_spec, tf.TensorSpec(shape=(n_classes,), dtype=tf.float32))

        def to_target(y):
            return y

    ds = tf.data.Dataset.from_generator(gen, output_signature=signature)
    # repeat(): Keras keeps one iterator across epochs; each pass re-runs gen with a new seed.
    ds = ds.repeat().shuffle(4096, seed=epoch_seed)
    ds = ds.batch(batch_size)
    ds = ds.map(
        lambda x, y: (tf.cast(x, tf.float32) / 255.0, to_target(y)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
