"""Preprocessing, the one rasterizer, the LiteRT classifier and hot swapping."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from inference import raster
from inference.classifier import Classifier, ModelFileError
from inference.raster import CHANNELS, ORDER_FLOOR, SIZE, order_value, rasterize
from inference.recognize import recognize
from inference.strokes import GrowingDrawing, StrokeError, is_simplified, simplify, turned
from tests.conftest import read_drawings


def _rdp_keep(p: np.ndarray, epsilon: float) -> np.ndarray:
    """Ramer-Douglas-Peucker over one stroke's (n, 2) points, the textbook way: a mask of the points kept."""
    keep = np.zeros(len(p), dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, len(p) - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        chord, inner = p[last] - p[first], p[first + 1 : last] - p[first]
        norm = np.hypot(*chord)
        d = np.hypot(*inner.T) if norm == 0 else np.abs(chord[1] * inner[:, 0] - chord[0] * inner[:, 1]) / norm
        i = first + 1 + int(d.argmax())
        if d.max() > epsilon:
            keep[i] = True
            spans += [(first, i), (i, last)]
    return keep


SHIPPED = Path(__file__).resolve().parent.parent / "inference" / "shipped_model"


def reference_simplify(drawing):
    """The published recipe written the slow, obvious way: every 1-pixel resampled point, then RDP."""
    strokes = [np.array([s[0], s[1]], float).T for s in drawing if len(s[0])]
    allpts = np.concatenate(strokes)
    lo = allpts.min(0)
    extent = (allpts.max(0) - lo).max()
    scale = 255 / extent if extent > 0 else 1
    out = []
    for p in strokes:
        p = (p - lo) * scale
        p = p[np.concatenate(([True], np.any(p[1:] != p[:-1], axis=1)))]
        if len(p) > 1:
            seg = np.hypot(*np.diff(p, axis=0).T)
            d = np.concatenate(([0], np.cumsum(seg)))
            at = np.arange(0, d[-1], 1.0)
            if d[-1] - at[-1] > 1e-9:
                at = np.append(at, d[-1])
            p = np.column_stack((np.interp(at, d, p[:, 0]), np.interp(at, d, p[:, 1])))
        if len(p) > 2:
            p = p[_rdp_keep(p, 2.0)]
        p = np.round(p)
        p = p[np.concatenate(([True], np.any(p[1:] != p[:-1], axis=1)))]
        out.append(p)
    return out


def as_raw(drawing, scale=3.3, dx=57.25, dy=12.5, densify=4):
    """A simplified drawing turned back into raw canvas strokes: another scale, offset, more points, timing."""
    raw, t = [], 0
    for xs, ys in drawing:
        xs, ys = np.asarray(xs, float), np.asarray(ys, float)
        if len(xs) > 1:
            u = np.linspace(0, len(xs) - 1, (len(xs) - 1) * densify + 1)
            xs, ys = np.interp(u, np.arange(len(xs)), xs), np.interp(u, np.arange(len(ys)), ys)
        ts = list(range(t, t + 16 * len(xs), 16))
        t = ts[-1] + 200
        raw.append([list(xs * scale + dx), list(ys * scale + dy), ts])
    return raw


def copy_of_shipped(folder: Path) -> Path:
    """A second model folder holding the shipped model and labels (to register as another version)."""
    import shutil

    folder.mkdir()
    for name in ("model.tflite", "labels.txt"):
        shutil.copy(SHIPPED / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def drawings():
    return [d["drawing"] for c in ("cat", "airplane", "The Eiffel Tower", "snowflake") for d in read_drawings(c, 10)]


def test_fast_simplify_matches_the_published_recipe(shared_quickdraw):
    """Simplified files, raw canvas versions of them (resampling does real work there), single points, long strokes."""
    rng = np.random.default_rng(3)
    files = sorted(shared_quickdraw.glob("*.ndjson"))[::30]  # 12 categories, 480 cases: the reference is slow
    same = checked = 0
    for path in files:
        for d in [json.loads(line)["drawing"] for line in path.read_text().splitlines()[:10]]:
            for case in (
                d,
                as_raw(d, scale=rng.uniform(0.5, 4), dx=rng.uniform(-50, 400), densify=1),
                as_raw(d, densify=12),
                [[s[0][:1], s[1][:1]] for s in d],
            ):
                same += all(np.array_equal(a, b) for a, b in zip(simplify(case), reference_simplify(case), strict=True))
                checked += 1
    # Ties between equally distant points may break differently; nearly all must be identical.
    assert checked == len(files) * 10 * 4 and same >= 0.95 * checked
    for d in [json.loads(line)["drawing"] for line in files[0].read_text().splitlines()[:10]]:
        # Strokes as NumPy arrays (training's augmented drawings come so) read as the same numbers in lists.
        as_arrays = [[np.asarray(xs, float), np.asarray(ys, float)] for xs, ys in d]
        assert all(np.array_equal(a, b) for a, b in zip(simplify(as_arrays), simplify(d), strict=True))
        assert all(np.array_equal(a, b) for a, b in zip(GrowingDrawing().simplify(as_arrays), simplify(d), strict=True))
    huge = [[[1e308, 1.7e308], [0.0, 1.0]]]  # finite coordinates whose extent is near overflow: still readable
    assert [p.tolist() for p in simplify(huge)] == [[[0.0, 0.0], [255.0, 0.0]]]


def _versions(drawing: list) -> list[list]:
    """What a drawer sends, in order: each stroke a third and two thirds in, then whole; an undo and a clear."""
    versions = []
    for i, stroke in enumerate(drawing):
        n = len(stroke[0])
        for part in (n // 3, 2 * n // 3):
            if part:
                versions.append([*drawing[:i], [stroke[0][:part], stroke[1][:part]]])
        versions.append(list(drawing[: i + 1]))
    return [*versions, drawing[:-1], [], drawing[:1], [*drawing[:1], [[], []], *drawing[1:2]]]


def test_a_growing_drawing_simplifies_each_version_exactly_as_a_whole_pass(shared_quickdraw):
    """Live drawings reuse their unchanged strokes' simplification: not a single point may differ."""
    rng = np.random.default_rng(5)
    files = sorted(shared_quickdraw.glob("*.ndjson"))[::23]
    reused = checked = 0
    for path in files:
        for d in [json.loads(line)["drawing"] for line in path.read_text().splitlines()[:8]]:
            raw = as_raw(d, scale=rng.uniform(1, 4), dx=rng.uniform(0, 300), densify=int(rng.integers(1, 6)))
            growing = GrowingDrawing()
            for version in _versions(raw):
                got = growing.simplify(version)
                want = simplify(version)
                assert len(got) == len(want)
                assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(got, want, strict=True))
                reused += growing.reused > 0
                checked += 1
    assert checked > 1000
    assert reused > checked // 5  # many versions did reuse strokes (the bounding box stayed put)


def test_a_growing_drawing_refuses_unreadable_strokes_and_recovers():
    growing = GrowingDrawing()
    line = [list(range(0, 200, 2)), list(range(0, 200, 2))]
    first = growing.simplify([line])
    with pytest.raises(StrokeError):
        growing.simplify([line, [[1.0, float("nan")], [2.0, 3.0]]])
    assert all(np.array_equal(a, b) for a, b in zip(growing.simplify([line]), first, strict=True))
    second = growing.simplify([line, [[10.0, 20.0], [30.0, 40.0]]])
    assert all(
        np.array_equal(a, b) for a, b in zip(second, simplify([line, [[10.0, 20.0], [30.0, 40.0]]]), strict=True)
    )


@pytest.mark.parametrize("route", ["whole", "growing"])
@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ([[[1.0, float("nan")], [2.0, 3.0]]], "finite"),
        ([[[1.0, 2.0], [float("inf"), 3.0]]], "finite"),
        ([[[0.0, 1.0], [2.0, 3.0]], [[float("-inf")], [3.0]]], "finite"),  # in a later stroke
        ([[[1.0, "x"], [2.0, 3.0]]], "must be numbers"),
        ([[[1.0, 2.0], [3.0]]], "differ in length"),
        ([[[1.0, 2.0]]], "x and y"),
        ([[[-1.7e308, 1.7e308], [0.0, 1.0]]], "too far"),  # finite, but its width is not: it cannot be scaled
        ([[[[1.0], [2.0]], [[3.0], [4.0]]]], "must be numbers"),
        ([[1.0, 2.0]], "must be numbers"),
    ],
)
def test_both_routes_refuse_unreadable_strokes(route, bad, says):
    with pytest.raises(StrokeError, match=says):
        (simplify if route == "whole" else GrowingDrawing().simplify)(bad)


