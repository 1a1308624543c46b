"""The whole admin story in a real browser against a real server, while a game room is open.

A staff user logs in to Debian's Chromium (Playwright), starts a tiny
training job from the form, which a training worker beside the server runs
(as `make run` starts one), watches its page reach 100 % without reloading,
opens the new version, compares it, and activates it. Two bot players sit
in a room the whole time over real WebSockets; once the version is live
their game offers its words and the AI's next guess uses its labels.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from game import rules
from tests.live_server import REPO, _stop, live_server, server_env
from tests.test_admin import PASSWORD, create_user_in
from tools.bots import Bot
from tools.doodles import DrawingLibrary, to_canvas_strokes
from tools.server import create_room_over_http, origin_for, ws_url_for

pytestmark = [pytest.mark.browser, pytest.mark.training]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEW_LABELS = ["snowflake", "apple", "bicycle"]


async def wait_until(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.timeout(900)
async def test_staff_trains_watches_activates_and_an_open_room_gets_the_new_models_guesses(tmp_path, shared_quickdraw):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's Chromium is missing at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with live_server({"MODEL_STORE_DIR": str(tmp_path / "models")}) as server:
        env = server_env(server.log_path.parent / "db.sqlite3", {"MODEL_STORE_DIR": str(tmp_path / "models")})
        create_user_in(env, "boss")
        with open(tmp_path / "worker.log", "ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "training_worker", "--interval", "0.3"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # An open room with two players, seated before anything changes.
        code = create_room_over_http(server.url)
        drawings = DrawingLibrary(shared_quickdraw)
        bots = [
            Bot(ws_url_for(server.url, code), name, origin=origin_for(server.url), drawings=drawings, expect_players=2)
            for name in ("Host", "Guest")
        ]
        for bot in bots:
            await bot.connect()
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1280, "height": 900})
                    version_url = await train_and_watch(page, server.url)
                    await open_compare_and_activate(page, server.url, version_url)
                    await play_one_stroke_and_check_the_ai(bots)
                    # The drawing just made is in the stored drawings, with the new model's guesses.
                    await page.goto(server.url + "/admin/game/drawing/")
                    row = await page.inner_text("#result_list tbody tr")
                    assert any(label in row for label in NEW_LABELS), row
                    await page.screenshot(path=str(ARTIFACTS / "admin-drawings.png"), full_page=True)
                finally:
                    await browser.close()
        finally:
            await asyncio.gather(*(bot.close() for bot in bots), return_exceptions=True)
            _stop(worker)
            print((tmp_path / "worker.log").read_text(errors="replace")[-4000:])


async def train_and_watch(page, base: str) -> str:
    """Log in, start a tiny job from the form, watch it finish live; returns the new version's admin URL."""
    await page.goto(base + "/admin/login/?next=/admin/")
    await page.fill("#id_username", "boss")
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await page.wait_for_url(base + "/admin/")
    await page.goto(base + "/admin/inference/modelversion/")
    await page.click("text=Train a new model")
    await page.wait_for_selector("#train-form")
    assert await page.is_checked("input[name=sources][value=folder]"), "the local folder is the default source"
    await page.fill("textarea[name=categories]", ", ".join(NEW_LABELS))
    await page.fill("input[name=per_class]", "60")
    await page.fill("input[name=epochs]", "1")
    await page.fill("input[name=name]", "browser-tiny")
    await page.screenshot(path=str(ARTIFACTS / "admin-train-form.png"), full_page=True)
    await page.click("input[value='Start training']")
    await page.wait_for_selector(".ax-job[data-progress-url]")
    assert "/admin/training/trainingjob/" in page.url

    # A marker that a reload would wipe: the page must update itself in place.
    await page.evaluate("window.__sameDocument = 'still here'")
    seen: list[tuple[str, str, str]] = []
    end = time.monotonic() + 600  # a tiny job, but a busy machine
    while True:
        status = await page.get_attribute("[data-field=status_label]", "data-status")
        sample = (
            status,
            await page.inner_text("[data-field=phase_label]"),
            await page.inner_text("[data-field=percent]"),
        )
        if not seen or seen[-1] != sample:
            seen.append(sample)
            if sample[1] == "training" and not any(phase == "training" for _, phase, _ in seen[:-1]):
                await page.screenshot(path=str(ARTIFACTS / "admin-job-page-running.png"), full_page=True)
        if status in ("succeeded", "failed", "cancelled"):
            break
        assert time.monotonic() < end, f"the job page never finished: {seen}"
        await asyncio.sleep(0.25)
    assert status == "succeeded", (await page.inner_text("[data-field=error]"), await page.inner_text(".ax-log"))
    assert await page.evaluate("window.__sameDocument") == "still here", "the page reloaded"
    percents = [int(p.rstrip("%")) for _, _, p in seen]
    assert len(set(percents)) >= 3 and percents == sorted(percents) and percents[-1] == 100, seen
    assert any(phase == "training" for _, phase, _ in seen), seen
    assert (await page.inner_text("[data-field=epoch_text]")) == "1 of 1"
    assert (await page.inner_text("[data-field=version_labels]")) == ", ".join(NEW_LABELS)
    assert await page.is_hidden("[data-field=cancel_form]"), "no cancel button once finished"
    assert "epoch 1/1" in await page.inner_text(".ax-log")
    await asyncio.sleep(0.8)  # let the bar's width transition finish before the picture
    await page.screenshot(path=str(ARTIFACTS / "admin-job-page.png"), full_page=True)
    href = await page.get_attribute("[data-field=version_link]", "href")
    await page.goto(base + "/admin/training/trainingjob/")
    await page.screenshot(path=str(ARTIFACTS / "admin-jobs-list.png"), full_page=True)
    return href


