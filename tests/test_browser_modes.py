"""Issue 14 as players see it, in real browsers against a real server with the real model.

* Classic: while the drawer draws a real Quick, Draw! doodle of the word, a guesser on a desktop
  (1280x800) and one on a phone (390x844, touch) see the AI's guess of the word masked ("▮▮▮", a mark
  per letter), "The AI got it!" is announced, and once they guessed it they see it plain; the drawer's
  line that gives the word away is refused beside the input; the phone's chat follows the game.
* The AI modes: "AI off" takes the AI off the page, "hidden" keeps its guesses from who has not guessed.
* Solo: "Play solo" starts a game by itself; three words, each drawn as a real doodle; the AI names at
  least one ("Oh, I know, it's ...!", big on the canvas); the end screen lists the three drawings with
  the AI's verdict, time and top-3; "Play again" starts the next game.
* Race: three players draw the same word at once; each sees live thumbnails of the other two with the
  AI's current top-1, and the round's places at its end.

The doodles are real drawings of the word from ../shared/quickdraw that the shipped model itself
recognises (checked here with the same classifier the server runs), so the AI's part is the real one.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from game import rules
from tests.browser import artifact, browser  # noqa: F401
from tests.conftest import SHARED_QUICKDRAW
from tests.forward import another_machine
from tests.test_browser_game import create_room, join_room
from tests.test_browser_playtest import DESKTOP, PHONE, WAIT_MS, assert_beside_input, say
from tests.test_browser_playtest import players as playtest_players
from tests.test_csp_browser import RECORD_VIOLATIONS

pytestmark = pytest.mark.browser

SOLO_WORDS_KEY = "gtd.soloWords"  # static/js/screens.js: the number of solo words the player chose last


# --- real doodles the model recognises -----------------------------------------------------------


@functools.cache
def _classifier():
    from pathlib import Path

    from inference.classifier import Classifier

    shipped = Path(__file__).resolve().parent.parent / "inference" / "shipped_model"
    labels = [x for x in (shipped / "labels.txt").read_text().splitlines() if x]
    return Classifier(shipped / "model.tflite", labels)


# How sure the shipped model must be of a doodle here (the game counts the AI's top-1 from 0.25).
SURE = 0.4


@functools.cache
def doodles(word: str, n: int = 3) -> tuple[tuple[float, list], ...]:
    """Up to `n` real drawings of `word` that the shipped model names confidently: (its probability, drawing),
    surest first. Short ones (a few strokes, few points) are drawn fastest."""
    from inference.recognize import recognize

    found = []
    with open(SHARED_QUICKDRAW / f"{word}.ndjson") as fh:
        for line in fh:
            drawing = json.loads(line)["drawing"]
            points = sum(len(xs) for xs, _ in drawing)
            if not (2 <= len(drawing) <= 10 and points <= 100):
                continue
            top = recognize(drawing, _classifier(), k=1)
            if top and top[0].label == word and top[0].probability >= SURE:
                found.append((top[0].probability, drawing))
    found.sort(key=lambda item: -item[0])
    return tuple(found[:n])


def masked(word: str) -> str:
    """The word as a player who has not guessed it sees it in the AI's panel ("▮▮▮", a mark per letter)."""
    return rules.mask_word_in(word, word)


# --- players and drawing -----------------------------------------------------------------------------


@contextmanager
def players(browser, *screens: dict) -> Iterator[list]:  # noqa: F811
    """The playtest's players (a context each; a script error fails the test), and nothing blocked by the
    Content-Security-Policy on any page."""
    with playtest_players(browser, *screens, init_script=RECORD_VIOLATIONS) as pages:
        yield pages
        for page in pages:
            assert page.evaluate("() => window.cspViolations || []") == [], page.url


def canvas_box(page) -> tuple[float, float, float]:
    """Where a doodle goes on the page's big board: (left, top, side) of a centred square."""
    box = page.locator("#canvas canvas").bounding_box()
    assert box and box["width"] > 100, box
    side = min(box["width"], box["height"]) * 0.8
    return box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2, side


