"""The Keras network: a small VGG-style CNN with BatchNorm and global average pooling.

Sized for the game, not for a leaderboard: one classification must stay far
below a millisecond on one CPU core after int8 dynamic-range quantization.
"""

from __future__ import annotations

# Number formats training can compute in (`train --precision`). The weights are float32 in both, and the
# exported file is made from a float32 copy of the network, so a model's file does not depend on it.
PRECISIONS = ("float32", "mixed_bfloat16")


def build_model(num_classes: int, width: int = 32, dropout: float = 0.3, channels: int = 1, precision: str = "float32"):
    """`channels`: what the input image holds (1: ink; 3: ink, stroke order, recency; see inference.raster).

    `precision` "mixed_bfloat16" computes in bfloat16 with float32 weights (each layer's own dtype policy, so
    nothing global changes); the softmax stays float32 either way.
    """
    import keras
    from keras import layers

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")

    def conv(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=precision)(x)
        x = layers.BatchNormalization(dtype=precision)(x)
        return layers.ReLU(dtype=precision)(x)

    inputs = keras.Input((28, 28, channels))
    x = conv(inputs, width)
    x = layers.MaxPooling2D(dtype=precision)(x)  # 14x14
    x = conv(x, width * 2)
    x = conv(x, width * 2)
    x = layers.MaxPooling2D(dtype=precision)(x)  # 7x7
    x = conv(x, width * 4)
    x = conv(x, width * 4)
    x = layers.MaxPooling2D(dtype=precision)(x)  # 3x3
    x = conv(x, width * 8)
    x = layers.GlobalAveragePooling2D(dtype=precision)(x)
    x = layers.Dropout(dropout, dtype=precision)(x)
    x = layers.Dense(width * 16, use_bias=False, dtype=precision)(x)
    x = layers.BatchNormalization(dtype=precision)(x)
    x = layers.ReLU(dtype=precision)(x)
    x = layers.Dropout(dropout, dtype=precision)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"doodle_cnn_w{width}")


def float32_copy(model):
    """The same :func:`build_model` network and weights, computing in float32: what is exported and scored."""
    import keras

    first_conv = next(la for la in model.layers if isinstance(la, keras.layers.Conv2D))
    if first_conv.dtype_policy.compute_dtype == "float32":
        return model
    dropout = next(la for la in model.layers if isinstance(la, keras.layers.Dropout)).rate
    copy = build_model(
        model.output_shape[-1], width=first_conv.filters, dropout=dropout, channels=model.input_shape[-1]
    )
    copy.set_weights(model.get_weights())
    return copy


def with_mirror_average(model):
    """The model for export: the mean of its answers for the image and its left-right mirror.

    Training mirrors half the drawings, so both views are drawings the model
    knows; averaging them is test-time augmentation inside the one model file.
    Both views of every image go through the network as one batch: the same
    answers to the bit as two passes, about a tenth cheaper (one pass over the
    weights), so a guess costs a little under twice the network's work.
    """
    import keras
    from keras import layers

    def both_views(x):
        return keras.ops.concatenate([x, keras.ops.flip(x, axis=2)], axis=0)  # images, then their mirrors

    def average(p):
        return keras.ops.mean(keras.ops.reshape(p, (2, -1, p.shape[-1])), axis=0)

    inputs = keras.Input(model.input_shape[1:])
    answers = model(layers.Lambda(both_views, name="with_mirrors")(inputs))
    outputs = layers.Lambda(average, name="mirror_average")(answers)
    return keras.Model(inputs, outputs, name=f"{model.name}_mirror_avg")
