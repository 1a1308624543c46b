"""How often the AI's answers reach the database (game.ai): at once when they can change the game, else seldom.

The writes are recorded instead of run (the machine's judging is tested in test_machine and, end to end, in
test_game_consumer); the waits are conditions with generous bounds, never timings.
"""

from __future__ import annotations

import asyncio

import pytest

from game import ai, rules, runtime

KEY = ai.canvas_key(1, 1, 7)
CONTEXT = ai.canvas_context(1, 1, 7)


@pytest.fixture
def written(monkeypatch):
    kept: list[dict] = []

    async def record(**answer):
        kept.append(answer)

    async def shown(*args):
        return True

    monkeypatch.setattr(ai, "_answer", record)
    monkeypatch.setattr(ai, "_show_now", shown)
    return kept


def nudge(p: float) -> list:
    return [("cat", p), ("dog", 0.08), ("lion", 0.05)]


UNSURE = 0.15  # under the AI's threshold (rules.AI_CONFIDENCE)


assert UNSURE + 10 / 200 < rules.ai_threshold(345) <= 0.99


async def answer(version: int, guesses=None) -> None:
    guesses = guesses or nudge(UNSURE)
    await ai.on_ai_guess(key=KEY, context=CONTEXT, version=version, guesses=guesses, n_labels=345)


async def until(condition, bound: float = 30.0) -> None:
    async with asyncio.timeout(bound):
        while not condition():
            await asyncio.sleep(0.01)


async def test_answers_the_ai_is_unsure_of_are_kept_seldom_and_the_newest_last(written, monkeypatch):
    monkeypatch.setattr(ai, "KEEP_EVERY_SECONDS", 0.3)
    await answer(1)
    await until(lambda: len(written) == 1)
    for version in range(2, 11):
        guesses = nudge(UNSURE + version / 200)
        if version % 3 == 0:  # the first guess changes too: still nothing the AI could score with
            guesses = [("dog", UNSURE + version / 200), ("cat", 0.08), ("lion", 0.05)]
        await answer(version, guesses)
    await until(lambda: not runtime.current().ai_writes.writing)
    assert [a["version"] for a in written] == [1, 10], "one answer kept for the nine, and it is the newest"
    assert written[-1]["guesses"] == nudge(UNSURE + 10 / 200)


async def test_a_new_word_the_ai_is_sure_of_is_kept_at_once_even_while_a_nudge_waits_for_its_time(written, monkeypatch):
    monkeypatch.setattr(ai, "KEEP_EVERY_SECONDS", 3600.0)
    await answer(1, [("dog", 0.9), ("cat", 0.05), ("lion", 0.01)])
    await until(lambda: len(written) == 1)
    await answer(2, [("cat", 0.2), ("dog", 0.1), ("lion", 0.01)])  # a new first guess, unsure: it waits
    await until(lambda: KEY in runtime.current().ai_writes.resting)
    await answer(3, [("cat", 0.9), ("dog", 0.05), ("lion", 0.01)])  # sure of another word: it may score
    await until(lambda: len(written) == 2)
    assert written[1]["version"] == 3
    assert not runtime.current().ai_writes.waiting, "the answer it replaced is not kept after it"


async def test_the_ai_becoming_sure_is_kept_at_once(written, monkeypatch):
    monkeypatch.setattr(ai, "KEEP_EVERY_SECONDS", 3600.0)
    await answer(1)
    await until(lambda: len(written) == 1)
    await answer(2, nudge(0.99))  # the same first guess, now over the threshold: the AI may score
    await until(lambda: len(written) == 2)
    assert written[1]["version"] == 2


async def test_an_answer_nobody_was_shown_yet_is_kept_at_once(written, monkeypatch):
    monkeypatch.setattr(ai, "KEEP_EVERY_SECONDS", 3600.0)

    async def not_shown(*args):
        return False  # this process did not know the turn: the database path must show it

    await answer(1)
    await until(lambda: len(written) == 1)
    monkeypatch.setattr(ai, "_show_now", not_shown)
    await answer(2, nudge(UNSURE + 0.01))
    await until(lambda: len(written) == 2)
    assert written[1] == {**CONTEXT, "version": 2, "guesses": nudge(UNSURE + 0.01), "n_labels": 345, "shown": False}
