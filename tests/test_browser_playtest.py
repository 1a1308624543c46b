"""What players missed in the playtest, checked in real browsers against a real server.

A phone's chat follows the game (own guess and its "close!" beside the input), names are never cut to a
letter by badges, the player count means one thing everywhere, sound cues obey the mute button and
autoplay rules, the AI's voice paces itself and never says a masked label, and every page has a favicon.
"""

from __future__ import annotations

import contextlib
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.browser import artifact, browser  # noqa: F401
from tests.forward import another_machine
from tests.test_browser_game import create_room, join_room

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
NARROW = {"viewport": {"width": 1024, "height": 700}}
NARROW_TOUCH = {**NARROW, "has_touch": True, "is_mobile": True}  # a tablet: no hover, kick buttons always shown
WAIT_MS = 30_000

# Where a chat line is: inside the log's visible box, inside the window, on top (nothing covers it), and
# above the input in the same chat card.
LINE_PLACE_JS = """(el) => {
  const r = el.getBoundingClientRect(), log = document.querySelector('#chat-log').getBoundingClientRect();
  const input = document.querySelector('#chat-input').getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + Math.min(20, r.width / 2), r.top + r.height / 2);
  return {top: r.top, bottom: r.bottom, logTop: log.top, logBottom: log.bottom, inputTop: input.top,
          inputBottom: input.bottom, viewport: window.innerHeight, onTop: Boolean(hit && el.contains(hit))};
}"""

# Capture every cue the page would have played (`gtd:sound`) and count oscillators that really started.
SOUND_SPY_JS = """
window.__cues = [];
window.__oscillators = 0;
document.addEventListener('gtd:sound', (e) => window.__cues.push(e.detail));
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__oscillators += 1; return realStart.apply(this, args); };
"""


@contextmanager
def players(browser, *screens: dict, init_script: str | None = None) -> Iterator[list]:  # noqa: F811
    """A page per screen, each in its own browser context (its own storage); a script error fails the test."""
    contexts = [browser.new_context(**screen) for screen in screens]
    errors: list[str] = []
    try:
        pages = []
        for ctx in contexts:
            if init_script:
                ctx.add_init_script(init_script)
            page = ctx.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            pages.append(page)
        yield pages
        assert not errors, errors
    finally:
        for ctx in contexts:
            ctx.close()


def assert_beside_input(page, locator, what: str) -> None:
    place = locator.evaluate(LINE_PLACE_JS)
    assert place["top"] >= place["logTop"] - 1 and place["bottom"] <= place["logBottom"] + 1, (
        f"{what} outside the log: {place}"
    )
    assert place["top"] >= 0 and place["inputBottom"] <= place["viewport"] + 1, (
        f"{what} or the input off screen: {place}"
    )
    assert place["onTop"], f"{what} is covered: {place}"
    assert place["bottom"] <= place["inputTop"], f"{what} is not above the input: {place}"


def say(page, text: str) -> None:
    page.fill("#chat-input", text)
    page.locator("#chat-input").press("Enter")


def start_and_pick(host, *others) -> str:
    """The host starts the game and, drawing first, picks the first word; returns it once all draw."""
    host.click("#start-button")
    return pick_word(host, *others)


def pick_word(drawer, *others) -> str:
    drawer.wait_for_selector(".word-choice", timeout=WAIT_MS)
    word = drawer.locator(".word-choice").first.inner_text().strip()
    drawer.locator(".word-choice").first.click()
    for page in (drawer, *others):
        page.wait_for_function("() => window.gtd.state.phase === 'drawing'", timeout=WAIT_MS)
    return word


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_own_guess_and_close_stay_beside_the_input_after_the_lobby(browser, live_server_url, screen):  # noqa: F811
    with players(browser, DESKTOP, PHONE if screen == "phone" else DESKTOP) as (host, guest):
        join_room(guest, create_room(host, live_server_url, "Ana"), "Bo")
        # A chatty lobby: more lines than the game's chat box holds (each socket stays inside its burst).
        for i in range(7):
            say(guest, f"hello from Bo {i}")
            say(host, f"hello from Ana {i}")
        guest.wait_for_function("() => document.querySelectorAll('#chat-log .msg').length >= 14", timeout=WAIT_MS)
        guest.screenshot(path=artifact(f"playtest-lobby-chat-{screen}.png"))

        word = start_and_pick(host, guest)
        drawing_now = guest.locator("#chat-log .msg", has_text="is drawing now").last
        drawing_now.wait_for(timeout=WAIT_MS)
        assert_beside_input(guest, drawing_now, "the newest line once the game began")

        near_miss = f"{word}s"
        say(guest, near_miss)
        own = guest.locator("#chat-log .msg-guess.msg-me", has_text=near_miss).last
        close = guest.locator("#chat-log .msg-close", has_text=near_miss).last
        own.wait_for(timeout=WAIT_MS)
        close.wait_for(timeout=WAIT_MS)
        assert_beside_input(guest, own, "the player's own guess")
        assert_beside_input(guest, close, "its 'close!'")
        guest.screenshot(path=artifact(f"playtest-own-guess-{screen}.png"))

        say(guest, word)
        got_it = guest.locator("#chat-log .msg-correct.msg-me").last
        got_it.wait_for(timeout=WAIT_MS)
        assert_beside_input(guest, got_it, "the player's own correct guess")

        if screen == "desktop":
            # The layout changes under a player (a window made narrow): the log keeps its newest line in view.
            guest.set_viewport_size(PHONE["viewport"])
            guest.wait_for_function(
                """() => { const log = document.querySelector('#chat-log'), last = log.lastElementChild;
                           return last.getBoundingClientRect().bottom <= log.getBoundingClientRect().bottom + 1; }""",
                timeout=WAIT_MS,
            )
            guest.screenshot(path=artifact("playtest-desktop-narrowed-to-phone.png"))


