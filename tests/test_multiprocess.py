"""The scaled-out topology on one machine: real redis-server, two Daphne processes, inference and training workers.

Players on different web processes share one room: they see each other's
strokes, the same AI guesses and the same scores; each timer fires once; an
inference worker can die and a new one picks up. On PostgreSQL, a training
job started from one web process's admin runs on the training worker and is
followed from the other's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from websockets.exceptions import WebSocketException

from tests.live_server import REPO, _migrate, _stop, _wait_until_up, daphne_args, free_port, server_env
from tests.postgres_server import postgres_url  # noqa: F401 - the fixture
from tests.redis_server import start_redis
from tools.addresses import LoopbackAddresses
from tools.bots import make_bots, play, summarize
from tools.client import Closed, JoinRefused, ProtocolClient
from tools.server import create_room_over_http, joined

ADDRESSES = LoopbackAddresses()

pytestmark = pytest.mark.redis


class Topology:
    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.redis, self.redis_url = start_redis(workdir)
        self.db = workdir / "db.sqlite3"
        self.env = server_env(self.db, {"REDIS_URL": self.redis_url, **(extra_env or {})})
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.workers: list[subprocess.Popen] = []
        _migrate(self.env, workdir / "migrate.log")

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_web(self) -> str:
        port = free_port()
        name = f"web{len(self.urls)}"
        proc = self._spawn(daphne_args(port), name)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, proc, self.workdir / f"{name}.log", 60)
        self.urls.append(url)
        return url

    def start_worker(self) -> subprocess.Popen:
        proc = self._spawn(["manage.py", "runworker", "inference"], f"worker{len(self.workers)}")
        self.workers.append(proc)
        return proc

    def start_trainer(self) -> subprocess.Popen:
        return self._spawn(["manage.py", "training_worker", "--interval", "0.3"], "trainer")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.workdir.glob("*.log"))

    def close(self) -> None:
        for proc in self.procs:
            _stop(proc)
        self.redis.terminate()
        self.redis.wait(10)


@pytest.fixture
def topology():
    workdir = Path(tempfile.mkdtemp(prefix="doodle-topology-"))
    topo = Topology(workdir)
    try:
        yield topo
    finally:
        topo.close()


async def join(
    url: str, code: str, name: str, token: str | None = None, *, address: str | None = None
) -> tuple[ProtocolClient, dict]:
    """Take (or, with a token, take back) a seat like the browser client: retry with backoff."""
    address = address or ADDRESSES.take()
    for attempt in range(6):
        try:
            return await joined(url, code, name, token=token, local_address=address)
        except (Closed, JoinRefused, OSError, TimeoutError, WebSocketException):
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError(f"{name} could not join")


def _phase(phase: str):
    return lambda m: m["type"] == "state" and m["state"]["phase"] == phase


def test_one_room_across_two_web_processes_with_a_separate_inference_worker(topology):
    a, b = topology.start_web(), topology.start_web()
    worker = topology.start_worker()
    code = create_room_over_http(a, source_address=ADDRESSES.take())
    bots = make_bots([a, b], code, 3, seed=0, addresses=ADDRESSES)
    restarted: dict[str, int] = {}

    # Half-way through, the inference worker dies and another takes over.
    async def kill_and_replace():
        while not any(bot.ai_updates >= 3 for bot in bots):
            await asyncio.sleep(0.2)
        worker.kill()
        worker.wait(10)
        restarted["ai_updates"] = sum(bot.ai_updates for bot in bots)
        topology.start_worker()

    async def main():
        try:
            await asyncio.gather(play(bots, 150), kill_and_replace())
        finally:
            await asyncio.gather(*(bot.close() for bot in bots), return_exceptions=True)

    asyncio.run(main())
    result = summarize(code, bots, 0)
    assert not result.errors, result.errors + [topology.logs()]
    assert result.turns_played == 3
    # The same scores on every process.
    finals = [{p["name"]: p["score"] for p in bot.state["players"]} for bot in bots]
    assert all(f == finals[0] for f in finals), finals
    assert all(bot.ai_updates > 0 for bot in bots)
    # Each drawer's strokes reached players on the other process.
    for bot in bots:
        seen = {m["turn_id"] for m in bot.messages if m.get("type") == "stroke"}
        assert len(seen) >= 2, f"{bot.name} saw strokes of only {len(seen)} other turns"
    # Every timer fired once: exactly one turn per player, no doubled transitions.
    with sqlite3.connect(topology.db) as db:
        turns = db.execute("select count(*) from game_turn").fetchone()[0]
        ai_after_restart = db.execute(
            "select count(*) from game_drawing where json_array_length(ai_timeline) > 0"
        ).fetchone()[0]
    assert turns == 3
    assert ai_after_restart and len(topology.workers) == 2
    # AI guesses resumed once the new worker was up.
    assert sum(bot.ai_updates for bot in bots) > restarted["ai_updates"]


def test_players_of_a_killed_web_process_get_seat_score_and_canvas_back_on_another(topology):
    """The client reconnects (here: by hand) to the other process with its token."""
    a, b = topology.start_web(), topology.start_web()
    topology.start_worker()
    code = create_room_over_http(b, source_address=ADDRESSES.take())

    async def main():
        host, _ = await join(b, code, "Host")
        ana_address = ADDRESSES.take()
        ana, welcome = await join(a, code, "Ana", address=ana_address)  # on the process that will die
        token, me = welcome["token"], welcome["player_id"]
        await host.send({"type": "start"})
        st = await host.wait_for(_phase("choosing"), 25)
        drawer = host if st["state"]["drawer_id"] != me else ana
        assert drawer is host
        await host.send({"type": "choose_word", "word": st["state"]["choices"][0]})
        await host.wait_for(_phase("drawing"), 25)
        stroke = [[100, 100, 0], [200, 150, 16], [300, 120, 32]]
        await host.send({"type": "stroke", "stroke": 0, "points": stroke, "width": 10})
        await ana.wait_for(lambda m: m["type"] == "stroke", 25)
        topology.procs[0].kill()  # web process A dies with Ana's socket
        topology.procs[0].wait(10)
        again, welcome = await join(b, code, "Ana", token, address=ana_address)
        state = welcome["state"]
        assert welcome["player_id"] == me and state["phase"] == "drawing"
        canvas = await again.wait_for(lambda m: m["type"] == "canvas", 25)
        assert [s["points"] for s in canvas["strokes"]] == [[p[:2] for p in stroke]]
        assert any(p["id"] == me and p["connected"] for p in state["players"])
        await again.close()
        await host.close()

    asyncio.run(main())


def test_redis_restart_mid_game_players_reconnect_state_from_the_database_timers_fire_once(topology):
    """Redis goes away and comes back on the same port: sockets drop, clients reconnect, nothing is lost."""
    import time

    a = topology.start_web()
    topology.start_worker()
    code = create_room_over_http(a, source_address=ADDRESSES.take())
    port = int(topology.redis_url.rsplit(":", 1)[1].split("/")[0])

    async def main():
        host_address, bo_address = ADDRESSES.take(), ADDRESSES.take()
        host, hw = await join(a, code, "Host", address=host_address)
        bo, bw = await join(a, code, "Bo", address=bo_address)
        await host.send({"type": "settings", "draw_seconds": 30})
        await host.send({"type": "start"})
        st = await host.wait_for(_phase("choosing"), 25)
        turn_id = st["state"]["turn_id"]
        topology.redis.kill()
        topology.redis.wait(10)
        await asyncio.sleep(1.0)
        topology.redis, _ = start_redis(topology.workdir, port=port)
        # The old sockets may or may not survive the outage; a client reconnects with its token either way.
        for client in (host, bo):
            await client.close()
        host, hw2 = await join(a, code, "Host", hw["token"], address=host_address)
        bo, bw2 = await join(a, code, "Bo", bw["token"], address=bo_address)
        assert hw2["player_id"] == hw["player_id"] and bw2["player_id"] == bw["player_id"]
        assert hw2["state"]["turn_id"] == turn_id and hw2["state"]["phase"] in ("choosing", "drawing")
        # Nobody chooses: the 15 s word-pick timer fires (once) and drawing begins.
        st = await bo.wait_for(_phase("drawing"), 25)
        assert st["state"]["turn_id"] == turn_id
        await host.close()
        await bo.close()

    began = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - began < 60
    with sqlite3.connect(topology.db) as db:
        assert db.execute("select count(*) from game_turn").fetchone()[0] == 1


@pytest.mark.postgres
@pytest.mark.training
@pytest.mark.timeout(900)
def test_a_job_started_from_one_web_processes_admin_runs_on_the_training_worker(postgres_url):  # noqa: F811
    import time
    import uuid

    import psycopg

    from tests.test_admin import create_user_in, http_login

    name = f"doodle_jobs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin_db:
        admin_db.execute(f"CREATE DATABASE {name}")
    database_url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="doodle-topology-jobs-"))
    topology = Topology(workdir, {"DATABASE_URL": database_url, "MODEL_STORE_DIR": str(workdir / "models")})
    try:
        a, b = topology.start_web(), topology.start_web()
        topology.start_worker()
        trainer = topology.start_trainer()
        create_user_in(topology.env, "boss")
        on_a, on_b = http_login(a, "boss"), http_login(b, "boss")
        add = a + "/admin/training/trainingjob/add/"
        answer = on_a.post(
            add,
            data={
                "sources": ["folder"],
                "categories": "snowflake, apple",
                "per_class": "40",
                "epochs": "1",
                "augment": "on",
                "name": "from-a",
                "csrfmiddlewaretoken": on_a.cookies["csrftoken"],
            },
            headers={"Referer": add},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, answer.text[-3000:]
        job_id = int(answer.headers["Location"].rstrip("/").split("/")[-2])

        end = time.monotonic() + 600
        while True:  # followed from the other web process
            snap = on_b.get(f"{b}/admin/training/trainingjob/{job_id}/progress/", timeout=30).json()
            if snap["finished"]:
                break
            assert time.monotonic() < end, f"job stuck at {snap}\n{topology.logs()}"
            time.sleep(0.5)
        assert snap["status"] == "succeeded", f"{snap['error']}\n{topology.logs()}"
        with psycopg.connect(database_url) as db:
            pid, version_id = db.execute(
                "SELECT pid, model_version_id FROM training_trainingjob WHERE id = %s", (job_id,)
            ).fetchone()
            (labels,) = db.execute("SELECT labels FROM inference_modelversion WHERE id = %s", (version_id,)).fetchone()
            (task_status,) = db.execute("SELECT status FROM django_tasks_database_dbtaskresult").fetchone()
        assert pid == trainer.pid, "the training worker ran it, not a web process"
        assert labels == ["snowflake", "apple"] and task_status == "SUCCESSFUL"
        assert "from-a" in on_b.get(b + "/admin/inference/modelversion/", timeout=30).text
    finally:
        topology.close()
