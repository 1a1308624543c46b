"""Activation never strands a game: a model lacking a word in play waits for that turn, then every room has it.

The live test runs the deployed way (Daphne, the embedded AI, real WebSockets,
the admin over HTTP): a turn is drawing a word the new version does not know
when an admin activates it; the activation is pending, a turn starting
meanwhile elsewhere only offers words the new version knows, and once the
turn ends the swap happens by itself and both rooms get the new model's
guesses. The new version is the shipped network with other labels (every
label + " v2"), so which model answered shows in every guess.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from django.conf import settings

from inference.model_store import read_labels, write_labels
from tests.live_server import live_server, manage_shell, server_env
from tests.test_admin import create_user_in, http_login
from tests.test_multiprocess import join
from tools.client import ProtocolClient
from tools.server import create_room_over_http

SHIPPED = Path(settings.SHIPPED_MODEL_DIR)
SUFFIX = " v2"
STROKE = [[100 + 10 * i, 100 + (i % 7) * 15, 40 * i] for i in range(30)]


def relabelled_copy(folder: Path) -> list[str]:
    """The shipped model with every label renamed: the same network, guesses that say which model made them."""
    folder.mkdir(parents=True)
    shutil.copy(SHIPPED / "model.tflite", folder / "model.tflite")
    labels = [label + SUFFIX for label in read_labels(SHIPPED / "labels.txt")]
    write_labels(folder / "labels.txt", labels)
    return labels


@pytest.mark.django_db
def test_new_turns_offer_the_words_both_models_know_while_a_swap_waits(tmp_path):
    from inference.live import live_model
    from inference.models import PendingActivation
    from inference.selectors import words_for_new_turns
    from inference.services import register_model_version

    live = live_model.classifier().labels
    assert words_for_new_turns() == live, "nothing pending: the live model's words"
    folder = tmp_path / "fewer"
    folder.mkdir()
    shutil.copy(SHIPPED / "model.tflite", folder / "model.tflite")
    fewer = ["zzz-new"] + live[1:]  # the same output count, one word swapped for another
    write_labels(folder / "labels.txt", fewer)
    pending = PendingActivation.objects.create(version=register_model_version(name="fewer", model_dir=folder))
    assert words_for_new_turns() == live[1:], "the words both know"
    write_labels(folder / "labels.txt", relabelled_copy(tmp_path / "v2"))
    pending.version.labels = read_labels(folder / "labels.txt")
    pending.version.save()
    assert words_for_new_turns() == pending.version.labels, "no word in common: the incoming model's"


async def until(client: ProtocolClient, pred, timeout: float = 25.0) -> dict:
    """The first message from now on that matches (those read before are passed over)."""
    client.inbox.clear()
    return await client.wait_for(pred, timeout)


async def start_turn(url: str, code: str) -> tuple[dict, dict]:
    """Two players in a room, a game started: ({player_id: client}, the drawer's choosing state)."""
    (host, host_welcome), (guest, guest_welcome) = await join(url, code, "Host"), await join(url, code, "Guest")
    host_id, guest_id = host_welcome["player_id"], guest_welcome["player_id"]
    await host.send(json.dumps({"type": "settings", "draw_seconds": 120, "rounds": 1}))
    await host.send(json.dumps({"type": "start"}))
    sockets = {host_id: host, guest_id: guest}
    first = await until(host, lambda m: m["type"] == "state" and m["state"]["phase"] == "choosing", 60)
    drawer = sockets[first["state"]["drawer_id"]]
    state = (
        first
        if drawer is host
        else await until(drawer, lambda m: m["type"] == "state" and m["state"]["phase"] == "choosing", 60)
    )
    return sockets, state["state"]


def phase(message: dict, name: str) -> bool:
    return message["type"] == "state" and message["state"]["phase"] == name


@pytest.mark.timeout(600)
def test_a_swap_waits_for_the_turn_using_a_missing_word_then_every_room_gets_the_new_models_guesses(tmp_path):
    with live_server({"MODEL_STORE_DIR": str(tmp_path / "store")}) as server:
        env = server_env(server.log_path.parent / "db.sqlite3")
        env["MODEL_STORE_DIR"] = str(tmp_path / "store")
        create_user_in(env, "boss")
        new_labels = relabelled_copy(tmp_path / "store" / "v2")
        register = (
            "from pathlib import Path; from inference.services import register_model_version; "
            f"print('ID=%d' % register_model_version(name='v2', model_dir=Path({str(tmp_path / 'store' / 'v2')!r})).pk)"
        )
        out = manage_shell(env, register)
        version_id = int(out.split("ID=")[1].split()[0])

        def live_version() -> str:
            with sqlite3.connect(
                f"file:{env['DATABASE_URL'][len('sqlite:///') :]}?mode=ro", uri=True, timeout=20
            ) as db:
                return db.execute("SELECT name FROM inference_modelversion WHERE is_active").fetchone()[0]

        async def main() -> None:
            url = server.url
            # Room A draws a word the new version does not know.
            room_a = create_room_over_http(url)
            sockets_a, choosing = await start_turn(url, room_a)
            drawer_a = sockets_a[choosing["drawer_id"]]
            guesser_a = next(ws for pid, ws in sockets_a.items() if pid != choosing["drawer_id"])
            word = choosing["choices"][0]
            await drawer_a.send(json.dumps({"type": "choose_word", "word": word}))
            await until(guesser_a, lambda m: phase(m, "drawing"), 60)
            await drawer_a.send(json.dumps({"type": "stroke", "stroke": 0, "points": STROKE, "width": 10}))
            before = await until(guesser_a, lambda m: m["type"] == "ai" and m["guesses"], 60)
            assert not any(g["label"].endswith(SUFFIX) for g in before["guesses"]), "the old model still serves"

            # The admin activates it: pending, the live model stays.
            http = http_login(url, "boss")
            activate = f"{url}/admin/inference/modelversion/{version_id}/activate/"
            page = http.post(
                activate,
                data={"csrfmiddlewaretoken": http.cookies["csrftoken"]},
                headers={"Referer": activate},
                timeout=30,
            ).text
            assert "will go live as soon as the turns in play" in page and word in page, page[-3000:]
            assert 'id="pending-activation"' in http.get(url + "/admin/inference/modelversion/", timeout=30).text
            assert live_version() == "shipped default"

            # Room B starts meanwhile: its words are all the incoming model's.
            room_b = create_room_over_http(url)
            sockets_b, choosing_b = await start_turn(url, room_b)
            assert set(choosing_b["choices"]) <= set(new_labels), choosing_b["choices"]
            assert live_version() == "shipped default", "room B's turn holds nothing up, room A's still does"

            # Room A's turn ends (the word is guessed): the swap happens by itself.
            await guesser_a.send(json.dumps({"type": "guess", "text": word}))
            await until(guesser_a, lambda m: phase(m, "turn_end"), 60)
            ended = time.monotonic()
            while live_version() != "v2":
                assert time.monotonic() - ended < 20, "the pending activation never went live"
                await asyncio.sleep(0.1)
            print(f"swap: live {time.monotonic() - ended:.2f} s after the turn that held it up ended")

            # Every room now gets the new model's guesses.
            drawer_b = sockets_b[choosing_b["drawer_id"]]
            watcher_b = next(ws for pid, ws in sockets_b.items() if pid != choosing_b["drawer_id"])
            await drawer_b.send(json.dumps({"type": "choose_word", "word": choosing_b["choices"][0]}))
            await until(watcher_b, lambda m: phase(m, "drawing"), 60)
            # Each process follows the active version within about half a second (inference.live): a stroke a
            # second until the room's AI answers with the new labels (to the drawer, who reads them plain: a
            # guesser would see the word masked, should the AI name it).
            swapped_at, new_guess = time.monotonic(), None
            for index in range(30):
                await drawer_b.send(json.dumps({"type": "stroke", "stroke": index, "points": STROKE, "width": 10}))
                ai = await until(drawer_b, lambda m: m["type"] == "ai" and m["guesses"], 60)
                if all(g["label"].endswith(SUFFIX) for g in ai["guesses"]):
                    new_guess = ai
                    break
                await asyncio.sleep(1.0)
            assert new_guess is not None, "room B never got the new model's guesses"
            print(f"swap: room B's AI answered with the new labels {time.monotonic() - swapped_at:.2f} s later")
            next_a = await until(guesser_a, lambda m: phase(m, "choosing"), timeout=60)
            drawer_next = sockets_a[next_a["state"]["drawer_id"]]
            choosing_next = (
                next_a["state"]
                if drawer_next is guesser_a
                else (await until(drawer_next, lambda m: phase(m, "choosing"), 60))["state"]
            )
            assert set(choosing_next["choices"]) <= set(new_labels), "room A's next turn: the new model's words"
            for ws in [*sockets_a.values(), *sockets_b.values()]:
                await ws.close()

        asyncio.run(main())
