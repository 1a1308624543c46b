"""The process's live classifier, hot-swapped when another model version is activated.

Each process (web or inference worker) asks the database at most every
SWAP_CHECK_SECONDS which version is active, so an activation reaches every
worker within a second, with no restart and no message bus. If the newly
active file fails to load, the last good model keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from django.conf import settings

from inference.classifier import Classifier, ModelFileError

log = logging.getLogger(__name__)

SWAP_CHECK_SECONDS = 0.5


class LiveModel:
    def __init__(self) -> None:
        self._classifier: Classifier | None = None
        self._version_id: int | None = None
        self._checked_at = 0.0
        self._failed_id: int | None = None  # a version that would not load: not retried every tick
        self._lock = threading.Lock()

    @property
    def version_id(self) -> int | None:
        return self._version_id

    @property
    def loaded(self) -> bool:
        return self._classifier is not None

    def refresh_due(self) -> bool:
        return self._classifier is None or time.monotonic() - self._checked_at >= SWAP_CHECK_SECONDS

    def refresh(self) -> None:
        """Sync: look up the active version and load it if it changed (call off the event loop)."""
        from inference.selectors import active_model_version

        with self._lock:
            self._checked_at = time.monotonic()
            version = active_model_version()
            if version is None:
                if self._classifier is None:
                    self._load_shipped_default()
                return
            if (version.pk == self._version_id or version.pk == self._failed_id) and self._classifier is not None:
                return
            try:
                self._classifier = Classifier(version.path, version.labels)
                self._version_id, self._failed_id = version.pk, None
                log.info("live model is now %s", version)
            except ModelFileError as exc:
                self._failed_id = version.pk
                log.error("cannot switch to %s, keeping the last good model: %s", version, exc)
                if self._classifier is None:
                    self._load_shipped_default()

    def _load_shipped_default(self) -> None:
        from inference.model_store import LABELS_FILE, MODEL_FILE, read_labels

        folder = Path(settings.SHIPPED_MODEL_DIR)
        self._classifier = Classifier(folder / MODEL_FILE, read_labels(folder / LABELS_FILE))
        self._version_id = None

    def classifier(self) -> Classifier:
        """The live classifier; sync callers (database thread, commands) refresh it here when due,
        the inference consumer refreshes it from its own task."""
        if self._classifier is None or (self.refresh_due() and not _in_event_loop()):
            self.refresh()
        assert self._classifier is not None
        return self._classifier


def _in_event_loop() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


live_model = LiveModel()