NAME_WIDTHS_JS = """() => [...document.querySelectorAll('#players .player')].map((row) => {
  const name = row.querySelector('.player-name'), you = row.querySelector('.you-tag');
  const points = row.querySelector('.player-points').getBoundingClientRect();
  return {name: name.textContent, shown: name.clientWidth, full: name.scrollWidth,
          youClipped: you ? you.getBoundingClientRect().right > points.right + 0.5 : false};
})"""


def check_names(page, where: str, whole: bool) -> list[dict]:
    rows = page.evaluate(NAME_WIDTHS_JS)
    assert len(rows) == 4, rows
    for row in rows:
        chars = len(row["name"])
        # Characters actually shown: the visible width over the average width of one character.
        shown_chars = row["shown"] / (row["full"] / chars)
        assert shown_chars >= min(chars, 6) - 0.01, (
            f"{where}: {row['name']!r} is cut to {shown_chars:.1f} characters: {row}"
        )
        if whole or chars <= 8:
            assert row["shown"] >= row["full"], f"{where}: {row['name']!r} is cut: {row}"
        assert not row["youClipped"], f"{where}: the 'you' tag is cut off: {row}"
    return rows


def test_names_are_never_cut_to_a_letter_and_the_player_count_agrees(browser, live_server_url):  # noqa: F811
    long_name = "Anastasia Wolkenkrat"  # 20 characters, the most a name may have
    with contextlib.ExitStack() as stack:
        _names_and_counts(browser, live_server_url, long_name, stack)


def _names_and_counts(browser, live_server_url, long_name, stack):  # noqa: F811
    with players(browser, NARROW, NARROW_TOUCH, PHONE) as (host, tablet, phone):
        room = create_room(host, live_server_url, "Bob")
        # Each plays on a connection of their own, as on a LAN (a vote counts once per address).
        join_room(tablet, stack.enter_context(another_machine(room, "127.4.0.3")), long_name)
        join_room(phone, stack.enter_context(another_machine(room, "127.4.0.2")), "Cara")
        for page in (host, tablet, phone):
            page.wait_for_function("() => window.gtd.state.players.filter(p => !p.is_ai).length === 3", timeout=WAIT_MS)
        # A vote against Cara shows its tally on the voter's row for her: the widest kick button.
        cara = phone.evaluate("() => window.gtd.playerId")
        tablet.evaluate("(id) => window.gtd.send({type: 'votekick', player_id: id})", cara)
        tablet.wait_for_selector("[data-testid=votekick] .vote-count", timeout=WAIT_MS)

        word = start_and_pick(host, tablet, phone)  # Bob draws: the pencil badge
        say(tablet, word)  # the long name guessed it: the check badge, and first place
        for page in (host, tablet, phone):  # the phone's list is folded until opened below
            page.wait_for_selector("#players .badge-guessed", state="attached", timeout=WAIT_MS)
            page.wait_for_selector("#players .badge-drawing", state="attached", timeout=WAIT_MS)

        check_names(host, "1024 px", whole=False)
        check_names(tablet, "1024 px with touch", whole=False)
        phone.click("#players-toggle")
        phone.wait_for_selector("#players .player", state="visible", timeout=WAIT_MS)
        check_names(phone, "390 px", whole=True)
        host.screenshot(path=artifact("playtest-names-1024.png"))
        tablet.screenshot(path=artifact("playtest-names-1024-touch.png"))
        phone.screenshot(path=artifact("playtest-names-390.png"))

        # One meaning of "players" everywhere: the humans in the room (the AI is listed, not counted).
        assert host.locator("#player-count").inner_text() == "3"
        assert tablet.locator("#player-count").inner_text() == "3"
        assert phone.locator("[data-testid=players-summary-count]").inner_text() == "3"


