"""A LiteRT classifier: a `.tflite` file and its labels, answering top-k guesses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from inference.serving import (
    ServingSettingsError,
    read_second_network,
    read_serving_settings,
    unsure,
    views_mean,
)

# The batch sizes probabilities_many invokes with: a batch is padded up to the next one, and a larger one
# goes in slices of the largest (a race room of 8 is one call; past 16 the gain per image is gone).
BATCH_SIZES = (1, 2, 3, 4, 8, 16)
# An unsure drawing's image turned by an angle in degrees, drawn from its strokes (see Classifier.probabilities).
Turned = Callable[[float], np.ndarray]
# uint8 ink (0-255) to the 0-1 floats the models read.
_INK_SCALE = np.float32(1.0 / 255.0)


class ModelFileError(RuntimeError):
    """A model file that is missing, unreadable or does not fit its labels."""


@dataclass(frozen=True)
class Guess:
    label: str
    probability: float


class Classifier:
    """Owns one interpreter for its whole life; a lock makes it safe to share between threads.

    A LiteRT interpreter is not re-entrant (set_tensor/invoke/get_tensor share
    buffers), and one invoke of our models takes tens of microseconds, so a
    lock costs less than an interpreter per thread.
    """

    def __init__(self, model_path: Path | str, labels: list[str]):
        model_path = Path(model_path)
        try:
            # Read once: every interpreter of this file (one per batch size) is made from these bytes.
            self._model_bytes = model_path.read_bytes()
            self._interpreter = Interpreter(model_content=self._model_bytes, num_threads=1)
            self._interpreter.allocate_tensors()
            # How the file asks to be served (inference.serving): a second opinion for unsure drawings, or not.
            serving = read_serving_settings(self._model_bytes)
            self.mirror_below: float | None = serving.get("mirror_below")
            self.turns: tuple[float, ...] = tuple(serving.get("turns", ()))
            self._second_network = read_second_network(self._model_bytes)
            self._second = None
            if self._second_network is not None:
                self._second = Interpreter(model_content=self._second_network, num_threads=1)
                self._second.allocate_tensors()
        except (OSError, ValueError, RuntimeError, ServingSettingsError) as exc:
            raise ModelFileError(f"cannot load model {model_path}: {exc}") from exc
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        self._input_index, self._output_index = inp["index"], out["index"]
        self._input_shape = tuple(inp["shape"])
        # Channels the model reads (1: ink; 3: ink, stroke order, recency): see inference.raster.
        self.channels = int(self._input_shape[-1]) if len(self._input_shape) == 4 else 1
        n_out = int(out["shape"][-1])
        if n_out != len(labels):
            raise ModelFileError(f"model {model_path} has {n_out} outputs but {len(labels)} labels")
        # Each network's (input, output) tensor indices: the file's first, then its second network's.
        self._tensors = [(self._input_index, self._output_index)]
        if self._second is not None:
            second_in, second_out = self._second.get_input_details()[0], self._second.get_output_details()[0]
            if tuple(second_in["shape"]) != self._input_shape or int(second_out["shape"][-1]) != n_out:
                raise ModelFileError(f"model {model_path}: its second network reads or answers differently")
            self._tensors.append((second_in["index"], second_out["index"]))
        self.labels = list(labels)
        self.path = model_path
        self._lock = threading.Lock()
        # Interpreters resized for a batch, one per network and size in BATCH_SIZES, made on first use. A
        # resize re-plans the interpreter's memory, far dearer than an invoke, so each size keeps its own.
        self._batched: dict[tuple[int, int], Interpreter] = {(0, 1): self._interpreter}
        if self._second is not None:
            self._batched[(1, 1)] = self._second

    @property
    def has_second_network(self) -> bool:
        return self._second is not None

    def probabilities(self, image: np.ndarray, turned: Turned | None = None) -> np.ndarray:
        """Class probabilities for one 28x28 uint8 image (ink = 255), (28, 28) or (28, 28, channels).

        An image with more channels than the model reads gives it its first ones
        (channel 0 is always the ink), so one image serves models of either kind.
        A file that asks for it (`mirror_below`, see inference.serving) gets a
        drawing it is unsure of a second time as its mirror image, and the mean
        of both answers: the accuracy of the mirror average for about half of
        its cost, as most drawings are answered surely from one view. A file
        that also holds a second network asks it too, for the drawing and its
        mirror (one batch of two), and averages all four answers. A file with
        `turns` also asks for the drawing turned by each angle (its second
        network if it has one, in the same batch): `turned(angle)` draws that
        image from the drawing's strokes (without it, as for a bare image, those
        views are left out).
        """
        x = self._input(image)[None]
        with self._lock:
            probs = self._invoke_on(0, x)[0]
        if not unsure(probs, self.mirror_below):
            return probs
        return self._second_opinion(x, probs[None], None if turned is None else [turned])[0]

    def probabilities_many(self, images: list[np.ndarray], turned: Sequence[Turned] | None = None) -> np.ndarray:
        """Class probabilities for several images in batched invokes: one row per image, in order.

        The same numbers as `probabilities` image by image (the model is the same, only the batch
        dimension differs), for less than the cost of one invoke per image. `turned`: each image's
        `turned` (see `probabilities`), in the same order.
        """
        if not images:
            return np.zeros((0, len(self.labels)), np.float32)
        x = np.stack([self._input(image) for image in images])
        probs = self._invoke_batched(0, x)
        again = np.flatnonzero(unsure(probs, self.mirror_below))
        if len(again):
            probs[again] = self._second_opinion(
                x[again], probs[again], None if turned is None else [turned[i] for i in again]
            )
        return probs

    def _second_opinion(self, x: np.ndarray, probs: np.ndarray, turned: list[Turned] | None) -> np.ndarray:
        """The answers for unsure drawings (inference.serving): x their inputs, probs the first network's answers
        for them. The first network answers for the mirror images; the second, where the file carries one, for
        the drawings, their mirror images and the turned views, in one batched call (without one, the first
        answers for the turned views too)."""
        views = [np.ascontiguousarray(x[:, :, ::-1])]  # columns reversed: the mirror images
        if self.turns and turned is not None:
            views += [np.stack([self._input(draw(angle)) for draw in turned]) for angle in self.turns]
        if self._second is None:
            return views_mean([probs, *np.split(self._invoke_batched(0, np.concatenate(views)), len(views))])
        second = self._invoke_batched(1, np.concatenate([x, *views]))
        return views_mean([probs, self._invoke_batched(0, views[0]), *np.split(second, len(views) + 1)])

    def _input(self, image: np.ndarray) -> np.ndarray:
        """One image as the networks read it: its channels fitted, uint8 ink scaled to 0-1 floats in one pass."""
        return np.multiply(self._fit_channels(image), _INK_SCALE, dtype=np.float32).reshape(self._input_shape[1:])

    def _invoke_batched(self, network: int, x: np.ndarray) -> np.ndarray:
        """`network` 0 (the file's) or 1 (its second) on the images x, in slices of BATCH_SIZES."""
        largest = BATCH_SIZES[-1]
        rows = []
        for start in range(0, len(x), largest):
            part = x[start : start + largest]
            size = next(b for b in BATCH_SIZES if b >= len(part))
            if size > len(part):  # pad with blank images; their rows are dropped
                part = np.concatenate([part, np.zeros((size - len(part), *part.shape[1:]), np.float32)])
            with self._lock:
                rows.append(self._invoke_on(network, part)[: len(x) - start].copy())
        return np.concatenate(rows)[: len(x)]

    def _invoke_on(self, network: int, batch: np.ndarray) -> np.ndarray:
        """One invoke of `network` on a batch of a size in BATCH_SIZES (the caller holds the lock)."""
        interpreter = self._batched.get((network, len(batch))) or self._batch_interpreter(network, len(batch))
        input_index, output_index = self._tensors[network]
        interpreter.set_tensor(input_index, batch)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)  # a copy

    def _fit_channels(self, image: np.ndarray) -> np.ndarray:
        """An image with more channels than the model reads gives it its first ones (channel 0 is the ink)."""
        if image.ndim == 3 and image.shape[-1] != self.channels:
            if image.shape[-1] < self.channels:
                raise ValueError(f"the model reads {self.channels} channels, the image has {image.shape[-1]}")
            return image[..., : self.channels]
        if image.ndim == 2 and self.channels != 1:
            raise ValueError(f"the model reads {self.channels} channels, the image has 1")
        return image

    def _batch_interpreter(self, network: int, size: int) -> Interpreter:
        content = self._model_bytes if network == 0 else self._second_network
        interpreter = Interpreter(model_content=content, num_threads=1)
        interpreter.resize_tensor_input(self._tensors[network][0], [size, *self._input_shape[1:]])
        interpreter.allocate_tensors()
        self._batched[(network, size)] = interpreter
        return interpreter

    def guesses(self, probs: np.ndarray, k: int = 3) -> list[Guess]:
        """The k most likely labels of one row of probabilities, most likely first."""
        k = min(k, len(probs))
        idx = np.argpartition(-probs, k - 1)[:k]
        idx = idx[np.argsort(-probs[idx])]
        return [Guess(self.labels[i], float(probs[i])) for i in idx]
