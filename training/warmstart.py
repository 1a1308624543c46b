"""Warm start: a Keras model that answers as an exported `.tflite` does, to train on from there.

A shipped model holds dozens of CPU-minutes of training; starting the next one
from it, instead of from random weights, spends this machine's compute on
what the last model could not do yet. Only the `.tflite` file is kept, with
BatchNorm folded into the convolutions and the weights quantized to int8, so
:func:`warm_start_model` rebuilds :func:`training.model.build_model` around
the dequantized weights and sets every BatchNorm layer to give back the
folded bias exactly: ``gamma = sqrt(var + eps)``, ``beta = mean + bias``, with
the moving mean and variance measured on real drawings, so that in training
mode (batch statistics) the layers start close to the file's function too.

A model that reads more input channels than the file (stroke order: see
inference.raster) gets zero weights on the new channels: it starts as the
file's model and learns to use them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.errors import ModelVersionError
from inference.model_store import read_model_dir


class WarmStartError(ValueError):
    """A model file that cannot seed this network."""


def _tensor(interpreter, details: dict, index: int) -> np.ndarray:
    """A constant tensor as float32, dequantized when it is stored as int8."""
    value = interpreter.get_tensor(index)
    if value.dtype == np.float32:
        return value
    q = details[index]["quantization_parameters"]
    scales, zeros, axis = q["scales"], q["zero_points"], q["quantized_dimension"]
    shape = [1] * value.ndim
    shape[axis] = -1
    return ((value.astype(np.float32) - zeros.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def read_tflite_layers(
    path: Path | str,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    """(kernel, bias) of every CONV_2D and every FULLY_CONNECTED op, in graph order, as the file stores them.

    An op whose weights an earlier op already used is the same layer run again (mirror-averaged files made
    before the two views went through the network as one batch run it twice), so it is read once."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    convs, dense = [], []
    seen: set[int] = set()
    for op in interpreter._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "FULLY_CONNECTED"):
            continue
        _, kernel, bias = op["inputs"]
        if kernel in seen:
            continue
        seen.add(kernel)
        pair = (_tensor(interpreter, details, kernel), _tensor(interpreter, details, bias))
        (convs if op["op_name"] == "CONV_2D" else dense).append(pair)
    return convs, dense


def warm_start_model(
    folder: Path | str,
    categories: list[str],
    images: np.ndarray,
    *,
    channels: int = 1,
    dropout: float = 0.3,
    precision: str = "float32",
):
    """A compiled-ready Keras model with the weights of `folder`'s model.tflite (labels.txt maps its outputs).

    `images`: a few hundred training images, (n, 28, 28, channels) floats in 0-1, to measure the BatchNorm
    statistics on.
    """
    import keras

    from training.model import build_model

    folder = Path(folder)
    try:
        found = read_model_dir(folder)
    except ModelVersionError as exc:
        raise WarmStartError(str(exc)) from exc
    labels = found.labels
    if sorted(labels) != sorted(categories):
        raise WarmStartError(f"{folder} knows other categories than this training run")
    convs, dense = read_tflite_layers(found.model_file)
    if len(convs) != 6 or len(dense) != 2:
        raise WarmStartError(f"{folder}/model.tflite is not a build_model network ({len(convs)} convolutions)")
    width = convs[0][0].shape[0]
    if convs[0][0].shape[-1] > channels:
        raise WarmStartError(f"{folder}/model.tflite reads {convs[0][0].shape[-1]} channels, this run {channels}")
    model = build_model(len(categories), width=width, dropout=dropout, channels=channels, precision=precision)
    conv_layers = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    bn_layers = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    dense_layers = [la for la in model.layers if isinstance(la, keras.layers.Dense)]
    biases = []
    for layer, (kernel, bias) in zip(conv_layers, convs, strict=True):
        kernel = kernel.transpose(1, 2, 3, 0)  # the file's (out, h, w, in) -> Keras' (h, w, in, out)
        if kernel.shape[2] < layer.kernel.shape[2]:
            pad = np.zeros((*kernel.shape[:2], layer.kernel.shape[2] - kernel.shape[2], kernel.shape[3]), np.float32)
            kernel = np.concatenate([kernel, pad], axis=2)
        layer.set_weights([kernel])
        biases.append(bias)
    dense_layers[0].set_weights([dense[0][0].T])
    biases.append(dense[0][1])
    order = [labels.index(c) for c in categories]
    dense_layers[1].set_weights([dense[1][0].T[:, order], dense[1][1][order]])
    # First every BatchNorm as "+ bias" (mean 0, variance 1 - eps): the file's function. Then measure each
    # layer's input statistics under that function and move them in, which keeps the function exact.
    for layer, bias in zip(bn_layers, biases, strict=True):
        ones = np.ones_like(bias)
        layer.set_weights([ones, bias, np.zeros_like(bias), ones - layer.epsilon])
    probe = keras.Model(model.input, [la.input for la in bn_layers])
    for layer, bias, z in zip(bn_layers, biases, probe.predict(images, batch_size=256, verbose=0), strict=True):
        z = z.reshape(-1, z.shape[-1])
        mean, var = z.mean(axis=0), z.var(axis=0)
        layer.set_weights([np.sqrt(var + layer.epsilon), mean + bias, mean, var])
    return model
