"""Quick, Draw! downloads against a local fake of Google's bucket (loopback only, real file formats).

The fake (tests.fake_storage) serves a `.bin` file encoded here in the dataset's binary
format from real drawings of the shared sample, and the sample's ndjson files themselves.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fake_storage import BUCKET, FakeBucket, running_bucket
from training import download
from training.download import DownloadError, QuickDrawDownloadSource, cache_path, download_file, quickdraw_url

SHARED_SIMPLIFIED = Path(__file__).resolve().parents[2] / "shared" / "quickdraw" / "simplified"


def read_records(category: str, n: int) -> list[dict]:
    with open(SHARED_SIMPLIFIED / f"{category}.ndjson", encoding="utf-8") as fh:
        return [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]


def encode_binary(records: list[dict]) -> bytes:
    """The Quick, Draw! binary format (little-endian), as documented by googlecreativelab/quickdraw-dataset."""
    out = bytearray()
    for rec in records:
        strokes = rec["drawing"]
        out += struct.pack(
            "<Q2sBIH", int(rec["key_id"]), b"US", int(rec.get("recognized", True)), 1490000000, len(strokes)
        )
        for xs, ys in strokes:
            out += struct.pack("<H", len(xs)) + bytes(xs) + bytes(ys)
    return bytes(out)


@pytest.fixture
def bucket() -> Iterator[FakeBucket]:
    with running_bucket() as served:
        yield served


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `quickdraw` package must read our cache, never fetch from Google; resumes need no backoff here."""
    import quickdraw.data

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the quickdraw package tried to download {args}")

    monkeypatch.setattr(quickdraw.data, "get", refuse)
    monkeypatch.setattr(download, "RETRY_BACKOFF_SECONDS", 0.0)


@pytest.fixture
def ant_bin(bucket: FakeBucket) -> bytes:
    content = encode_binary(read_records("ant", 300))
    bucket.put("full/binary/ant.bin", content)
    return content


def test_urls_and_cache_paths_follow_google_and_the_quickdraw_package(tmp_path: Path) -> None:
    base = "https://storage.googleapis.com/quickdraw_dataset/"
    assert quickdraw_url(base, "The Eiffel Tower", "binary") == f"{base}full/binary/The%20Eiffel%20Tower.bin"
    assert quickdraw_url(base, "ant", "simplified") == f"{base}full/simplified/ant.ndjson"
    assert quickdraw_url(base, "alarm clock", "raw") == f"{base}full/raw/alarm%20clock.ndjson"
    assert cache_path(tmp_path, "alarm clock", "binary") == tmp_path / "alarm clock.bin"
    assert cache_path(tmp_path, "alarm clock", "raw") == tmp_path / "raw" / "alarm clock.ndjson"
    with pytest.raises(ValueError, match="webp"):
        quickdraw_url(base, "ant", "webp")


def test_unknown_category_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'aunt' is not a Quick, Draw! category.*'ant'"):
        QuickDrawDownloadSource(categories=["ant", "aunt"], cache_dir=tmp_path)
    source = QuickDrawDownloadSource(cache_dir=tmp_path)
    with pytest.raises(ValueError, match="not a Quick, Draw! category"):
        source.iter_category("velociraptor")
    assert len(source.categories()) == 345
    assert source.name == "quickdraw:binary"


@pytest.mark.parametrize("category", ["ant", "The Eiffel Tower"])
def test_binary_download_parses_to_the_source_drawings(bucket: FakeBucket, tmp_path: Path, category: str) -> None:
    records = read_records(category, 120)
    content = encode_binary(records)
    bucket.put(f"full/binary/{category}.bin", content)
    source = QuickDrawDownloadSource(
        categories=[category], fmt="binary", cache_dir=tmp_path, base_url=bucket.base_url, progress=False
    )

    samples = list(source.iter_category(category))

    assert [(s.word, s.key, s.drawing) for s in samples] == [(category, r["key_id"], r["drawing"]) for r in records]
    assert (tmp_path / f"{category}.bin").read_bytes() == content  # where the quickdraw package looks
    assert [r.path for r in bucket.requests] == [f"/{BUCKET}/full/binary/{category}.bin"]


