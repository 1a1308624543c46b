"""Early stopping that a resumed run carries on, instead of starting to count again.

Keras' EarlyStopping keeps its best score, its patience count and the best
epoch's weights in memory only. A training job that resumes from its
checkpoint (a worker killed, a job queued again) would count "best" from the
resumed epoch: the weights it restores at the end are the best of the epochs
after the resume, and a run resumed after its best epoch would lose that
epoch's model. Here the state is kept beside the checkpoint after every
epoch, so a resumed run ends with the model an uninterrupted one would.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.npz_files import UNREADABLE, save_npz_atomically

# Beside Keras' checkpoint in the run's checkpoint folder: the state and the best weights, in one file so
# that they are replaced together.
STATE_FILE = "early_stopping.npz"


def _save(path: Path, state: dict, weights: list[np.ndarray]) -> None:
    save_npz_atomically(path, state=np.array(json.dumps(state)), **{f"w{i}": w for i, w in enumerate(weights)})


def _load(path: Path) -> tuple[dict, list[np.ndarray]]:
    with np.load(path) as kept:
        state = json.loads(str(kept["state"]))
        weights = [kept[f"w{i}"] for i in range(len(kept.files) - 1)]
    return state, weights


def resumable_early_stopping(folder: Path | None, *, resumed: bool, **kwargs):
    """An EarlyStopping callback (`kwargs` as Keras') whose state lives in `folder` (None: in memory only).

    `resumed`: the run goes on from a checkpoint in `folder`; otherwise a state left there is from a run
    that started over, and is not read."""
    import keras

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if folder is None or not resumed:
                return
            try:
                state, weights = _load(folder / STATE_FILE)
                best, wait, best_epoch = float(state["best"]), int(state["wait"]), int(state["best_epoch"])
            except UNREADABLE:
                return  # nothing kept, or unreadable: count afresh, as Keras would
            if [w.shape for w in weights] != [w.shape for w in self.model.get_weights()]:
                return  # another network's weights: count afresh
            self.best, self.wait, self.best_epoch, self.best_weights = best, wait, best_epoch, weights

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if folder is None or self.best is None or self.best_weights is None:
                return
            folder.mkdir(parents=True, exist_ok=True)
            state = {"best": float(self.best), "wait": self.wait, "best_epoch": self.best_epoch, "epoch": epoch}
            _save(folder / STATE_FILE, state, self.best_weights)

    return ResumableEarlyStopping(**kwargs)
