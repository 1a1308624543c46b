"""The Keras network: a small VGG-style CNN with BatchNorm and global average pooling.

Sized for the game, not for a leaderboard: one classification must stay far
below a millisecond on one CPU core after int8 dynamic-range quantization.
"""

from __future__ import annotations


def build_model(num_classes: int, width: int = 32, dropout: float = 0.3, channels: int = 1):
    """`channels`: what the input image holds (1: ink; 3: ink, stroke order, recency; see inference.raster)."""
    import keras
    from keras import layers

    def conv(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((28, 28, channels))
    x = conv(inputs, width)
    x = layers.MaxPooling2D()(x)  # 14x14
    x = conv(x, width * 2)
    x = conv(x, width * 2)
    x = layers.MaxPooling2D()(x)  # 7x7
    x = conv(x, width * 4)
    x = conv(x, width * 4)
    x = layers.MaxPooling2D()(x)  # 3x3
    x = conv(x, width * 8)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(width * 16, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"doodle_cnn_w{width}")


def with_mirror_average(model):
    """The model for export: the mean of its answers for the image and its left-right mirror.

    Training mirrors half the drawings, so both views are drawings the model
    knows; averaging them is test-time augmentation inside the one model file
    (one invoke, about twice the convolutions).
    """
    import keras
    from keras import layers

    inputs = keras.Input(model.input_shape[1:])
    mirrored = layers.Lambda(lambda x: keras.ops.flip(x, axis=2), name="mirror")(inputs)
    outputs = layers.Average()([model(inputs), model(mirrored)])
    return keras.Model(inputs, outputs, name=f"{model.name}_mirror_avg")