async def open_compare_and_activate(page, base: str, version_url: str) -> None:
    await page.goto(base + version_url)
    await page.wait_for_selector("#activate-button")
    plots = await page.evaluate(
        "Array.from(document.querySelectorAll('.ax-plots img')).map(i => [i.alt, i.complete && i.naturalWidth])"
    )
    # The plots load lazily, as the admin scrolls to them; the last is far below the first screen.
    for plot in await page.query_selector_all(".ax-plots img"):
        await plot.scroll_into_view_if_needed()
    # A function, not a bare expression: Playwright evaluates a bare expression again with eval() at every
    # poll after the first, which the page's Content-Security-Policy refuses (a function is evaluated once).
    await page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.ax-plots img')).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert any("Training curves" in alt for alt, _ in plots), plots
    metrics = await page.inner_text(".ax-metrics")
    assert "Top-1 accuracy" in metrics and "MAP@3" in metrics and "Early-guess" in metrics
    await page.screenshot(path=str(ARTIFACTS / "admin-model-page.png"), full_page=True)

    await page.click("text=Compare with the live model")
    await page.select_option("select[name=scope]", "first")
    await page.click("input[value=Compare]")
    await page.wait_for_selector("#comparison")
    assert "drawings in 3 categories" in await page.inner_text("#comparison h2")
    await page.screenshot(path=str(ARTIFACTS / "admin-compare.png"), full_page=True)

    await page.goto(base + version_url)
    await page.click("#activate-button")
    await page.wait_for_selector(".messagelist .success")
    assert "is now live" in await page.inner_text(".messagelist")
    assert await page.is_visible(".ax-tools .ax-live")
    await page.goto(base + "/admin/inference/modelversion/")
    await page.screenshot(path=str(ARTIFACTS / "admin-models-list.png"), full_page=True)


async def play_one_stroke_and_check_the_ai(bots: list[Bot]) -> None:
    """The room that was open during the swap starts a game: words and AI guesses come from the new model."""
    host, guest = bots
    await host.send({"type": "settings", "rounds": 1, "draw_seconds": 60, "word_choices": 3})
    await host.send({"type": "start"})
    await wait_until(lambda: any(b.phase == "choosing" and b.is_drawer() for b in bots), 15, "a drawer choosing")
    drawer = next(b for b in bots if b.is_drawer())
    choices = drawer.state["choices"]
    assert choices and set(choices) <= set(NEW_LABELS), f"words offered by the new model's labels: {choices}"
    await drawer.send({"type": "choose_word", "word": choices[0]})
    await wait_until(lambda: drawer.phase == "drawing" and drawer.state.get("word"), 15, "the drawing phase")
    turn_id = drawer.turn_id
    strokes = to_canvas_strokes(drawer.drawings.pick(choices[0], random.Random(3)))
    for index, stroke in enumerate(strokes[:3]):
        points = [[x, y, 40 * i + 600 * index] for i, (x, y) in enumerate(stroke)]
        await drawer.send({"type": "stroke", "stroke": index, "points": points, "width": 10})
    await wait_until(
        lambda: drawer.latest_ai.get(turn_id) and guest.latest_ai.get(turn_id), 20, "an AI guess in the room"
    )
    labels = drawer.latest_ai[turn_id]  # the drawer knows the word, so sees every label whole
    assert sorted(labels) == sorted(NEW_LABELS), f"the AI's guess {labels} must come from the new model"
    # The guesser sees the same guesses, the word itself masked (a clue, never the answer).
    masked = {rules.mask_word_in(label, choices[0]) for label in NEW_LABELS}
    assert set(guest.latest_ai[turn_id]) <= masked and choices[0] not in guest.latest_ai[turn_id], guest.latest_ai
    assert not [e for b in bots for e in b.unexpected_errors()]