def shortest_doodle(word: str) -> list:
    """The real drawing of `word` with the fewest points, five at least (whatever the model makes of it)."""
    with open(SHARED_QUICKDRAW / f"{word}.ndjson") as fh:
        sizes = [(sum(len(xs) for xs, _ in d), d) for d in (json.loads(line)["drawing"] for line in fh)]
    return min((item for item in sizes if item[0] >= 5), key=lambda item: item[0])[1]


def draw_stroke(page, stroke, where) -> None:
    ox, oy, side = where
    xs, ys = stroke
    pts = [(ox + x / 255 * side, oy + y / 255 * side) for x, y in zip(xs, ys, strict=True)]
    page.mouse.move(*pts[0])
    page.mouse.down()
    for x, y in pts[1:]:
        page.mouse.move(x, y)  # the simplified drawing's own vertices: the server resamples the lines between
    page.mouse.up()


def draw(page, drawing: list, pause_ms: int = 150) -> None:
    where = canvas_box(page)
    for stroke in drawing:
        draw_stroke(page, stroke, where)
        page.wait_for_timeout(pause_ms)


def state(page) -> dict:
    return page.evaluate("() => window.gtd.state")


def ai_labels(page) -> list[str]:
    return page.locator("#ai-panel .ai-row .ai-label").all_inner_texts()


def wait_phase(pages, phase: str, timeout: int = WAIT_MS) -> None:
    for page in pages:
        page.wait_for_function("(p) => window.gtd.state && window.gtd.state.phase === p", arg=phase, timeout=timeout)


# --- classic -------------------------------------------------------------------------------------------


