"""The secret key: from the environment, or generated once into the data folder and kept there.

`make run` and a Docker volume need no configuration: the first process to
start writes a random key to `<DATA_DIR>/secret_key` (mode 0600) and every
later start reads it back, so sessions and CSRF tokens survive restarts and
all processes sharing the folder agree. A key anybody could know (one that
was ever published in this repository or in Django's templates, or too short
to be secret) is refused whenever DEBUG is off.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

KEY_FILE_NAME = "secret_key"
# Django's own bar (check security.W009): a key shorter than this, or with fewer distinct characters, is guessable.
MIN_LENGTH = 50
MIN_DISTINCT_CHARACTERS = 5
# Parts of keys that were published: this project's old default, docker-compose.yml's placeholder, Django's
# startproject prefix, and the words people put in placeholders.
PUBLISHED_MARKERS = (
    "change-me",
    "changeme",
    "change_me",
    "insecure",
    "dev-only",
    "replace-me",
    "example",
    "secret-key",
)


def published_or_weak(key: str) -> str | None:
    """Why `key` must not protect a deployed process, or None if it may."""
    lowered = key.lower()
    for marker in PUBLISHED_MARKERS:
        if marker in lowered:
            return f"it contains {marker!r}, so it is (or looks like) a published placeholder"
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return f"it is shorter than {MIN_LENGTH} characters or has fewer than {MIN_DISTINCT_CHARACTERS} distinct ones"
    return None


def _read_key_file(path: Path) -> str:
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o600)  # a copy or an old umask opened it up; nobody but the owner needs it
    return path.read_text().strip()


def _create_key_file(path: Path) -> None:
    """Write a new random key to `path` unless a concurrent process got there first (its key then wins).

    Written whole to a private temporary file and linked into place: a reader never sees a half-written
    key, and a link fails if the name exists, so two processes starting together end up with one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w") as tmp:
            tmp.write(get_random_secret_key() + "\n")
        with contextlib.suppress(FileExistsError):  # another process's key is in place: it wins
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)


def load_or_create(data_dir: Path) -> str:
    """The key kept in `data_dir`, made on first use."""
    path = data_dir / KEY_FILE_NAME
    try:
        if not path.exists():
            _create_key_file(path)
        return _read_key_file(path)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"No SECRET_KEY is set and the key file {path} cannot be created or read ({exc}). "
            "Set SECRET_KEY, or DATA_DIR to a writable folder (a volume, so that the key survives restarts)."
        ) from exc


def resolve(*, from_environment: str | None, data_dir: Path, debug: bool) -> str:
    """SECRET_KEY for this process: the environment's if set, else the data folder's; refused if published.

    With DEBUG on (development) a weak key set on purpose is let through.
    """
    key = (from_environment or "").strip()
    origin = "SECRET_KEY in the environment"
    if not key:
        key = load_or_create(data_dir)
        origin = f"the key file {data_dir / KEY_FILE_NAME}"
    problem = None if debug else published_or_weak(key)
    if problem:
        raise ImproperlyConfigured(
            f"Refusing to start with DEBUG off: {origin} is not safe to use because {problem}. "
            "Unset SECRET_KEY to have one generated into DATA_DIR on first start, or set a random one, e.g. "
            "`python -c 'from django.core.management.utils import get_random_secret_key as k; print(k())'`."
        )
    return key
