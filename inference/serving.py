"""How a model file asks to be served, kept inside the `.tflite` file itself.

A model may want more than one invoke per guess: `mirror_below` asks for a
second opinion whenever the drawing's own top probability is below it: the
drawing's left-right mirror image is classified too and the answers averaged.
A file may also carry a second network (another training recipe's, which errs
on other drawings): then the second opinion also asks it, for the drawing and
its mirror, and the four answers are averaged. `turns` (angles in degrees)
adds views of the unsure drawing turned by each angle, redrawn from its strokes
through the one preprocessing path (inference.strokes.turned), answered by the
second network (by the first in a file without one), and the second opinion is
the mean of all the answers. (Measured on the shipped pair: the first network's
answers for the turned views added nothing that the second's did not, for two
more invokes.)
A drawing the first network is sure of gets one invoke either way (see
`inference.classifier.Classifier`).
The setting and the second network travel in the file's metadata (TFLite's
`Model.metadata`, named buffers), so every copy of the file (the model store,
an admin's download, a test's temporary file) is served the same way, and a
file without them is served as before: one view of one network."""

from __future__ import annotations

import json
import math
import struct

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

METADATA_NAME = b"guess_the_doodle.serving"
SECOND_NETWORK_NAME = b"guess_the_doodle.second_network"
TFLITE_IDENTIFIER = b"TFL3"
KNOWN = ("mirror_below", "turns")
# Turned views beyond this would be other drawings (a 6 on its head is a 9), and each costs an invoke per network.
MAX_TURN_DEGREES = 45
MAX_TURNS = 4


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
    turns = settings.get("turns")
    if turns is not None:
        if not (
            isinstance(turns, list | tuple)
            and 0 < len(turns) <= MAX_TURNS
            and all(isinstance(a, int | float) and math.isfinite(a) and 0 < abs(a) <= MAX_TURN_DEGREES for a in turns)
        ):
            raise ServingSettingsError(
                f"turns must be 1 to {MAX_TURNS} angles of at most {MAX_TURN_DEGREES} degrees either way (not 0), "
                f"not {turns!r}"
            )
        if below is None:
            raise ServingSettingsError("turned views are asked only for unsure drawings: set mirror_below too")
        settings = {**settings, "turns": [float(a) for a in turns]}
    return {key: value for key, value in settings.items() if value is not None}


def unsure(probs: np.ndarray, mirror_below: float | None) -> np.ndarray:
    """Which rows of probabilities ((n, classes), or one row) ask for the mirror image too."""
    if mirror_below is None:
        return np.zeros(probs.shape[:-1], bool)
    return probs.max(axis=-1) < mirror_below


def views_mean(answers: list[np.ndarray]) -> np.ndarray:
    """The answer for an unsure drawing: the mean of every network's probabilities for every view of it."""
    return np.mean(answers, axis=0, dtype=np.float32)


def _metadata(model_bytes: bytes, name: bytes) -> bytes | None:
    """The named metadata buffer of a model file, or None."""
    model = schema.Model.GetRootAs(model_bytes, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == name:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def read_serving_settings(model_bytes: bytes) -> dict:
    """The serving settings a model file carries ({} for a file without them)."""
    data = _metadata(model_bytes, METADATA_NAME)
    return {} if data is None else check_settings(json.loads(data))


def read_second_network(model_bytes: bytes) -> bytes | None:
    """The second network a model file carries (a `.tflite` file of its own), or None."""
    return _metadata(model_bytes, SECOND_NETWORK_NAME)


def with_serving_settings(model_bytes: bytes, settings: dict) -> bytes:
    """The model file with `settings` in its metadata (replacing any it had); the network is untouched."""
    settings = check_settings(settings)
    return _with_metadata(
        model_bytes, METADATA_NAME, json.dumps(settings, sort_keys=True).encode() if settings else None
    )


def with_second_network(model_bytes: bytes, second: bytes | None) -> bytes:
    """The model file carrying `second` (a `.tflite` file, kept as it is) as its second network, replacing any
    it had (None: without one); the first network is untouched."""
    if second is not None:
        not_a_model = ServingSettingsError("the second network must be a .tflite file")
        if second[4:8] != TFLITE_IDENTIFIER:
            raise not_a_model
        try:
            nested = read_second_network(second)
        except (struct.error, IndexError) as exc:  # what flatbuffers raises for bytes that only look like one
            raise not_a_model from exc
        if nested is not None:
            raise ServingSettingsError("a second network cannot carry a network of its own")
    return _with_metadata(model_bytes, SECOND_NETWORK_NAME, second)


def _with_metadata(model_bytes: bytes, name: bytes, data: bytes | None) -> bytes:
    """The model file with the metadata buffer `name` holding `data` (None: without it)."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model_bytes, 0))
    for old in [m for m in (model.metadata or []) if m.name == name]:
        model.buffers[old.buffer].data = None  # emptied, not removed: tensors refer to buffers by position
    model.metadata = [m for m in (model.metadata or []) if m.name != name]
    if data is not None:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name.decode(), len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(model_bytes) + len(data or b"") + 1024)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())