def test_classic_turn_the_ai_guess_is_masked_until_you_guess(browser, live_server_url):  # noqa: F811
    with contextlib.ExitStack() as stack, players(browser, DESKTOP, DESKTOP, PHONE) as (ana, bo, cy):
        room = create_room(ana, live_server_url, "Ana")
        # Each on a connection of their own, as on a LAN.
        join_room(bo, stack.enter_context(another_machine(room, "127.4.14.2")), "Bo")
        join_room(cy, stack.enter_context(another_machine(room, "127.4.14.3")), "Cy")
        ana.wait_for_function("() => window.gtd.state.players.filter(p => !p.is_ai).length === 3", timeout=WAIT_MS)

        # The lobby: the AI's three modes, and how scoring works, from the server's own rules.
        options = ana.locator("#set-ai-mode option").all_inner_texts()
        assert options == ["AI guesses shown", "AI guesses hidden until you have guessed", "AI off"], options
        assert bo.locator("#set-ai-mode").is_disabled(), "only the host changes settings"
        bo.locator(".rules-lobby summary").click()
        rules = bo.locator(".rules-lobby .rule-lines").inner_text()
        assert "The AI is a player too" in rules and "scores half" in rules, rules
        bo.screenshot(path=artifact("modes-classic-lobby-rules-desktop.png"))

        ana.click("#start-button")
        ana.wait_for_selector(".word-choice", timeout=WAIT_MS)
        choices = ana.locator(".word-choice").all_inner_texts()
        word = max(choices, key=lambda w: doodles(w)[0][0] if doodles(w) else 0)
        assert doodles(word), f"none of {choices} has a doodle the model recognises"
        ana.locator(".word-choice", has_text=re.compile(f"^{re.escape(word)}$")).click()
        wait_phase([ana, bo, cy], "drawing")

        # The phone's chat follows the game: the newest line sits beside the input.
        assert_beside_input(cy, cy.locator("#chat-log .msg", has_text="is drawing now").last, "the phone's newest line")

        # The drawer may chat, but not give the word away: refused beside the input, the line kept to edit.
        say(ana, f"it is a {word}")
        ana.wait_for_selector("#chat-error:not([hidden])", timeout=WAIT_MS)
        assert "give the word away" in ana.locator("#chat-error").inner_text()
        assert ana.input_value("#chat-input") == f"it is a {word}"
        say(ana, "good luck everyone")
        ana.wait_for_selector("#chat-log .msg-me >> text=good luck everyone", timeout=WAIT_MS)
        assert ana.locator("#chat-error").is_hidden()

        # The drawer draws a real doodle of the word; the guessers see the AI's guess of it masked.
        draw(ana, doodles(word)[0][1])
        shown = masked(word)
        for page in (bo, cy):
            page.wait_for_function(
                "(m) => [...document.querySelectorAll('#ai-panel .ai-label.is-masked')].some(e => e.textContent === m)",
                arg=shown,
                timeout=WAIT_MS,
            )
            assert state(page)["word"] is None
            assert word not in ai_labels(page), "a guesser never reads the word in the AI's panel"
        assert word in ai_labels(ana), "the drawer sees the AI's guesses plain"
        # The AI names it: everyone is told, the line highlighted as the AI's.
        for page in (bo, cy):
            page.wait_for_selector("#chat-log .msg-ai >> text=The AI got it!", timeout=WAIT_MS)
        bo.screenshot(path=artifact("modes-classic-masked-desktop.png"))
        cy.screenshot(path=artifact("modes-classic-masked-phone.png"))
        assert "good luck everyone" not in bo.locator("#chat-log").inner_text(), "the drawer's chat reaches who knows"

        # Bo guesses: the AI's guesses turn plain for him.
        say(bo, word)
        bo.wait_for_selector("#chat-log .msg-correct.msg-me", timeout=WAIT_MS)
        bo.wait_for_function(
            "(w) => [...document.querySelectorAll('#ai-panel .ai-label')].some(e => e.textContent === w)",
            arg=word,
            timeout=WAIT_MS,
        )
        assert not bo.locator("#ai-panel .ai-label.is-masked").count()
        bo.screenshot(path=artifact("modes-classic-guessed-desktop.png"))

        # The phone guesses too: its own line stays beside the input.
        say(cy, word)
        got_it = cy.locator("#chat-log .msg-correct.msg-me").last
        got_it.wait_for(timeout=WAIT_MS)
        assert_beside_input(cy, got_it, "the phone player's correct guess")

        wait_phase([ana, bo, cy], "turn_end")
        scores = {p["name"]: p["score"] for p in state(bo)["players"]}
        assert scores["AI"] > 0 and scores["Bo"] > 0 and scores["Cy"] > 0 and scores["Ana"] > 0, scores
        bo.screenshot(path=artifact("modes-classic-turn-end-desktop.png"))
        cy.screenshot(path=artifact("modes-classic-turn-end-phone.png"))
        # During the game the rules stay a click away beside the players.
        bo.locator(".rules-game summary").click()
        assert "guessed before the AI" in bo.locator(".rules-game .rule-lines").inner_text()