def cues(page, name: str) -> list[dict]:
    return [c for c in page.evaluate("() => window.__cues") if c["cue"] == name]


def test_sound_cues_obey_the_mute_button_and_toggles_survive_a_reload(browser, live_server_url):  # noqa: F811
    with players(browser, DESKTOP, PHONE, init_script=SOUND_SPY_JS) as (ana, bo):
        join_room(bo, create_room(ana, live_server_url, "Ana"), "Bo")
        for page in (ana, bo):
            assert page.get_attribute("#sound-toggle", "aria-pressed") == "false", "sound is on by default"
            assert page.get_attribute("#voice-toggle", "aria-pressed") == "false", "the voice is off by default"
        ana.select_option("#set-draw-seconds", "30")
        ana.wait_for_function("() => window.gtd.state.draw_seconds === 30", timeout=WAIT_MS)
        # Autoplay rules: nothing sounds before the player touched the page.
        ana.locator("#chat-input").click()
        bo.locator("#chat-input").tap()

        start_and_pick(ana, bo)
        for page in (ana, bo):
            page.wait_for_function("() => window.__cues.some(c => c.cue === 'turn')", timeout=WAIT_MS)
            assert all(c["played"] for c in cues(page, "turn")), cues(page, "turn")
        assert ana.evaluate("() => window.__oscillators") > 0, "the turn cue made sound"

        # Nobody guesses: the last 10 seconds tick, one cue a second, the last 3 higher.
        ana.wait_for_function("() => window.gtd.state.phase === 'turn_end'", timeout=60_000)
        ticks, tocks = cues(ana, "tick"), cues(ana, "tock")
        assert 5 <= len(ticks) <= 7 and 2 <= len(tocks) <= 3, (ticks, tocks)
        assert all(c["played"] for c in ticks + tocks)

        word = pick_word(bo, ana)  # Bo's turn
        say(ana, word)
        ana.wait_for_function("() => window.__cues.some(c => c.cue === 'got-it')", timeout=WAIT_MS)
        bo.wait_for_function("() => window.__cues.some(c => c.cue === 'correct')", timeout=WAIT_MS)
        assert cues(ana, "got-it")[-1]["played"] and cues(bo, "correct")[-1]["played"]

        ana.click("#sound-toggle")
        bo.locator("#voice-toggle").tap()
        assert ana.get_attribute("#sound-toggle", "aria-pressed") == "true"
        assert bo.get_attribute("#voice-toggle", "aria-pressed") == "true"
        for page in (ana, bo):
            page.reload()
            page.wait_for_function("() => window.gtd && window.gtd.state && window.gtd.playerId", timeout=WAIT_MS)
        assert ana.get_attribute("#sound-toggle", "aria-pressed") == "true", "muting survives a reload"
        assert bo.get_attribute("#voice-toggle", "aria-pressed") == "true", "the voice survives a reload"
        assert bo.get_attribute("#sound-toggle", "aria-pressed") == "false"
        ana.screenshot(path=artifact("playtest-muted-desktop.png"))
        bo.screenshot(path=artifact("playtest-voice-on-phone.png"))

        # Muted, a touched page still makes no sound: the next turn's cue is dropped, not queued.
        ana.locator("#chat-input").click()
        bo.locator("#chat-input").tap()
        oscillators = ana.evaluate("() => window.__oscillators")
        pick_word(ana, bo)  # everyone guessed Bo's word: Ana draws next
        for page in (ana, bo):
            page.wait_for_function("() => window.__cues.some(c => c.cue === 'turn')", timeout=WAIT_MS)
        assert not cues(ana, "turn")[-1]["played"] and ana.evaluate("() => window.__oscillators") == oscillators
        assert cues(bo, "turn")[-1]["played"]