def test_simplified_drawing_is_the_sequence_of_its_non_empty_strokes(drawings):
    d = drawings[0]
    with_gap = simplify([d[0], [[], []], *d[1:]])  # a stroke without points keeps none and is not listed
    plain = simplify(d)
    assert len(with_gap) == len(plain) == len(d) and with_gap
    assert all(np.array_equal(a, b) for a, b in zip(with_gap, plain, strict=True))
    assert np.array_equal(with_gap[-1], plain[len(d) - 1]) and np.array_equal(
        with_gap[0], with_gap.points[: len(with_gap[0])]
    )
    assert [len(s) for s in with_gap[1:]] == [len(s) for s in list(plain)[1:]]
    for empty in (simplify([]), simplify([[[], []], [[], []]])):
        assert not empty and len(empty) == 0 and list(empty) == []


def test_simplify_output_is_the_simplified_format(drawings):
    for d in drawings:
        strokes = simplify(as_raw(d))
        pts = np.concatenate(strokes)
        assert pts.min() == 0 and 250 <= pts.max() <= 255  # like Google's files, resampling may stop short of 255
        assert np.array_equal(pts, np.round(pts))
    assert is_simplified(simplify_to_lists(simplify(drawings[0])))
    assert not is_simplified(as_raw(drawings[0]))