def test_ai_off_and_hidden(browser, live_server_url):  # noqa: F811
    with contextlib.ExitStack() as stack, players(browser, DESKTOP, PHONE) as (ana, bo):
        room = create_room(ana, live_server_url, "Ana")
        join_room(bo, stack.enter_context(another_machine(room, "127.4.14.4")), "Bo")
        ana.wait_for_function("() => window.gtd.state.players.filter(p => !p.is_ai).length === 2", timeout=WAIT_MS)

        ana.select_option("#set-ai-mode", "off")
        for page in (ana, bo):
            page.wait_for_function("() => window.gtd.state.ai_mode === 'off'", timeout=WAIT_MS)
            assert page.locator("#ai-panel").is_hidden(), "AI off: no AI panel"
            assert not any(p["is_ai"] for p in state(page)["players"]), "AI off: no AI in the room"
        assert "The AI is not playing" in " ".join(state(bo)["rule_lines"])
        bo.screenshot(path=artifact("modes-ai-off-lobby-phone.png"))

        ana.select_option("#set-ai-mode", "hidden")
        ana.select_option("#set-draw-seconds", "30")
        ana.wait_for_function(
            "() => window.gtd.state.ai_mode === 'hidden' && window.gtd.state.draw_seconds === 30", timeout=WAIT_MS
        )
        ana.click("#start-button")
        ana.wait_for_selector(".word-choice", timeout=WAIT_MS)
        choices = ana.locator(".word-choice").all_inner_texts()
        word = max(choices, key=lambda w: doodles(w)[0][0] if doodles(w) else 0)
        ana.locator(".word-choice", has_text=re.compile(f"^{re.escape(word)}$")).click()
        wait_phase([ana, bo], "drawing")
        draw(ana, doodles(word)[0][1])
        ana.wait_for_selector("#ai-panel .ai-row", timeout=WAIT_MS)  # the drawer sees them
        assert bo.locator("#ai-panel").is_visible()
        assert "hidden until you guess" in bo.locator("#ai-panel").inner_text()
        assert bo.locator("#ai-panel .ai-row").count() == 0
        bo.screenshot(path=artifact("modes-ai-hidden-phone.png"))
        say(bo, word)
        bo.wait_for_selector("#ai-panel .ai-row", timeout=WAIT_MS)


# --- solo ------------------------------------------------------------------------------------------------


def test_solo_three_words_then_the_end_screen(browser, live_server_url):  # noqa: F811
    with players(browser, DESKTOP) as (page,):
        page.goto(live_server_url + "/")
        page.fill("#name-input", "Sol")
        # The number of words this player chose last time (the end screen and the lobby remember it).
        page.evaluate("([k, v]) => localStorage.setItem(k, v)", [SOLO_WORDS_KEY, "3"])
        page.click("#solo-button")  # one click: the room page starts the game by itself
        page.wait_for_url("**/r/*")
        recognised = 0
        for n in (1, 2, 3):
            page.wait_for_function(
                "(n) => window.gtd.state && window.gtd.state.phase === 'drawing' && window.gtd.state.round === n",
                arg=n,
                timeout=WAIT_MS,
            )
            s = state(page)
            assert s["mode"] == "solo" and s["rounds"] == 3 and s["phase_seconds"] == 20
            word = s["word"]
            assert page.locator("#word").inner_text().strip() == word, "the word to draw is shown"
            assert page.locator("#timer").get_attribute("data-seconds") in {str(x) for x in range(15, 21)}
            if n == 1:
                page.wait_for_selector("#turn-intro:not([hidden])", timeout=WAIT_MS)
                assert word in page.locator("#turn-intro").inner_text()
                page.screenshot(path=artifact("modes-solo-word-desktop.png"))
            # Every word is drawn, so that every drawing has the AI's answers: a word with no short doodle the
            # model is sure of (circle, line, marker, square) gets its shortest one.
            found = doodles(word)
            draw(page, found[0][1] if found else shortest_doodle(word))
            page.wait_for_function("() => window.gtd.state.phase !== 'drawing'", timeout=WAIT_MS)
            if state(page)["phase"] == "turn_end" and state(page)["reveal"]["ai_guessed_ms"] is not None:
                recognised += 1
                assert page.locator("#solo-end").is_visible()
                assert f"Oh, I know, it's {word}!" in page.locator("#solo-end-line").inner_text()
                assert page.locator("#chat-log .msg-ai", has_text="Oh, I know").count() >= 1
                if recognised == 1:
                    page.screenshot(path=artifact("modes-solo-ai-got-it-desktop.png"))
        assert recognised >= 1, "the AI recognised at least one real doodle"

        wait_phase([page], "game_over")
        page.wait_for_selector("#game-over:not([hidden]) [data-testid=gallery-item]", timeout=WAIT_MS)
        page.wait_for_function(
            "() => document.querySelectorAll('#gallery [data-testid=gallery-item]').length === 3", timeout=WAIT_MS
        )
        items = page.locator("#gallery [data-testid=gallery-item]")
        right = 0
        for i in range(3):
            item = items.nth(i)
            when = item.locator("[data-testid=solo-when]").inner_text()
            assert re.fullmatch(r"Recognised in \d+\.\d s|Recognised|Not recognised", when), when
            right += when.startswith("Recognised")
            assert 0 < item.locator("[data-testid=solo-guess]").count() <= 3, "the AI's top-3 for each drawing"
        assert right >= 1
        assert f"recognised {right} of your 3 drawings" in page.locator("#solo-summary").inner_text()
        page.screenshot(path=artifact("modes-solo-end-desktop.png"))
        page.set_viewport_size(PHONE["viewport"])
        page.wait_for_timeout(300)
        page.screenshot(path=artifact("modes-solo-end-phone.png"))
        page.set_viewport_size(DESKTOP["viewport"])

        # Play again, with one word this time: one click back into a drawing.
        page.select_option("#again-words", "1")
        page.wait_for_function("() => window.gtd.state.solo_words === 1", timeout=WAIT_MS)
        page.click("#play-again")
        page.wait_for_function(
            "() => window.gtd.state.phase === 'drawing' && window.gtd.state.game_no === 2 && window.gtd.state.rounds === 1",
            timeout=WAIT_MS,
        )
        assert page.evaluate("(k) => localStorage.getItem(k)", SOLO_WORDS_KEY) == "1"


