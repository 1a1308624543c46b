"""Training data: drawings through the live preprocessing and rasterizer, streamed into tf.data.

The stream reads every category lazily and interleaves them at random, so its
memory does not grow with the dataset: a million drawings per category stream
like two hundred.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from inference.raster import SIZE, rasterize
from inference.strokes import StrokeError, simplify
from training.augment import augment
from training.sources import DrawingSource, Sample, is_validation


@dataclass(frozen=True)
class DataSpec:
    categories: list[str]
    per_class: int | None  # training drawings per category (None: all)
    augment: bool = True
    # Share of training examples cut to a stroke prefix, so the AI learns to
    # guess from the first strokes, as players need it to.
    partial_rate: float = 0.3


def split_samples(source: DrawingSource, category: str, *, validation: bool, limit: int | None) -> Iterator[Sample]:
    n = 0
    for sample in source.iter_category(category):
        if is_validation(sample.key) != validation:
            continue
        if limit is not None and n >= limit:
            return
        n += 1
        yield sample


def render(drawing, rng: np.random.Generator | None = None, partial_rate: float = 0.0) -> np.ndarray | None:
    """The live path (preprocess + rasterize), with optional augmentation and stroke prefixes."""
    try:
        if rng is not None and partial_rate and len(drawing) > 1 and rng.random() < partial_rate:
            drawing = drawing[: int(rng.integers(1, len(drawing)))]
        strokes = simplify(drawing)
        if rng is not None:
            strokes = simplify([[p[:, 0], p[:, 1]] for p in augment(strokes, rng)])
        return rasterize(strokes)
    except StrokeError:
        return None


def count_training(source: DrawingSource, spec: DataSpec) -> int:
    return sum(
        sum(1 for _ in split_samples(source, c, validation=False, limit=spec.per_class)) for c in spec.categories
    )


def training_stream(source: DrawingSource, spec: DataSpec, seed: int) -> Iterator[tuple[np.ndarray, int]]:
    """One epoch of (image, label) pairs, categories interleaved at random."""
    rng = np.random.default_rng(seed)
    iters = {i: split_samples(source, c, validation=False, limit=spec.per_class) for i, c in enumerate(spec.categories)}
    live = list(iters)
    while live:
        j = int(rng.integers(len(live)))
        label = live[j]
        sample = next(iters[label], None)
        if sample is None:
            live[j] = live[-1]
            live.pop()
            continue
        image = render(sample.drawing, rng if spec.augment else None, spec.partial_rate if spec.augment else 0.0)
        if image is not None:
            yield image, label


def validation_arrays(source: DrawingSource, spec: DataSpec, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Held-out drawings rendered plainly, their labels, and the drawings (for early-guess scoring)."""
    images, labels, drawings = [], [], []
    for i, c in enumerate(spec.categories):
        for sample in split_samples(source, c, validation=True, limit=limit):
            image = render(sample.drawing)
            if image is not None:
                images.append(image)
                labels.append(i)
                drawings.append(sample.drawing)
    x = np.stack(images) if images else np.zeros((0, SIZE, SIZE), np.uint8)
    return x, np.asarray(labels, dtype=np.int64), drawings


def tf_dataset(source: DrawingSource, spec: DataSpec, *, batch_size: int, epoch_seed: int):
    """A tf.data pipeline over :func:`training_stream`; a new random order and augmentation every epoch."""
    import tensorflow as tf

    n_classes = len(spec.categories)
    counter = {"epoch": epoch_seed}

    def gen():
        counter["epoch"] += 1
        yield from training_stream(source, spec, seed=counter["epoch"])

    ds = tf.data.Dataset.from_generator(
        gen,
        output_signature=(
            tf.TensorSpec(shape=(SIZE, SIZE), dtype=tf.uint8),
            tf.TensorSpec(shape=(), dtype=tf.int64),
        ),
    )
    # repeat(): Keras keeps one iterator across epochs; each pass re-runs gen with a new seed.
    ds = ds.repeat().shuffle(4096, seed=epoch_seed)
    ds = ds.batch(batch_size)
    ds = ds.map(
        lambda x, y: (tf.cast(x, tf.float32)[..., None] / 255.0, tf.one_hot(y, n_classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
