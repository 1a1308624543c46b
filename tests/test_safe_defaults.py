"""`make run` is safe to expose and works for friends on the LAN; deployed processes never run on a known key;
behind the shipped proxy a client cannot pick its own address; admin logins are throttled.

Servers are real Daphne processes started the way `make run` and docker-compose.yml start them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import path
from websockets.asyncio.client import connect
from websockets.typing import Origin

from config import hosts, secret_key
from config.urls import urlpatterns as site_urlpatterns
from tests.live_server import (
    REPO,
    SERVER_SETTINGS_FROM_SHELL,
    free_port,
    live_server,
    make_run_args,
    server_env,
)
from tests.test_admin import PASSWORD, create_user_in

OLD_DEV_DEFAULT_KEY = "dev-only-insecure-key-change-me-in-production"


def settings_of(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    """Import config.settings (what every process does first) in a fresh process with the shell's settings
    removed, then these; prints JSON."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS_FROM_SHELL}
    env.update(**env_overrides)
    code = (
        "import json, config.settings as s; "
        "print(json.dumps({'DEBUG': s.DEBUG, 'SECRET_KEY': s.SECRET_KEY, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS}))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def loaded(env_overrides: dict[str, str]) -> dict:
    done = settings_of(env_overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- DEBUG and the secret key ----------------------------------------------------------------------------


def test_by_default_debug_is_off_and_a_private_key_is_generated_once_and_kept(tmp_path):
    data = tmp_path / "data"
    first = loaded({"DATA_DIR": str(data)})
    assert first["DEBUG"] is False
    key_file = data / secret_key.KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first["SECRET_KEY"]
    assert secret_key.published_or_weak(first["SECRET_KEY"]) is None
    assert loaded({"DATA_DIR": str(data)})["SECRET_KEY"] == first["SECRET_KEY"], "every later start uses it"
    assert loaded({"DATA_DIR": str(tmp_path / "elsewhere")})["SECRET_KEY"] != first["SECRET_KEY"]
    assert loaded({"DATA_DIR": str(data), "DEBUG": "1"})["DEBUG"] is True  # `make dev`


def test_two_processes_starting_together_agree_on_one_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS_FROM_SHELL}
    env.update(DATA_DIR=str(tmp_path))
    code = "import config.settings as s; print(s.SECRET_KEY)"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    keys = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert len(keys) == 1 and keys == {(tmp_path / secret_key.KEY_FILE_NAME).read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == [secret_key.KEY_FILE_NAME], "no temporary files left behind"


def test_a_key_file_opened_to_others_is_made_private_again(tmp_path):
    key = loaded({"DATA_DIR": str(tmp_path)})["SECRET_KEY"]
    key_file = tmp_path / secret_key.KEY_FILE_NAME
    key_file.chmod(0o644)
    assert loaded({"DATA_DIR": str(tmp_path)})["SECRET_KEY"] == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "published",
    [
        "change-me",  # docker-compose.yml's old default
        OLD_DEV_DEFAULT_KEY,
        "django-insecure-" + "k3y" * 20,  # what startproject writes
        "a-random-but-short-key-9f8e7d",
        "x" * 60,
    ],
)
def test_a_deployed_process_refuses_a_published_or_weak_key_with_a_clear_message(tmp_path, published):
    done = settings_of({"SECRET_KEY": published, "DEBUG": "0", "DATA_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "Refusing to start with DEBUG off" in done.stderr and "SECRET_KEY" in done.stderr, done.stderr[-2000:]
    # A developer with DEBUG on may use anything.
    assert loaded({"SECRET_KEY": published, "DEBUG": "1", "DATA_DIR": str(tmp_path)})["SECRET_KEY"] == published


def test_a_key_file_that_cannot_be_written_stops_the_start_with_a_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = settings_of({"DATA_DIR": str(blocker / "data")})
    assert done.returncode != 0
    assert "No SECRET_KEY is set and the key file" in done.stderr and "DATA_DIR" in done.stderr, done.stderr[-2000:]


def test_the_compose_file_never_runs_on_its_default_key(tmp_path):
    compose = (REPO / "docker-compose.yml").read_text()
    default = re.search(r"SECRET_KEY:\s*\$\{SECRET_KEY:-([^}]*)\}", compose)
    assert default, "docker-compose.yml takes SECRET_KEY from the environment"
    data_dir = re.search(r"DATA_DIR:\s*(\S+)", compose)
    volumes = re.findall(r"-\s*(\w+):(\S+)", compose)
    assert data_dir and any(path == data_dir.group(1) for _, path in volumes), "the key is kept in a volume"
    # The environment compose gives every process when the operator sets no SECRET_KEY.
    settings = loaded({"SECRET_KEY": default.group(1), "DEBUG": "0", "DATA_DIR": str(tmp_path)})
    assert secret_key.published_or_weak(settings["SECRET_KEY"]) is None
    assert settings["SECRET_KEY"] == (tmp_path / secret_key.KEY_FILE_NAME).read_text().strip()


# --- make run / make dev ----------------------------------------------------------------------------------


def make_dry_run(target: str, **variables: str) -> list[str]:
    # --no-print-directory: under `make test` this make is a sub-make, which would end with "Leaving directory".
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target, *(f"{k}={v}" for k, v in variables.items())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_make_run_starts_the_tested_server_command_and_make_dev_has_debug_and_autoreload():
    run = make_dry_run("run", HOST="0.0.0.0", PORT="8123")
    worker, server = run[-1].rsplit(";", 1)  # the training worker runs beside the server, stopped with it
    assert "training_worker" in worker and server.split() == [".venv/bin/python", *make_run_args("0.0.0.0", 8123)]
    assert any("migrate" in line for line in run), "make run still migrates"
    dev = make_dry_run("dev", HOST="127.0.0.1", PORT="8124")
    assert "DEBUG=1" in dev[-1] and "runserver 127.0.0.1:8124" in dev[-1] and "--noreload" not in dev[-1]


def test_make_run_on_every_interface_lets_a_friend_on_the_lan_open_the_page_and_play():
    """`make run HOST=0.0.0.0`, then a friend's browser on http://<LAN address>:PORT (today: 400 DisallowedHost).

    The friend is simulated on loopback: the server only sees the Host and Origin headers, which are exactly
    what a browser on another machine sends; no packet leaves this machine."""
    expected = hosts.lan_urls(bind_host="0.0.0.0", port=1)
    if not expected:
        pytest.skip("this machine has neither a LAN address nor a host name to share")
    with live_server(make_run_host="0.0.0.0") as server:
        port = urlsplit(server.url).port
        log = server.read_log()
        shared = re.findall(r"^\s+(http://\S+)$", log, flags=re.MULTILINE)
        assert shared == hosts.lan_urls(bind_host="0.0.0.0", port=port), log[-3000:]
        assert f"Listening on TCP address 0.0.0.0:{port}" in log, "Daphne itself, bound to every interface"
        lan = urlsplit(shared[0]).netloc  # e.g. 192.168.1.20:8000, as the friend's browser sends it
        friend = requests.Session()
        friend.trust_env = False
        friend.headers["Host"] = lan
        page = friend.get(server.url + "/", timeout=30)
        assert page.status_code == 200 and "DisallowedHost" not in page.text
        assert friend.get(server.url + "/static/vendor/p5/p5.min.js", timeout=30).status_code == 200
        made = friend.post(
            server.url + "/rooms/new",
            data={"csrfmiddlewaretoken": friend.cookies["csrftoken"]},
            headers={"Origin": f"http://{lan}"},
            allow_redirects=False,
            timeout=30,
        )
        assert made.status_code == 302, made.text[:500]
        code = made.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        assert friend.get(server.url + f"/r/{code}", timeout=30).status_code == 200

        async def play() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                async with connect(
                    f"ws://{lan}/ws/room/{code}/", sock=sock, origin=Origin(f"http://{lan}"), open_timeout=15
                ) as ws:
                    await ws.send(json.dumps({"type": "join", "name": "Friend"}))
                    await ws.send(json.dumps({"type": "guess", "text": "hello from the sofa"}))
                    async with asyncio.timeout(15):
                        while True:
                            m = json.loads(await ws.recv())
                            if m["type"] == "chat" and m.get("text") == "hello from the sofa":
                                return

        asyncio.run(play())


# --- friendly error pages ---------------------------------------------------------------------------------

TECHNICAL = ("URLconf", "Using the URLconf", "Traceback", "DEBUG = True", "Django tried these URL patterns")


def test_a_dead_room_link_and_an_unknown_page_are_friendly_pages_as_deployed(live_server_url):
    gone = requests.get(live_server_url + "/r/GONE42", timeout=30)
    assert gone.status_code == 404
    assert "This room is gone" in gone.text and 'href="/"' in gone.text and "GONE42" in gone.text
    assert "css/app.css" in gone.text, "in the game's look"
    unknown = requests.get(live_server_url + "/no/such/page", timeout=30)
    assert unknown.status_code == 404 and "Nothing to draw here" in unknown.text and "css/app.css" in unknown.text
    for page in (gone, unknown):
        assert not any(marker in page.text for marker in TECHNICAL), page.text[:2000]


@pytest.mark.django_db
def test_a_dead_room_link_is_friendly_with_debug_on_too(client, settings):
    settings.DEBUG = True
    gone = client.get("/r/GONE42")
    assert gone.status_code == 404 and b"This room is gone" in gone.content
    assert not any(marker.encode() in gone.content for marker in TECHNICAL)


def failing_view(request):
    raise RuntimeError("the pencil really broke")


# This module is the URLconf of the test below (pytest.mark.urls): the site's URLs plus one that fails.
urlpatterns = [*site_urlpatterns, path("boom", failing_view)]


@pytest.mark.urls(__name__)
def test_a_server_error_shows_the_games_own_page_without_details(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    broken = client.get("/boom")
    assert broken.status_code == 500
    text = broken.content.decode()
    assert "Oops, the pencil broke" in text and "css/app.css" in text and 'href="/"' in text
    assert "the pencil really broke" not in text and not any(marker in text for marker in TECHNICAL)


# --- the address behind the shipped proxy ---------------------------------------------------------------


def compose_web_daphne_args(port: int) -> list[str]:
    """docker-compose.yml's web command, bound to a loopback port instead of 0.0.0.0:8000."""
    compose = (REPO / "docker-compose.yml").read_text()
    web = compose[compose.index("\n  web:") :]
    command = json.loads(re.search(r"command:\s*(\[.*?\])", web, flags=re.DOTALL).group(1))
    assert command[0] == "daphne"
    args = ["-m", "daphne", *command[1:]]
    args[args.index("-b") + 1] = "127.0.0.1"
    args[args.index("-p") + 1] = str(port)
    return args


@pytest.fixture(scope="module")
def deployed_server():
    """Daphne as docker-compose.yml runs it; this test plays nginx on 127.0.0.1 (TRUSTED_PROXIES there)."""
    port = free_port()
    with live_server(
        {"TRUSTED_PROXIES": "127.0.0.1", "ROOMS_PER_ADDRESS": "3"}, server_args=compose_web_daphne_args(port), port=port
    ) as server:
        yield server


def create_room_status(http: requests.Session, base: str, forwarded_for: str) -> int:
    if "csrftoken" not in http.cookies:
        http.get(base + "/", timeout=30).raise_for_status()
    return http.post(
        base + "/rooms/new",
        data={"csrfmiddlewaretoken": http.cookies["csrftoken"]},
        headers={"X-Forwarded-For": forwarded_for},
        allow_redirects=False,
        timeout=30,
    ).status_code


def test_behind_the_proxy_a_client_cannot_pick_its_own_address_for_the_limits(deployed_server):
    http = requests.Session()
    http.trust_env = False
    # What reaches Daphne when a client writes its own X-Forwarded-For and the proxy appends what it saw
    # (203.0.113.7); the shipped nginx.conf even replaces it with that one address.
    spoofed = [create_room_status(http, deployed_server.url, f"10.0.0.{i}, 203.0.113.7") for i in range(4)]
    assert spoofed == [302, 302, 302, 429], "three rooms per address, whatever the client claims to be"
    assert create_room_status(http, deployed_server.url, "203.0.113.7") == 429
    assert create_room_status(http, deployed_server.url, "198.51.100.9") == 302, "another client is not limited"


def test_the_shipped_proxy_config_forwards_only_what_it_saw():
    nginx = re.sub(r"#.*", "", (REPO / "deploy" / "nginx.conf").read_text())
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", nginx)
    assert "$proxy_add_x_forwarded_for" not in nginx
    assert re.search(r"proxy_set_header\s+Host\s+\$http_host;", nginx), "the port stays in Host for the origin check"


# --- Content-Security-Policy -----------------------------------------------------------------------------


def policy_of(url: str) -> dict[str, str]:
    header = requests.get(url, timeout=30).headers.get("Content-Security-Policy", "")
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_pages_carry_a_content_security_policy_and_no_inline_script(live_server_url):
    for page in ("/", "/r/GONE42", "/no/such/page", "/admin/login/"):
        policy = policy_of(live_server_url + page)
        assert policy.get("script-src") == "'self'" and policy.get("style-src") == "'self'", (page, policy)
        assert policy.get("object-src") == "'none'" and policy.get("frame-ancestors") == "'none'", (page, policy)
        inline_allowed = sorted(name for name, value in policy.items() if "unsafe" in value)
        # The admin's templates set a few style attributes: only there, and only attributes.
        assert inline_allowed == (["style-src-attr"] if page.startswith("/admin/") else []), (page, policy)
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
    offenders = [
        str(p.relative_to(REPO)) for p in Path(REPO / "templates").rglob("*.html") if inline.search(p.read_text())
    ]
    assert offenders == [], f"inline script or handler in {offenders}"


# --- admin login throttling (behind the proxy, as deployed) ----------------------------------------------


def admin_login_status(base: str, username: str, password: str, forwarded_for: str) -> int:
    http = requests.Session()
    http.trust_env = False
    login = base + "/admin/login/"
    http.get(login, timeout=30).raise_for_status()
    return http.post(
        login,
        data={
            "username": username,
            "password": password,
            "next": "/admin/",
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
        headers={"Referer": login, "X-Forwarded-For": forwarded_for},
        allow_redirects=False,
        timeout=30,
    ).status_code


def test_admin_logins_are_locked_for_that_address_and_username_after_five_failures(deployed_server):
    create_user_in(server_env(deployed_server.log_path.parent / "db.sqlite3"), "boss")
    base, guesser = deployed_server.url, "192.0.2.66"
    failures = [admin_login_status(base, "boss", f"guess-{i}", guesser) for i in range(5)]
    assert failures == [200, 200, 200, 200, 429], "the 5th failure locks (200: the form again, with its error)"
    assert admin_login_status(base, "boss", PASSWORD, guesser) == 429, "locked even with the right password"
    assert admin_login_status(base, "boss", PASSWORD, f"10.1.1.1, {guesser}") == 429, "a spoofed header is no way out"
    assert admin_login_status(base, "boss", PASSWORD, "192.0.2.99") == 302, "the owner, from elsewhere, still logs in"
    assert admin_login_status(base, "nobody", "x", guesser) == 200, "per address and username, not the address alone"
