"""Where the AI's answers enter the game (settings.INFERENCE_RESULT_HANDLER).

The inference consumer calls :func:`on_ai_guess` for every classified
drawing, with the context the game sent along (the canvas's room, turn and
owner). The top-3 goes to the room at once, masked for who does not know the
word, from the newest state of the room this process has seen: a busy
database thread never holds up what players watch. Then the answer goes
through the machine (game.actions.do_ai_answer): it is judged (the AI scores,
a solo word ends, a racer places) and kept, so a player who joins sees what
the live panel shows. Those writes run beside the inference loop, one at a
time per canvas: while one is in flight only the newest answer for that
canvas waits (an older one would be ignored by the machine anyway).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from game import actions, publish, rules, runtime, store
from game.domain_events import AIGuessesUpdated

log = logging.getLogger(__name__)

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
    here = runtime.current()
    if key in here.ai_writing:
        here.ai_waiting[key] = answer
        return
    here.ai_writing[key] = asyncio.ensure_future(_write(here, key, answer))


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
        confident=bool(top) and top[0][1] >= rules.ai_threshold(n_labels),
    )
    if not publish.ai_visible(state, event):
        return True  # the AI takes no part in this room: nothing to show, nothing to send later
    code = store.latest_code(context["room_id"])
    if code is None:
        return False
    await publish.send_ai_now(code, publish.ai_message(state, event))
    return True


async def _write(here: runtime.Runtime, key: str, answer: dict | None) -> None:
    try:
        while answer is not None:
            await _answer(**answer)
            answer = here.ai_waiting.pop(key, None)
    finally:
        here.ai_writing.pop(key, None)
