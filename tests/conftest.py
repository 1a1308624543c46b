"""Shared fixtures. Real parts wherever users have real parts (see README: Tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The session's real server, defined here once: a fixture imported into a test module is that module's own,
# so every module that imported it started a "session" server of its own (8 of them in a full run).
from tests.live_server import live_server_url  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
SHARED_QUICKDRAW = REPO.parent / "shared" / "quickdraw" / "simplified"


def pytest_report_header(config) -> str:
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


# The files whose tests take minutes (real training workers, browsers, whole games over real servers).
# `make test` runs the suite on two pytest-xdist workers, a file at a time each: these start first,
# so that no long file begins last while the other worker sits idle.
LONG_FILES = (
    "test_jobs.py",
    "test_job_recovery.py",
    "test_admin_browser.py",
    "test_multiprocess.py",
    "test_simulate_game.py",
    "test_live_commands.py",
    "test_frame_limits.py",
    "test_training.py",
    "test_browser_modes.py",
    "test_browser_playtest.py",
    "test_slow_readers.py",
    "test_model_swaps.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order


def read_drawings(category: str, n: int = 5) -> list[dict]:
    with open(SHARED_QUICKDRAW / f"{category}.ndjson") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


@pytest.fixture
def shared_quickdraw() -> Path:
    if not SHARED_QUICKDRAW.is_dir():
        pytest.fail(f"the shared Quick, Draw! sample is missing at {SHARED_QUICKDRAW}")
    return SHARED_QUICKDRAW


def with_moved_biases(model_bytes: bytes, classes: int) -> bytes:
    """A model file's first network (without serving settings or a second network) with its last layer's biases moved: another network
    that reads and answers like it, but not the same answers. Patched in place in the file's bytes."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    from inference.serving import with_second_network, with_serving_settings

    plain = bytearray(with_second_network(with_serving_settings(model_bytes, {}), None))
    model = schema.Model.GetRootAs(bytes(plain), 0)
    graph = model.Subgraphs(0)
    tensors = [graph.Tensors(i) for i in range(graph.TensorsLength())]
    candidates = [
        model.Buffers(t.Buffer()).DataAsNumpy()
        for t in tensors
        if t.ShapeAsNumpy().tolist() == [classes] and t.Type() == schema.TensorType.FLOAT32
    ]
    (bias,) = [b for b in candidates if isinstance(b, np.ndarray) and b.nbytes == 4 * classes]
    at = bytes(plain).index(bias.tobytes())
    moved = np.frombuffer(bias.tobytes(), np.float32) + np.random.default_rng(0).normal(0, 1.5, classes)
    plain[at : at + bias.nbytes] = moved.astype(np.float32).tobytes()
    return bytes(plain)
