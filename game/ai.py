"""Where the AI's answers enter the game (settings.INFERENCE_RESULT_HANDLER).

The inference consumer calls :func:`on_ai_guess` for every classified
drawing, with the context the game sent along (the canvas's room, turn and
owner). The top-3 goes to the room at once, masked for who does not know the
word, from the newest state of the room this process has seen: a busy
database thread never holds up what players watch.

Then the answer goes through the machine (game.actions.do_ai_answer): it is
judged (the AI scores, a solo word ends, a racer places) and kept, so a
player who joins sees what the live panel shows. A growing drawing is
classified about twice a second and its first guess changes often, but the
game changes only when the AI is sure of a new word: such an answer reaches
the database at once, and so does one the room has not been shown. The others
are kept at most every KEEP_EVERY_SECONDS per canvas, the newest one always
last: a newcomer's snapshot lags the live panel by that much at most, and the
reveal's timeline of the AI's changes of mind has that resolution. Writes run
beside the inference loop, one at a time per canvas: while one is in flight
(or waits for its time) only the newest answer for that canvas waits.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async

from game import actions, publish, rules, runtime, store
from game.domain_events import AIGuessesUpdated

# How often the newest answer of a canvas is kept when it cannot change the game.
KEEP_EVERY_SECONDS = 2.0

_answer = database_sync_to_async(actions.do_ai_answer)


def canvas_key(room_id: int, turn_no: int, owner: int) -> str:
    """A canvas's name for the inference queue: its newest version replaces older waiting ones."""
    return f"{room_id}:{turn_no}:{owner}"


def canvas_context(room_id: int, turn_no: int, owner: int) -> dict:
    return {"room_id": room_id, "turn_no": turn_no, "owner": owner}


async def on_ai_guess(
    *, key: str, context: dict, version: int, guesses: list[tuple[str, float]], n_labels: int | None = None
) -> None:
    shown = await _show_now(context, version, guesses, n_labels)
    answer = {**context, "version": version, "guesses": guesses, "n_labels": n_labels, "shown": shown}
    writes = runtime.current().ai_writes
    writes.waiting[key] = answer
    writer = writes.writing.get(key)
    if writer is None:
        writes.writing[key] = asyncio.ensure_future(_write(writes, key))
    elif key in writes.resting and _due_in(writes, key, answer) <= 0:
        # The writer waits for the time to keep a mere nudge; this answer cannot wait.
        writer.cancel()
        writes.resting.discard(key)
        writes.writing[key] = asyncio.ensure_future(_write(writes, key))


def _due_in(writes: runtime.AIWrites, key: str, answer: dict) -> float:
    """Seconds until `answer` should be kept: 0 when it may change the game (or starts its canvas), else when
    its canvas's time has come."""
    if not answer["shown"]:
        return 0.0  # nobody has seen it yet: the database path shows it
    kept = writes.kept.get(key)
    # What the AI is sure of is the only thing in an answer that can score.
    sure_of = rules.ai_sure_of(answer["guesses"], answer["n_labels"])
    if kept is None or (sure_of is not None and sure_of != kept[0]):
        return 0.0
    return kept[1] + KEEP_EVERY_SECONDS - time.monotonic()


async def _write(writes: runtime.AIWrites, key: str) -> None:
    me = asyncio.current_task()
    try:
        while (answer := writes.waiting.get(key)) is not None:
            delay = _due_in(writes, key, answer)
            if delay > 0:
                writes.resting.add(key)
                try:
                    await asyncio.sleep(delay)
                finally:
                    if writes.writing.get(key) is me:
                        writes.resting.discard(key)
                continue  # a newer answer may have come meanwhile
            del writes.waiting[key]
            await _answer(**answer)
            writes.keep(key, rules.ai_sure_of(answer["guesses"], answer["n_labels"]), time.monotonic())
    finally:
        if writes.writing.get(key) is me:
            del writes.writing[key]


async def _show_now(context: dict, version: int, guesses, n_labels: int | None) -> bool:
    """Send the top-3 to the room now if this process knows the turn it belongs to; False if it does not."""
    state = store.latest_seen(context["room_id"])
    turn = state.turn if state is not None else None
    if turn is None or turn.turn_no != context["turn_no"] or state.phase != rules.Phase.DRAWING or not turn.word:
        return False  # the database path shows it, once it knows
    top = tuple((str(label), float(p)) for label, p in guesses[:3])
    event = AIGuessesUpdated(
        turn_no=turn.turn_no,
        owner=context["owner"],
        version=version,
        guesses=top,
        confident=rules.ai_sure_of(top, n_labels) is not None,
    )
    if not publish.ai_visible(state, event):
        return True  # the AI takes no part in this room: nothing to show, nothing to send later
    code = store.latest_code(context["room_id"])
    if code is None:
        return False
    await publish.send_ai_now(code, publish.ai_message(state, event))
    return True
