"""Whether this Python can train: the training extra's packages, looked up without importing them."""

from __future__ import annotations

from importlib.util import find_spec

# The modules training imports that the runtime requirements do not install.
TRAINING_MODULES = ("tensorflow", "keras", "matplotlib", "h5py", "filelock")
INSTALL_COMMAND = ".venv/bin/pip install -r requirements-train.txt -c requirements.lock"


def missing_training_packages() -> list[str]:
    """The training modules this interpreter cannot import (an empty list: it can train)."""
    return [name for name in TRAINING_MODULES if find_spec(name) is None]


def missing_message(missing: list[str]) -> str:
    return (
        f"the training packages are not installed ({', '.join(missing)} missing); install them with "
        f"`{INSTALL_COMMAND}` and restart the training worker"
    )