def test_a_turned_drawing_is_the_simplified_drawing_of_its_turned_strokes(drawings):
    line = simplify([[[0, 100, 200], [50, 50, 50]]])  # a horizontal line ...
    upright = turned(line, 90)  # ... stands up, aligned and scaled like any drawing
    assert np.array_equal(upright.points[:, 0], [0, 0]) and sorted(upright.points[:, 1]) == [0, 255]
    for d in drawings[:5]:
        strokes = simplify(d)
        assert np.array_equal(turned(strokes, 0).points, simplify(simplify_to_lists(strokes)).points)
        angle = np.radians(10)
        by_hand = [
            [s[:, 0] * np.cos(angle) - s[:, 1] * np.sin(angle), s[:, 0] * np.sin(angle) + s[:, 1] * np.cos(angle)]
            for s in strokes
        ]
        ten = turned(strokes, 10)
        assert np.array_equal(ten.points, simplify([[x.tolist(), y.tolist()] for x, y in by_hand]).points)
        assert not np.array_equal(ten.points, strokes.points) and ten.points.min() == 0 and ten.points.max() > 250


def simplify_to_lists(strokes):
    return [[s[:, 0].tolist(), s[:, 1].tolist()] for s in strokes]


def test_raw_and_simplified_give_the_same_image(drawings):
    for d in drawings:
        a = rasterize(simplify(d)).astype(int)
        b = rasterize(simplify(as_raw(d))).astype(int)
        assert np.abs(a - b).mean() < 2.0, "raw canvas strokes must look like their simplified twin"


def test_already_simplified_drawings_pass_through_nearly_unchanged(drawings):
    for d in drawings:
        again = simplify(d)
        assert len(again) == len(d)
        assert abs(sum(map(len, again)) - sum(len(xs) for xs, _ in d)) <= 0.15 * sum(len(xs) for xs, _ in d) + 2
        original = [np.array([xs, ys], float).T for xs, ys in d]
        # Google's files often span 0-251 rather than 0-255, so the image may be a few percent larger.
        assert np.abs(rasterize(again).astype(int) - rasterize(original).astype(int)).mean() < 8.0


def test_rasterizer_is_deterministic_centred_and_antialiased(drawings):
    img = rasterize(simplify(drawings[0]))
    assert img.shape == (SIZE, SIZE) and img.dtype == np.uint8
    assert np.array_equal(img, rasterize(simplify(drawings[0])))
    assert len(np.unique(img)) > 0 and len(np.unique(img)) > 3, "edges are grey: antialiased"
    # A horizontal line sits in the vertical middle.
    line = rasterize([np.array([[0.0, 0.0], [255.0, 0.0]])])
    rows = np.nonzero(line.sum(axis=1))[0]
    assert abs(rows.mean() - (SIZE - 1) / 2) <= 1.0
    assert rasterize([]).sum() == 0
    dot = rasterize([np.array([[10.0, 10.0]])])
    assert dot.sum() > 0


