"""The Content-Security-Policy holds in a real browser: p5.js draws, the socket connects, nothing is blocked."""

from __future__ import annotations

import pytest

from tests.browser import artifact, browser  # noqa: F401
from tests.test_browser_game import DESKTOP, create_room, draw_with_mouse, drawing_for, ink, join_room

pytestmark = pytest.mark.browser

# Playwright's init scripts run outside the page's policy, so this listener sees every violation.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


def test_the_room_page_draws_under_the_policy_with_no_violation(browser, live_server_url):  # noqa: F811
    contexts = [browser.new_context(viewport=DESKTOP) for _ in range(2)]
    ana, bo = (ctx.new_page() for ctx in contexts)
    console: list[str] = []
    for page in (ana, bo):
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda msg: console.append(msg.text))
        page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    try:
        room_url = create_room(ana, live_server_url, "Ana")
        policy = ana.request.get(room_url).headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy, policy
        join_room(bo, room_url, "Bo")
        ana.wait_for_function("() => window.gtd.state.players.filter(p => !p.is_ai).length === 2")
        ana.click("#start-button")
        ana.wait_for_selector(".word-choice", timeout=10_000)
        word = ana.locator(".word-choice").first.inner_text().strip()
        ana.locator(".word-choice").first.click()
        ana.wait_for_function("() => window.gtd.state.phase === 'drawing'")
        draw_with_mouse(ana, drawing_for(word)[:3], [], bo)
        bo.wait_for_timeout(500)
        assert ink(ana) > 200 and ink(bo) > 200, "p5.js drew the strokes on both canvases"
        ana.screenshot(path=artifact("csp-room-drawer.png"))
        violations = ana.evaluate("window.cspViolations") + bo.evaluate("window.cspViolations")
        blocked = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
        assert violations == [] and blocked == [], (violations, blocked)
    finally:
        for ctx in contexts:
            ctx.close()
