"""State kept beside a checkpoint as `.npz` files: written whole or not at all, read back or refused."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

# What reading a missing, foreign or cut-short `.npz` raises: the caller starts afresh instead.
UNREADABLE = (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile)


def save_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """np.savez to `path`, replacing the last good file only once the new one is whole."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:  # an open file: np.savez would add ".npz" to a name
        np.savez(out, **arrays)
    os.replace(partial, path)  # a run killed while writing leaves the last good file