# The voice module on its own, in the browser, with a fake synthesiser and clock: what it says and when.
VOICE_JS = """async () => {
  const { Voice, withArticle, MIN_GAP_MS } = await import('/static/js/voice.js');
  const said = [];
  let cancelled = 0;
  const synth = { speaking: false, pending: false, speak: (u) => said.push({ text: u.text, at: t }), cancel: () => { cancelled += 1; } };
  class Utterance { constructor(text) { this.text = text; } }
  let t = 0;
  const top = (label, p = 0.6) => [{ label, p }, { label: 'other', p: 0.1 }];
  const voice = new Voice({ synth, Utterance, now: () => t, on: true });
  const steps = {};
  voice.hear(top('bus'), true); steps.beforeTurn = said.length;    // no drawing yet: silent
  voice.follow({ phase: 'drawing', turn_id: 7 });
  voice.hear(top('bus'), true); steps.first = said.length;
  t = 500; voice.hear(top('school bus'), true); steps.tooSoon = said.length;
  t = 800; voice.hear(top('owl'), true);                           // replaces the waiting one
  t = MIN_GAP_MS + 100; voice.pump(); steps.afterGap = said.length;
  t += 100; voice.hear(top('owl'), true); steps.same = said.length;
  t += 5000; voice.hear(top('▮▮▮'), true); voice.pump(); steps.masked = said.length;
  t += 100; voice.hear(top('cat', 0.2), false); voice.pump(); steps.unsure = said.length;
  synth.speaking = true; t += 5000; voice.hear(top('cat'), true); steps.busy = said.length;
  synth.speaking = false; voice.pump(); steps.afterBusy = said.length;
  t += 5000; voice.hear(top('dog'), true); synth.speaking = true;  // saying "dog" when the drawing ends
  voice.follow({ phase: 'turn_end', turn_id: 7 }); steps.cancelled = cancelled; synth.speaking = false;
  t += 5000; voice.pump(); voice.hear(top('dog'), true); steps.afterTurn = said.length;
  const off = new Voice({ synth, Utterance, now: () => t });
  return { said, steps, defaultOn: off.on, gap: MIN_GAP_MS,
           articles: ['bus', 'owl', 'umbrella', 'unicorn', 'pants', 'The Eiffel Tower', 'hourglass'].map(withArticle) };
}"""


def test_the_voice_paces_itself_and_never_says_a_masked_label(browser, live_server_url):  # noqa: F811
    with players(browser, DESKTOP) as (page,):
        page.goto(live_server_url + "/")
        out = page.evaluate(VOICE_JS)
        steps, said = out["steps"], out["said"]
        assert out["defaultOn"] is False, "off unless the player turned it on"
        assert steps["beforeTurn"] == 0 and steps["first"] == 1 and steps["tooSoon"] == 1
        assert steps["afterGap"] == 2 and "owl" in said[1]["text"], "only the newest waiting guess is said"
        assert not any("school bus" in s["text"] for s in said), "a guess overtaken while waiting is never said"
        assert steps["same"] == 2, "the same top-1 is not repeated"
        assert steps["masked"] == 2 and not any("▮" in s["text"] for s in said), "a masked label is never spoken"
        assert steps["unsure"] == 2, "only confident guesses are spoken"
        assert steps["busy"] == 2 and steps["afterBusy"] == 3, "nothing is queued behind speech"
        assert steps["afterTurn"] == 4 and steps["cancelled"] == 1, "a finished drawing cuts the voice off"
        gaps = [b["at"] - a["at"] for a, b in zip(said, said[1:], strict=False)]
        assert all(g >= out["gap"] for g in gaps), (gaps, said)
        assert [s["text"] for s in said] == [
            "I see a bus.",
            "Is it an owl?",
            "Or maybe a cat?",
            "Oh, I think it is a dog!",
        ]
        assert out["articles"] == [
            "a bus",
            "an owl",
            "an umbrella",
            "a unicorn",
            "pants",
            "The Eiffel Tower",
            "an hourglass",
        ]


ICON_JS = "() => document.querySelector('link[rel=icon]')?.getAttribute('href')"


def test_every_page_links_the_svg_favicon(browser, live_server_url):  # noqa: F811
    from django.template.loader import render_to_string

    with players(browser, DESKTOP) as (page,):
        page.goto(live_server_url + "/")
        links = {"home": page.evaluate(ICON_JS)}
        create_room(page, live_server_url, "Ana")
        links["room"] = page.evaluate(ICON_JS)
    for template in ("404.html", "500.html"):  # served with DEBUG off only: rendered here
        found = re.search(r'<link rel="icon"[^>]*href="([^"]+)"', render_to_string(template))
        links[template] = found and found.group(1)
    assert all(href and href.endswith("/img/favicon.svg") for href in links.values()), links
    with urllib.request.urlopen(live_server_url + links["home"], timeout=30) as icon:
        assert icon.headers.get_content_type() == "image/svg+xml"
        assert b"<svg" in icon.read()
