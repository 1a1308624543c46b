"""Knowledge distillation: soft targets from an ensemble of exported teacher models.

With 200 drawings per category, a one-hot label says little: a teacher's
probabilities also say which other categories a drawing resembles (a half-drawn
"sun" is also a "circle" or a "cookie"), and an ensemble's are better than any
one model's. The student that ships learns from

    target = (1 - weight) * one-hot + weight * mean of the teachers' probabilities

on the very image it is shown (augmented, or cut to a stroke prefix), and,
with `mirror`, on its mirror image too. Teachers are `.tflite` folders (any
earlier model of ours: they read the channels they were trained on) run by
LiteRT in batches. Each teacher view is a forward pass, about a third of a
training step of the same network, so two teachers cost about two thirds
more per step, and mirrored views twice that.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from inference.errors import ModelVersionError
from inference.model_store import read_model_dir


class TeacherError(ValueError):
    """A teacher folder that cannot teach this training run."""


class Teachers:
    def __init__(self, folders: list[Path | str], categories: list[str], *, mirror: bool = False, batch: int = 256):
        from ai_edge_litert.interpreter import Interpreter

        self.mirror = mirror
        self.batch = batch
        self._models = []
        self._files: list[str] = []  # each teacher's model, by content
        for folder in map(Path, folders):
            try:
                found = read_model_dir(folder)
            except ModelVersionError as exc:
                raise TeacherError(str(exc)) from exc
            labels = found.labels
            missing = sorted(set(categories) - set(labels))
            if missing:
                raise TeacherError(f"teacher {folder} does not know {', '.join(missing[:5])}")
            self._files.append(hashlib.sha256(found.model_file.read_bytes()).hexdigest())
            interpreter = Interpreter(model_path=str(found.model_file), num_threads=1)
            inp = interpreter.get_input_details()[0]
            channels = int(inp["shape"][-1])
            interpreter.resize_tensor_input(inp["index"], [batch, 28, 28, channels])
            interpreter.allocate_tensors()
            out = interpreter.get_output_details()[0]["index"]
            order = np.array([labels.index(c) for c in categories])
            self._models.append((interpreter, inp["index"], out, channels, order))

    def __len__(self) -> int:
        return len(self._models)

    def identity(self) -> dict:
        """What decides these teachers' answers: their models (by content) and whether mirrors are asked too."""
        return {"models": self._files, "mirror": self.mirror}

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """The teachers' mean probabilities for (n, 28, 28, channels) uint8 images, in the run's category order."""
        x = images.astype(np.float32) * (1.0 / 255.0)
        views = [x, x[:, :, ::-1]] if self.mirror else [x]
        total = None
        n = len(x)
        for interpreter, inp, out, channels, order in self._models:
            for view in views:
                for start in range(0, n, self.batch):
                    chunk = view[start : start + self.batch, ..., :channels]
                    if len(chunk) < self.batch:  # the input shape is fixed: pad the last chunk
                        chunk = np.concatenate(
                            [chunk, np.zeros((self.batch - len(chunk), *chunk.shape[1:]), np.float32)]
                        )
                    interpreter.set_tensor(inp, np.ascontiguousarray(chunk))
                    interpreter.invoke()
                    probs = interpreter.get_tensor(out)[: min(self.batch, n - start), order]
                    if total is None:
                        total = np.zeros((n, len(order)), np.float32)
                    total[start : start + len(probs)] += probs
        return total / (len(self._models) * len(views))


def soft_targets(labels: np.ndarray, teacher_probs: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) * one-hot + weight * teacher probabilities, as float32 rows that sum to 1."""
    targets = teacher_probs.astype(np.float32) * weight
    targets[np.arange(len(labels)), labels] += 1.0 - weight
    return targets