def pillow_rasterize(strokes, channels):
    """The rasterizer as it was first written, with Pillow (every model so far learnt from its pictures): each
    stroke one ImageDraw.line (a dot: ImageDraw.ellipse) on the 112x112 canvas, then Image.reduce(4)."""
    strokes = [s for s in strokes if len(s)]
    image = Image.new("L" if channels == 1 else "RGB", (raster.CANVAS_SIZE, raster.CANVAS_SIZE), 0)
    if strokes:
        points = np.concatenate(strokes)
        flat = (points * raster.CANVAS_SCALE + raster.canvas_shift(points.min(0), points.max(0))).ravel().tolist()
        draw, at, last, radius = (
            ImageDraw.Draw(image),
            0,
            len(strokes) - 1,
            raster.LINE_WIDTH_256 * raster.CANVAS_SCALE / 2,
        )
        for i, stroke in enumerate(strokes):
            fill = 255 if channels == 1 else (255, order_value(i), order_value(last - i))
            xy = flat[at : at + 2 * len(stroke)]
            if len(stroke) == 1:
                draw.ellipse((xy[0] - radius, xy[1] - radius, xy[0] + radius, xy[1] + radius), fill=fill)
            else:
                draw.line(xy, fill=fill, width=round(2 * radius))
            at += 2 * len(stroke)
    return np.asarray(image.reduce(raster.SUPERSAMPLE))


