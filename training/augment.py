"""Stroke-level augmentation, applied before preprocessing and rasterizing.

Working on strokes rather than pixels keeps lines crisp and their width
constant (an image-level zoom would thicken or thin them, which the live
rasterizer never does) and lets us vary what players vary: proportions,
slant, where each stroke lands, a stroke left out, a mirrored drawing.
"""

from __future__ import annotations

import math

import numpy as np


def random_matrix(rng: np.random.Generator) -> np.ndarray:
    """The distortion of a whole drawing: rotation, scale per axis, shear, and a mirror half the time."""
    angle = math.radians(rng.normal(0.0, 8.0))
    sx, sy = np.exp(rng.normal(0.0, 0.12, size=2))
    shear = rng.normal(0.0, 0.1)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]]) @ np.array([[sx * flip, shear], [0.0, sy]])


def augment(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Randomly distort a drawing given as (n, 2) arrays on the 0-255 scale."""
    if not strokes:
        return strokes
    # Stroke dropout: players forget details; never drop the first stroke.
    if len(strokes) > 2 and rng.random() < 0.3:
        keep = [0] + [i for i in range(1, len(strokes)) if rng.random() > 0.12]
        strokes = [strokes[i] for i in keep]
    matrix = random_matrix(rng)
    centre = np.concatenate(strokes).mean(axis=0)
    out = []
    for pts in strokes:
        pts = (pts - centre) @ matrix.T
        # Each stroke lands a little off where it belongs.
        pts = pts + rng.normal(0.0, 3.0, size=2)
        if rng.random() < 0.5:
            pts = pts + rng.normal(0.0, 1.0, size=pts.shape)
        out.append(pts)
    return out
