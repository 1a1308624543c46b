"""How a model file asks to be served, kept inside the `.tflite` file itself.

A model may want more than one invoke per guess: `mirror_below` asks for the
drawing's left-right mirror image to be classified too, and the two answers
averaged, whenever the drawing's own top probability is below it. A drawing
the network is sure of gets one invoke, an unsure one two (see
`inference.classifier.Classifier`). The setting travels in the file's
metadata (TFLite's `Model.metadata`, a named buffer), so every copy of the
file (the model store, an admin's download, a test's temporary file) is
served the same way, and a file without it is served as before: one view.
"""

from __future__ import annotations

import json
import math

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

METADATA_NAME = b"guess_the_doodle.serving"
TFLITE_IDENTIFIER = b"TFL3"
KNOWN = ("mirror_below",)


class ServingSettingsError(ValueError):
    """Serving settings that a model file cannot carry or that make no sense."""


def check_settings(settings: dict) -> dict:
    """The settings as stored: only known keys, `mirror_below` a probability above 0 and at most 1."""
    unknown = sorted(set(settings) - set(KNOWN))
    if unknown:
        raise ServingSettingsError(f"unknown serving settings: {', '.join(unknown)}")
    below = settings.get("mirror_below")
    if below is not None and not (isinstance(below, int | float) and math.isfinite(below) and 0 < below <= 1):
        raise ServingSettingsError(f"mirror_below must be a probability above 0 and at most 1, not {below!r}")
    return {key: value for key, value in settings.items() if value is not None}


def unsure(probs: np.ndarray, mirror_below: float | None) -> np.ndarray:
    """Which rows of probabilities ((n, classes), or one row) ask for the mirror image too."""
    if mirror_below is None:
        return np.zeros(probs.shape[:-1], bool)
    return probs.max(axis=-1) < mirror_below


def mirror_mean(probs: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The answer for an unsure drawing: the mean of its own and its mirror image's probabilities."""
    return (probs + mirrored) / 2


def read_serving_settings(model_bytes: bytes) -> dict:
    """The serving settings a model file carries ({} for a file without them)."""
    model = schema.Model.GetRootAs(model_bytes, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == METADATA_NAME:
            data = model.Buffers(entry.Buffer()).DataAsNumpy()
            return check_settings(json.loads(bytes(data)))
    return {}


def with_serving_settings(model_bytes: bytes, settings: dict) -> bytes:
    """The model file with `settings` in its metadata (replacing any it had); the network is untouched."""
    settings = check_settings(settings)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model_bytes, 0))
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME]
    if settings:
        buffer = schema.BufferT()
        buffer.data = list(json.dumps(settings, sort_keys=True).encode())
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME.decode(), len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(model_bytes) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())