# --- race ------------------------------------------------------------------------------------------------


# A first stroke that is no drawing of the word: a scribble, or a small octagon for the few words a scribble
# would be a drawing of. (It was a dot: too little ink for a thumbnail, so those seven words always failed.)
SCRIBBLE = [[0, 12, 24, 36, 48, 60], [0, 14, 0, 14, 0, 14]]
RING = [[50, 44, 30, 16, 10, 16, 30, 44, 50], [30, 44, 50, 44, 30, 16, 10, 16, 30]]
SCRIBBLE_WORDS = {"zigzag", "squiggle", "line", "lightning", "mountain", "tent", "crown"}

THUMB_INK_JS = """(el) => { const c = el.querySelector('canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 120) n++; return n; }"""


def wait_for_thumbnails(page) -> None:
    """The other two racers' thumbnails, each with ink and the AI's top-1 (with its probability) under it."""
    page.wait_for_function(
        """() => { const t = [...document.querySelectorAll('#race-strip [data-testid=race-thumb]')];
                   return t.length === 2 && t.every(e => !e.querySelector('.race-ai').classList.contains('is-empty')); }""",
        timeout=WAIT_MS,
    )
    me = page.evaluate("() => window.gtd.playerId")
    others = {p["name"] for p in state(page)["players"] if p["id"] != me}
    assert sorted(page.locator("#race-strip .race-name").all_inner_texts()) == sorted(others)
    for i in range(2):
        thumb = page.locator("#race-strip [data-testid=race-thumb]").nth(i)
        page.wait_for_function(f"(el) => ({THUMB_INK_JS})(el) > 20", arg=thumb.element_handle(), timeout=WAIT_MS)
        assert re.search(r"\d+%$", thumb.locator(".race-ai").inner_text()), "the AI's top-1 with its probability"


