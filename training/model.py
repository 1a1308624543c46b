"""The Keras network: a small VGG-style CNN with BatchNorm and global average pooling.

Sized for the game, not for a leaderboard: one classification must stay far
below a millisecond on one CPU core after int8 dynamic-range quantization.
"""

from __future__ import annotations


def build_model(num_classes: int, width: int = 32, dropout: float = 0.3):
    import keras
    from keras import layers

    def conv(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((28, 28, 1))
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