def test_max_per_category_limits_the_binary_reader(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    source = QuickDrawDownloadSource(
        categories=["ant"], cache_dir=tmp_path, base_url=bucket.base_url, max_per_category=7, progress=False
    )
    assert [s.key for s in source.iter_category("ant")] == [r["key_id"] for r in read_records("ant", 7)]


def test_ndjson_download(bucket: FakeBucket, tmp_path: Path) -> None:
    content = (SHARED_SIMPLIFIED / "alarm clock.ndjson").read_bytes()
    bucket.put("full/simplified/alarm clock.ndjson", content)
    source = QuickDrawDownloadSource(
        categories=["alarm clock"], fmt="simplified", cache_dir=tmp_path, base_url=bucket.base_url, progress=False
    )

    samples = list(source.iter_category("alarm clock"))

    records = [json.loads(line) for line in content.decode().splitlines() if line.strip()]
    assert len(samples) == len(records) > 100
    assert [(s.word, s.key, s.drawing) for s in samples] == [
        ("alarm clock", r["key_id"], r["drawing"]) for r in records
    ]
    assert (tmp_path / "simplified" / "alarm clock.ndjson").read_bytes() == content
    assert source.name == "quickdraw:simplified"


def test_cut_off_download_resumes_with_a_range_request(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    url = f"{bucket.base_url}/full/binary/ant.bin"
    dest = tmp_path / "ant.bin"
    part = tmp_path / "ant.bin.part"
    bucket.cut_after = 5000
    assert len(ant_bin) > 3 * 5000

    with pytest.raises(DownloadError, match="connection") as excinfo:
        download_file(url, dest, progress=False, retries=0)
    assert url in str(excinfo.value)
    assert not dest.exists()
    kept = part.stat().st_size
    assert kept == 5000
    assert part.read_bytes() == ant_bin[:kept]

    assert download_file(url, dest, progress=False, retries=0) == dest

    assert [(r.range, r.status) for r in bucket.requests] == [(None, 200), (f"bytes={kept}-", 206)]
    assert dest.read_bytes() == ant_bin
    assert not part.exists()


def test_a_dropped_connection_is_resumed_within_one_call(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    bucket.cut_after = 1234
    dest = download_file(f"{bucket.base_url}/full/binary/ant.bin", tmp_path / "ant.bin", progress=False, retries=1)
    assert dest.read_bytes() == ant_bin
    assert [(r.range, r.status) for r in bucket.requests] == [(None, 200), ("bytes=1234-", 206)]


def test_server_ignoring_range_still_gives_a_correct_file(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    url = f"{bucket.base_url}/full/binary/ant.bin"
    dest = tmp_path / "ant.bin"
    bucket.ignore_range = True
    bucket.cut_after = 3000
    with pytest.raises(DownloadError):
        download_file(url, dest, progress=False, retries=0)
    assert (tmp_path / "ant.bin.part").stat().st_size == 3000

    download_file(url, dest, progress=False, retries=0)

    assert [(r.range, r.status) for r in bucket.requests] == [(None, 200), ("bytes=3000-", 200)]
    assert dest.read_bytes() == ant_bin  # restarted from zero, not appended to the 3000 bytes


def test_complete_part_file_is_finished_on_416(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    # The whole file arrived but the process died before the rename.
    (tmp_path / "ant.bin.part").write_bytes(ant_bin)
    dest = download_file(f"{bucket.base_url}/full/binary/ant.bin", tmp_path / "ant.bin", progress=False)
    assert dest.read_bytes() == ant_bin
    assert [(r.range, r.status) for r in bucket.requests] == [(f"bytes={len(ant_bin)}-", 416)]


def test_part_file_longer_than_the_file_starts_over(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    # A leftover from an older, bigger version of the file: appending to it could never be right.
    (tmp_path / "ant.bin.part").write_bytes(b"x" * (len(ant_bin) + 10))
    dest = download_file(f"{bucket.base_url}/full/binary/ant.bin", tmp_path / "ant.bin", progress=False, retries=0)
    assert dest.read_bytes() == ant_bin
    assert [(r.range, r.status) for r in bucket.requests] == [(f"bytes={len(ant_bin) + 10}-", 416), (None, 200)]


def test_cached_file_makes_no_request(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    source = QuickDrawDownloadSource(categories=["ant"], cache_dir=tmp_path, base_url=bucket.base_url, progress=False)
    first = [s.key for s in source.iter_category("ant")]
    assert len(bucket.requests) == 1

    bucket.files.clear()  # the bucket is gone; the cache must be enough
    again = QuickDrawDownloadSource(categories=["ant"], cache_dir=tmp_path, base_url=bucket.base_url, progress=False)
    assert [s.key for s in again.iter_category("ant")] == first
    assert download_file(f"{bucket.base_url}/full/binary/ant.bin", tmp_path / "ant.bin") == tmp_path / "ant.bin"
    assert len(bucket.requests) == 1


def test_two_trainers_wanting_the_same_file_at_once_take_turns_and_it_is_fetched_once(
    bucket: FakeBucket, tmp_path: Path, ant_bin: bytes
) -> None:
    bucket.delay = 0.5  # the first download is still under way when the second asks
    url, dest = f"{bucket.base_url}/full/binary/ant.bin", tmp_path / "cache" / "ant.bin"
    together = threading.Barrier(2)

    def trainer() -> Path:
        together.wait()
        return download_file(url, dest, progress=False)

    with ThreadPoolExecutor(2) as pool:  # separate lock handles, as in two processes (flock is per open file)
        results = list(pool.map(lambda _: trainer(), range(2)))
    assert results == [dest, dest] and dest.read_bytes() == ant_bin
    assert len(bucket.requests) == 1, "the second waited for the first and found the file"
    assert not dest.with_suffix(".bin.part").exists()


def test_http_404_raises_download_error_naming_the_url(bucket: FakeBucket, tmp_path: Path) -> None:
    source = QuickDrawDownloadSource(categories=["ant"], cache_dir=tmp_path, base_url=bucket.base_url, progress=False)
    with pytest.raises(DownloadError) as excinfo:
        source.iter_category("ant")
    message = str(excinfo.value)
    assert f"{bucket.base_url}/full/binary/ant.bin" in message
    assert "404" in message
    # No empty file that would pass for a cached download (the lock that the download took stays, empty).
    assert [p.name for p in tmp_path.iterdir()] == ["ant.bin.lock"] and not (tmp_path / "ant.bin.lock").stat().st_size
    assert len(bucket.requests) == 1  # an HTTP error is not retried


def test_progress_bar_goes_to_stderr(
    bucket: FakeBucket, tmp_path: Path, ant_bin: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    download_file(f"{bucket.base_url}/full/binary/ant.bin", tmp_path / "ant.bin", progress=True)
    captured = capsys.readouterr()
    assert "ant.bin" in captured.err
    assert captured.out == ""


# --- at scale: streaming, a corrupt file, the train command's download ------------------------------------------


def test_a_category_streams_drawing_by_drawing_never_whole_in_memory(bucket: FakeBucket, tmp_path: Path) -> None:
    import tracemalloc

    records = read_records("ant", 200) * 25  # 5,000 drawings
    bucket.put("full/binary/ant.bin", encode_binary(records))
    source = QuickDrawDownloadSource(categories=["ant"], cache_dir=tmp_path, base_url=bucket.base_url, progress=False)
    source.download("ant")

    tracemalloc.start()
    try:
        count = sum(1 for _ in source.iter_category("ant"))
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        held = list(source.iter_category("ant"))
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(held) == 5000
    assert streaming_peak * 20 < whole_peak, (streaming_peak, whole_peak)


def test_per_class_bounds_how_far_a_category_is_read(bucket: FakeBucket, tmp_path: Path, ant_bin: bytes) -> None:
    from training.download import drawings_to_read
    from training.sources import make_source

    source = make_source(
        specs=["quickdraw"], categories=["ant"], per_class=20, cache_dir=tmp_path, base_url=bucket.base_url
    )
    limit = drawings_to_read(20)
    assert 20 / 0.9 < limit < 60 and source.max_per_category == limit
    assert len(list(source.iter_category("ant"))) == limit


@pytest.mark.parametrize("damage", ["truncated", "garbage", "bad_json"])
def test_a_corrupt_file_is_a_clear_error_leaves_the_cache_and_is_fetched_again(
    bucket: FakeBucket, tmp_path: Path, damage: str
) -> None:
    from training.download import CorruptDownload

    fmt = "simplified" if damage == "bad_json" else "binary"
    key = "full/simplified/ant.ndjson" if fmt == "simplified" else "full/binary/ant.bin"
    good = (
        (SHARED_SIMPLIFIED / "ant.ndjson").read_bytes()
        if fmt == "simplified"
        else encode_binary(read_records("ant", 50))
    )
    bad = {
        "truncated": good[: len(good) - 7],
        "garbage": good[:400] + b"\xff" * 300,
        "bad_json": good[:2000].rsplit(b"\n", 1)[0] + b'\n{"word": "ant", "drawing": [[[1, 2]\n',
    }[damage]
    bucket.put(key, bad)
    source = QuickDrawDownloadSource(
        categories=["ant"], fmt=fmt, cache_dir=tmp_path, base_url=bucket.base_url, progress=False
    )
    with pytest.raises(CorruptDownload) as excinfo:
        list(source.iter_category("ant"))
    message = str(excinfo.value)
    assert "is corrupt" in message and f"{bucket.base_url}/{key}" in message and "download it anew" in message
    assert not cache_path(tmp_path, "ant", fmt).exists(), "a corrupt file does not stay in the cache"

    bucket.put(key, good)  # the next run fetches it again and reads it whole
    assert len(list(source.iter_category("ant"))) == (50 if fmt == "binary" else len(good.splitlines()))
    assert [r.path for r in bucket.requests] == [f"/{BUCKET}/{key}"] * 2


def test_train_downloads_every_category_one_by_one_resuming_a_cut_one(
    bucket: FakeBucket, tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train --source quickdraw --categories all --per-class N`, with "all" three categories here."""
    from django.core.management import call_command

    names = ["ant", "apple", "The Eiffel Tower"]
    monkeypatch.setattr(download, "QUICK_DRAWING_NAMES", names)
    contents = {name: encode_binary(read_records(name, 120)) for name in names}
    for name, content in contents.items():
        bucket.put(f"full/binary/{name}.bin", content)
    settings.QUICKDRAW_CACHE_DIR = tmp_path / "cache"
    settings.QUICKDRAW_BASE_URL = bucket.base_url
    bucket.cut_after = 2000  # the first file's connection drops part-way

    call_command("train", "--source", "quickdraw", "--categories", "all", "--per-class", "10000", "--download-only")

    out, err = capsys.readouterr()
    assert "3 Quick, Draw! files in the cache" in out
    assert "categories: 100%" in err and "3/3" in err, err[-2000:]
    for name, content in contents.items():
        assert (tmp_path / "cache" / f"{name}.bin").read_bytes() == content
    assert [(r.path.rsplit("/", 1)[1], r.range) for r in bucket.requests] == [
        ("The Eiffel Tower.bin", None),
        ("The Eiffel Tower.bin", "bytes=2000-"),
        ("ant.bin", None),
        ("apple.bin", None),
    ]

    bucket.requests.clear()
    call_command("train", "--source", "quickdraw", "--categories", "all", "--download-only")
    assert bucket.requests == [], "a cached file is never fetched again"