def test_race_round_with_three_players(browser, live_server_url):  # noqa: F811
    with contextlib.ExitStack() as stack, players(browser, DESKTOP, DESKTOP, PHONE) as (ana, bo, cy):
        ana.goto(live_server_url + "/")
        ana.fill("#name-input", "Ana")
        ana.click("#race-button")
        ana.wait_for_url("**/r/*")
        ana.wait_for_function("() => window.gtd && window.gtd.state && window.gtd.playerId", timeout=WAIT_MS)
        room = ana.url
        join_room(bo, stack.enter_context(another_machine(room, "127.4.14.5")), "Bo")
        join_room(cy, stack.enter_context(another_machine(room, "127.4.14.6")), "Cy")
        ana.wait_for_function("() => window.gtd.state.players.filter(p => !p.is_ai).length === 3", timeout=WAIT_MS)
        assert state(ana)["mode"] == "race" and not any(p["is_ai"] for p in state(ana)["players"])
        assert ana.locator("#set-word-choices").is_hidden() and ana.locator("#set-ai-mode").is_hidden()
        ana.select_option("#set-rounds", "1")
        ana.select_option("#set-draw-seconds", "30")
        ana.wait_for_function(
            "() => window.gtd.state.rounds === 1 && window.gtd.state.draw_seconds === 30", timeout=WAIT_MS
        )
        ana.screenshot(path=artifact("modes-race-lobby-desktop.png"))
        ana.click("#start-button")
        wait_phase([ana, bo, cy], "drawing")
        word = state(ana)["word"]
        assert all(state(p)["word"] == word and state(p)["can_draw"] for p in (bo, cy)), "everyone draws the same word"

        # Ana and Bo draw a real doodle of the word at once (a stroke each in turn); Cy starts with a scribble.
        found = doodles(word)
        assert found, f"no doodle of {word} that the model recognises"
        racers = [(page, found[i % len(found)][1]) for i, page in enumerate((ana, bo, cy))]
        boxes = {id(page): canvas_box(page) for page, _ in racers}
        for k in range(max(len(d) for _, d in racers[:2])):
            for page, drawing in racers[:2]:
                if k < len(drawing):
                    draw_stroke(page, drawing[k], boxes[id(page)])
        draw_stroke(cy, SCRIBBLE if word not in SCRIBBLE_WORDS else RING, boxes[id(cy)])

        # Each racer sees the other two's canvases live, with the AI's current top-1 under each.
        for page, _ in racers:
            wait_for_thumbnails(page)
        if state(cy)["phase"] == "drawing":  # while Cy still scribbles, Ana and Bo may be placed already
            cy.screenshot(path=artifact("modes-race-drawing-phone.png"))
            ana.screenshot(path=artifact("modes-race-drawing-desktop.png"))
        # Cy thinks better of it: undo, and the real doodle (the others' thumbnails follow the undo).
        if state(cy)["phase"] == "drawing":
            cy.click("#undo-button")
            cy_id = cy.evaluate("() => window.gtd.playerId")
            for page in (ana, bo):
                thumb = page.locator(f"#race-strip [data-owner='{cy_id}']").element_handle()
                page.wait_for_function(
                    f"(el) => ({THUMB_INK_JS})(el) === 0 || window.gtd.state.phase !== 'drawing'",
                    arg=thumb,
                    timeout=WAIT_MS,
                )
            if state(cy)["phase"] == "drawing":
                draw(cy, racers[2][1], pause_ms=50)

        # The round ends (every drawing recognised, or time up): its places, on every screen.
        wait_phase([ana, bo, cy], "turn_end", timeout=45_000)
        for page, _ in racers:
            page.wait_for_selector("#race-end:not([hidden])", timeout=WAIT_MS)
            assert page.locator("#race-places [data-testid=race-row]").count() == 3
        placed = [r for r in state(ana)["racers"] if r["place"]]
        assert placed, "the AI recognised at least one racer's real doodle"
        first = next(r for r in placed if r["place"] == 1)
        assert ana.locator("#race-places [data-testid=race-row]").first.get_attribute("data-place") == "1"
        assert first["name"] in ana.locator("#race-places [data-testid=race-row]").first.inner_text()
        ana.screenshot(path=artifact("modes-race-places-desktop.png"))
        cy.screenshot(path=artifact("modes-race-places-phone.png"))

        wait_phase([ana], "game_over")
        ana.wait_for_function(
            "() => document.querySelectorAll('#gallery [data-testid=gallery-item]').length === 3", timeout=WAIT_MS
        )
        ana.screenshot(path=artifact("modes-race-game-over-desktop.png"))