def test_the_compiled_rasterizer_draws_pillows_pictures_to_the_bit(shared_quickdraw):
    """Two drawings of every category (as stored, their first half, with a stroke without points, moved off the
    integer grid), and random strokes with dots, repeated points and points off the square (clipped at the
    canvas' edge), in both kinds of image; simplify's own result (read as it is) and plain lists of strokes."""
    rng = np.random.default_rng(5)
    cases = []
    for path in sorted(shared_quickdraw.glob("*.ndjson")):
        for d in read_drawings(path.stem, 2):
            strokes = simplify(d["drawing"])
            cases += [strokes, simplify(d["drawing"][: max(1, len(d["drawing"]) // 2)])]
            cases.append(simplify([d["drawing"][0], [[], []], *d["drawing"][1:]]))  # a stroke without points
            cases.append([s * rng.uniform(0.3, 1.0) + rng.uniform(0, 1, s.shape) for s in strokes])
    for i in range(1500):
        strokes = [rng.uniform(*((-80, 340) if i % 2 else (0, 255)), (int(rng.integers(1, 8)), 2)) for _ in range(3)]
        strokes[0][-1] = strokes[0][0]
        cases.append([np.round(s) for s in strokes] if i % 3 == 0 else strokes)
    differ = [
        i
        for i, strokes in enumerate(cases)
        for channels in (1, CHANNELS)
        if not np.array_equal(rasterize(strokes, channels), pillow_rasterize(strokes, channels))
    ]
    assert len(cases) > 4000 and differ == []


def test_stroke_order_channels_come_from_the_same_pass(drawings):
    """Channel 0 is the ink image to the bit; channel 1 fades from the first stroke, channel 2 from the last."""
    for d in drawings:
        strokes = simplify(d)
        rich = rasterize(strokes, CHANNELS)
        assert rich.shape == (SIZE, SIZE, CHANNELS) and rich.dtype == np.uint8
        assert np.array_equal(rich[..., 0], rasterize(strokes))
        assert (rich[..., 1:] <= rich[..., :1]).all(), "order is drawn only where there is ink"
    left, right = np.array([[0.0, 0.0], [0.0, 255.0]]), np.array([[255.0, 0.0], [255.0, 255.0]])
    rich = rasterize([left, right, np.array([[128.0, 128.0]])], CHANNELS).astype(int)
    for region, (order, recency) in ((rich[:, :10], (0, 2)), (rich[:, 18:], (1, 1)), (rich[:, 12:16], (2, 0))):
        y, x = np.unravel_index(region[..., 0].argmax(), region.shape[:2])
        ink, got = region[y, x, 0], region[y, x, 1:]
        # Antialiased edges scale every channel by the same coverage.
        assert ink > 100 and np.abs(got - ink * np.array([order_value(order), order_value(recency)]) / 255).max() <= 1
    assert order_value(50) == ORDER_FLOOR > 0, "a long drawing's later strokes stay visible"
    assert rasterize([], CHANNELS).shape == (SIZE, SIZE, CHANNELS)
    with pytest.raises(ValueError):
        rasterize([left], 2)
    for bad in ([[np.nan, 0.0]], [[0.0, np.nan]], [[1.0, 1.0], [5.0, np.inf]], [[-1e300, 0.0]]):
        with pytest.raises(ValueError, match="finite"):  # refused, not drawn as overflowed pixels
            rasterize([left, np.array(bad)], CHANNELS)


def test_the_shipped_model_reads_stroke_order_and_refuses_ink_alone(drawings):
    """The shipped model reads (ink, order, recency); the order changes its answer. One-channel models (earlier
    versions) read the ink of the same image: tests/test_training.py checks that on a trained one."""
    labels = [x for x in (SHIPPED / "labels.txt").read_text().splitlines() if x]
    clf = Classifier(SHIPPED / "model.tflite", labels)
    assert clf.channels == CHANNELS
    for d in drawings[:5]:
        strokes = simplify(d)
        image = rasterize(strokes, CHANNELS)
        reversed_order = rasterize(strokes[::-1], CHANNELS)
        assert len(strokes) > 1 and np.array_equal(image[..., 0], reversed_order[..., 0]), "the same ink"
        assert not np.allclose(clf.probabilities(image), clf.probabilities(reversed_order), atol=1e-4), "order counts"
        with pytest.raises(ValueError):
            clf.probabilities(rasterize(strokes))


@pytest.mark.parametrize(
    "bad",
    [[[[1, 2], [3]]], [[["a"], [1]]], [[[float("nan")], [1.0]]], [[[1.0]]]],
)
def test_unreadable_strokes_raise_stroke_error(bad):
    with pytest.raises(StrokeError):
        simplify(bad)


def test_classifier_top_k_sorted_probabilities():
    labels = (SHIPPED / "labels.txt").read_text().split("\n")
    clf = Classifier(SHIPPED / "model.tflite", [x for x in labels if x])
    d = read_drawings("cat", 1)[0]["drawing"]
    top = recognize(d, clf, k=3)
    assert len(top) == 3
    assert top[0].probability >= top[1].probability >= top[2].probability
    assert all(g.label in clf.labels for g in top)
    assert abs(clf.probabilities(rasterize(simplify(d), clf.channels)).sum() - 1.0) < 1e-3


def test_classifier_refuses_missing_corrupt_or_mismatched_files(tmp_path):
    labels = [x for x in (SHIPPED / "labels.txt").read_text().splitlines() if x]
    with pytest.raises(ModelFileError):
        Classifier(tmp_path / "missing.tflite", labels)
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelFileError):
        Classifier(corrupt, labels)
    with pytest.raises(ModelFileError):
        Classifier(SHIPPED / "model.tflite", labels[:-1])


def test_classifier_is_safe_under_concurrency(drawings):
    labels = [x for x in (SHIPPED / "labels.txt").read_text().splitlines() if x]
    clf = Classifier(SHIPPED / "model.tflite", labels)
    images = [rasterize(simplify(d), clf.channels) for d in drawings]
    expected = [clf.probabilities(im) for im in images]
    errors: list[str] = []

    def work(offset: int):
        for i in range(200):
            k = (i + offset) % len(images)
            if not np.allclose(clf.probabilities(images[k]), expected[k], atol=1e-6):
                errors.append(f"thread {offset} image {k}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.django_db(transaction=True)
def test_hot_swap_reaches_the_live_model_within_a_second_during_concurrent_classification(tmp_path, drawings):
    """Activate another version while threads classify: they switch without an error or a restart."""
    from inference import live
    from inference.services import activate_model_version, ensure_default_model, register_model_version

    first = ensure_default_model()
    second = register_model_version(name="other", model_dir=copy_of_shipped(tmp_path / "other"))
    model = live.LiveModel()
    model.refresh()
    assert model.version_id == first.pk
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[int | None] = set()
    images = [rasterize(simplify(d), CHANNELS) for d in drawings]  # read by models of any kind

    def work():
        try:
            while not stop.is_set():
                for im in images:
                    model.classifier().probabilities(im)
                    seen.add(model.version_id)
        except BaseException as exc:  # noqa: BLE001 - any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    activate_model_version(version=second, by="test")
    t0 = time.monotonic()
    while model.version_id != second.pk and time.monotonic() - t0 < 3:
        time.sleep(0.02)
    switched_after = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert model.version_id == second.pk and switched_after < 1.0
    assert {first.pk, second.pk} <= seen


@pytest.mark.django_db
def test_a_missing_or_corrupt_active_model_never_stops_the_ai(tmp_path, drawings):
    """At start-up the shipped default serves; at a swap the last good model keeps serving."""
    from inference import live
    from inference.models import ModelVersion
    from inference.services import ensure_default_model, register_model_version

    good = ensure_default_model()
    bad_dir = copy_of_shipped(tmp_path / "bad")
    bad = register_model_version(name="soon broken", model_dir=bad_dir)
    (bad_dir / "model.tflite").write_bytes(b"corrupted on disk")
    image = rasterize(simplify(drawings[0]), CHANNELS)  # read by models of any kind
    # A process starting while the active file is corrupt.
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=bad.pk).update(is_active=True)
    fresh = live.LiveModel()
    assert fresh.classifier().probabilities(image).shape == (345,) and fresh.version_id is None  # the shipped default
    # A running process when the active version goes bad: it keeps the last good one.
    running = live.LiveModel()
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=good.pk).update(is_active=True)
    running.refresh()
    assert running.version_id == good.pk
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=bad.pk).update(is_active=True)
    running.refresh()
    assert running.version_id == good.pk and running.classifier().probabilities(image).shape == (345,)
    (bad_dir / "model.tflite").unlink()
    running.refresh()
    assert running.version_id == good.pk


@pytest.mark.django_db
def test_a_release_with_a_new_shipped_model_registers_it_and_replaces_a_live_old_default(tmp_path, settings):
    """The shipped files live in the checkout: an upgrade overwrites them, `migrate` notices, nothing is lost."""
    import json as json_module
    import shutil

    from inference.models import ModelVersion
    from inference.services import activate_model_version, ensure_default_model, register_model_version

    shipped_dir = tmp_path / "shipped"
    shutil.copytree(SHIPPED, shipped_dir, ignore=shutil.ignore_patterns("*.png", "report.json"))
    settings.SHIPPED_MODEL_DIR = shipped_dir
    settings.MODEL_STORE_DIR = tmp_path / "store"
    ModelVersion.objects.all().delete()
    old = ensure_default_model()
    assert old.is_shipped_default and old.is_active
    assert ensure_default_model().pk == old.pk, "nothing changed: no new row"
    assert ModelVersion.objects.count() == 1

    # The release: new files in place of the old ones (here: other metrics).
    metrics = json_module.loads((shipped_dir / "metrics.json").read_text())
    (shipped_dir / "metrics.json").write_text(json_module.dumps({**metrics, "top1": 0.99}))
    new = ensure_default_model()
    old.refresh_from_db()
    assert new.pk != old.pk and new.is_active and new.is_shipped_default and new.metrics["top1"] == 0.99
    assert not old.is_shipped_default and not old.is_active and "replaced by version" in old.name
    # Every shipped version keeps its own copy in the model store: the old one can be rolled back to.
    store = Path(settings.MODEL_STORE_DIR).resolve()
    assert old.path.resolve().is_relative_to(store) and new.path.resolve().is_relative_to(store)
    assert old.path != new.path and old.path.is_file() and not Path(old.file_path).is_absolute()
    assert activate_model_version(version=old, by="test").live
    activate_model_version(version=new, by="test")

    # An admin's own model stays live through the next release.
    mine = register_model_version(name="mine", model_dir=copy_of_shipped(tmp_path / "mine"))
    activate_model_version(version=mine, by="admin")
    (shipped_dir / "metrics.json").write_text(json_module.dumps({**metrics, "top1": 0.98}))
    assert ensure_default_model().pk == mine.pk
    newest = ModelVersion.objects.get(is_shipped_default=True)
    assert newest.metrics["top1"] == 0.98 and not newest.is_active
