"""Two real browsers play a turn: draw a real Quick, Draw! drawing with the mouse, watch the AI, guess, score."""

from __future__ import annotations

import json

import pytest

from tests.browser import artifact, browser  # noqa: F401
from tests.conftest import SHARED_QUICKDRAW

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def drawing_for(word: str) -> list:
    path = SHARED_QUICKDRAW / f"{word}.ndjson"
    with open(path) as fh:
        # A drawing with a few strokes: enough for the AI to change its mind.
        for line in fh:
            d = json.loads(line)["drawing"]
            if 3 <= len(d) <= 8:
                return d
    raise AssertionError(f"no usable drawing for {word}")


def draw_with_mouse(page, drawing: list, ai_seen: list, other_page) -> None:
    box = page.locator("#canvas canvas").bounding_box()
    assert box and box["width"] > 100
    side = min(box["width"], box["height"]) * 0.8
    ox = box["x"] + (box["width"] - side) / 2
    oy = box["y"] + (box["height"] - side) / 2
    for xs, ys in drawing:
        pts = [(ox + x / 255 * side, oy + y / 255 * side) for x, y in zip(xs, ys, strict=True)]
        page.mouse.move(*pts[0])
        page.mouse.down()
        for x, y in pts[1:]:
            page.mouse.move(x, y, steps=4)
        page.mouse.up()
        page.wait_for_timeout(400)
        ai_seen.append(top3(other_page))


def top3(page) -> tuple:
    rows = page.locator("#ai-panel .ai-row")
    return tuple(
        (rows.nth(i).locator(".ai-label").inner_text(), rows.nth(i).locator(".ai-p").inner_text())
        for i in range(rows.count())
    )


def ink(page) -> int:
    """Dark pixels on the player's canvas: strokes have arrived and been drawn."""
    return page.evaluate(
        """() => { const c = document.querySelector('#canvas canvas'); const g = c.getContext('2d');
                   const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
                   for (let i = 0; i < d.length; i += 4) if (d[i] < 100 && d[i+3] > 0) n++; return n; }"""
    )


def score_of(page, name: str) -> int:
    for p in page.evaluate("() => window.gtd.state.players"):
        if p["name"] == name:
            return p["score"]
    raise AssertionError(f"{name} not in the player list")


def create_room(page, base_url: str, name: str) -> str:
    """From the home page: a nickname, "Create room", and wait until the room page has joined; its URL."""
    page.goto(base_url + "/")
    page.fill("#name-input", name)
    page.click("#create-button")
    page.wait_for_url("**/r/*")
    page.wait_for_function("() => window.gtd && window.gtd.state && window.gtd.playerId")
    return page.url


def join_room(page, room_url: str, name: str) -> None:
    """Open a shared room link as a newcomer: the name prompt, then wait until seated."""
    page.goto(room_url)
    page.fill("#name-prompt-input", name)
    page.locator("#name-prompt-input").press("Enter")
    page.wait_for_function("() => window.gtd && window.gtd.state && window.gtd.playerId")


def test_two_browsers_play_a_turn_with_the_live_ai(browser, live_server_url):  # noqa: F811
    ctx_a = browser.new_context(viewport=DESKTOP)
    ctx_b = browser.new_context(viewport=DESKTOP)
    ana, bo = ctx_a.new_page(), ctx_b.new_page()
    errors: list[str] = []
    for page in (ana, bo):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        join_room(bo, create_room(ana, live_server_url, "Ana"), "Bo")
        ana.wait_for_function("() => window.gtd.state.players.filter(p => !p.is_ai).length === 2")
        ana.screenshot(path=artifact("game-lobby-host-desktop.png"))
        ana.click("#start-button")
        ana.wait_for_selector(".word-choice", timeout=10_000)
        word = ana.locator(".word-choice").first.inner_text().strip()
        ana.locator(".word-choice").first.click()
        ana.wait_for_function("() => window.gtd.state.phase === 'drawing'")
        bo.wait_for_function("() => window.gtd.state.phase === 'drawing'")
        assert bo.evaluate("() => window.gtd.state.word") is None, "the guesser must not get the word"
        ai_seen: list[tuple] = []
        draw_with_mouse(ana, drawing_for(word), ai_seen, bo)
        bo.wait_for_timeout(500)
        assert ink(bo) > 200, "the drawing appears on the other player's canvas"
        with_guesses = [t for t in ai_seen if len(t) == 3]
        assert with_guesses, f"the AI's top-3 reached the guesser: {ai_seen}"
        assert len(set(with_guesses)) >= 2, f"the AI's guesses change as strokes arrive: {ai_seen}"
        ana.screenshot(path=artifact("game-drawer-desktop.png"))
        bo.screenshot(path=artifact("game-guesser-desktop.png"))
        for page in (ana, bo):
            page.set_viewport_size(PHONE)
        ana.wait_for_timeout(300)
        ana.screenshot(path=artifact("game-drawer-phone.png"))
        bo.screenshot(path=artifact("game-guesser-phone.png"))
        for page in (ana, bo):
            page.set_viewport_size(DESKTOP)
        bo.fill("#chat-input", word)
        bo.locator("#chat-input").press("Enter")
        bo.wait_for_function("() => window.gtd.state.phase === 'turn_end'", timeout=10_000)
        ana.wait_for_function("() => window.gtd.state.phase === 'turn_end'", timeout=10_000)
        assert score_of(bo, "Bo") > 0 and score_of(ana, "Bo") == score_of(bo, "Bo")
        assert score_of(ana, "Ana") > 0
        scores_text = bo.locator("#players").inner_text()
        assert str(score_of(bo, "Bo")) in scores_text
        ana.screenshot(path=artifact("game-turn-end-desktop.png"))
        bo.screenshot(path=artifact("game-turn-end-guesser-desktop.png"))
        assert not errors, errors
    finally:
        ctx_a.close()
        ctx_b.close()


def test_names_and_chat_are_text_never_html(browser, live_server_url):  # noqa: F811
    evil = '<img src=x onerror="window.pwned=1">'
    ctx_a, ctx_b = browser.new_context(viewport=DESKTOP), browser.new_context(viewport=DESKTOP)
    ana, eve = ctx_a.new_page(), ctx_b.new_page()
    try:
        join_room(eve, create_room(ana, live_server_url, "Ana"), evil[:20])
        eve.fill("#chat-input", evil)
        eve.locator("#chat-input").press("Enter")
        ana.wait_for_function("(t) => document.querySelector('#chat-log').innerText.includes(t)", arg=evil)
        ana.wait_for_function("(t) => document.querySelector('#players').innerText.includes(t)", arg=evil[:20])
        assert ana.locator("#chat-log img, #players img").count() == 0
        assert ana.evaluate("() => window.pwned") is None
        ana.screenshot(path=artifact("xss-as-text.png"))
    finally:
        ctx_a.close()
        ctx_b.close()
