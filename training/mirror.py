"""When a model asks its mirror image too: the threshold `train --mirror-below auto` chooses.

A file exported with `mirror_below` (inference.serving) is served with its
mirror image's answer averaged in only for drawings whose top probability is
below the threshold. How sure a network is depends on its recipe (label
smoothing, for one, makes it less sure), so "auto" chooses the threshold on the
validation split, from the file's own answers for each drawing and its mirror.
Light on purpose: job settings name MIRROR_AUTO in web processes.
"""

from __future__ import annotations

import argparse

import numpy as np

from inference.evaluation import metrics_from_probs
from inference.serving import unsure

MIRROR_AUTO = "auto"
# mirror_below "auto": the lowest of these thresholds (the fewest second views) whose answers on the validation
# split stay within AUTO_TOLERANCE of always asking, in top-1 and in top-3 ...
AUTO_THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 21))
AUTO_TOLERANCE = 0.001
# ... among those that ask again for at most this share of the validation drawings, so that the median guess
# stays one network run (bench_inference's median is judged). A file with a second network asks four runs of
# an unsure drawing, and its answers keep gaining a little up to high thresholds: without this bound "auto"
# chose 0.75 for the shipped pair (62 % of drawings asked again) where 0.60 (48 %) is 0.06 point of top-1 and
# 0.12 of top-3 short of it.
AUTO_MAX_ASKED_SHARE = 0.5


def choose_mirror_below(
    own: np.ndarray, asked: np.ndarray, labels: np.ndarray, max_share: float = AUTO_MAX_ASKED_SHARE
) -> float:
    """The lowest threshold of AUTO_THRESHOLDS that keeps top-1 and top-3 within AUTO_TOLERANCE of always
    asking, from each validation drawing's own probabilities and the answer it gets when asked again (the mean
    with its mirror image's, or a file's second opinion), among the thresholds that ask again for at most
    `max_share` of the drawings; when none of those is within the tolerance, the highest of them (1.0 without
    any drawing)."""
    if not len(labels):
        return AUTO_THRESHOLDS[-1]
    always = metrics_from_probs(asked, labels)
    affordable = [t for t in AUTO_THRESHOLDS if unsure(own, t).mean() <= max_share] or [AUTO_THRESHOLDS[0]]
    for threshold in affordable:
        served = np.where(unsure(own, threshold)[:, None], asked, own)
        scores = metrics_from_probs(served, labels)
        if all(scores[key] >= always[key] - AUTO_TOLERANCE for key in ("top1", "top3")):
            return threshold
    return affordable[-1]


def parse_mirror_below(text: str) -> float | str:
    """`--mirror-below`'s value (an argparse type): a probability, or auto."""
    if text == MIRROR_AUTO:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a probability or {MIRROR_AUTO}, not {text!r}") from None


def parse_turns(text: str) -> tuple[float, float]:
    """`--turns`'s value (an argparse type): D degrees, for the views turned by D and by -D."""
    try:
        degrees = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an angle in degrees, not {text!r}") from None
    return (degrees, -degrees)
