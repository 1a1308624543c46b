"""Data migrations on rows written by the release before them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("game", "0006_state_machine")]
AFTER = [("game", "0008_one_open_canvas")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_drawings_of_turns_being_drawn_take_strokes_after_the_upgrade():
    apps = _migrate(BEFORE)
    try:
        room = apps.get_model("game", "Room").objects.create(code="MIGRAT")
        player = apps.get_model("game", "Player")
        ana, bo = (player.objects.create(room=room, name=n, token=n) for n in ("Ana", "Bo"))
        turn = apps.get_model("game", "Turn")
        now = timezone.now()
        old = turn.objects.create(room=room, turn_no=1, started_at=now, ended_at=now)
        stale = turn.objects.create(room=room, turn_no=2, started_at=now)  # a turn that never ended
        drawn = turn.objects.create(room=room, turn_no=3, started_at=now)
        drawing = apps.get_model("game", "Drawing")
        stroke = [[0, 5], [0, 5], [0, 9]]
        rows = {
            "ended": drawing.objects.create(turn=old, owner=ana, strokes=[stroke] * 2),
            "stale": drawing.objects.create(turn=stale, owner=ana, strokes=[stroke]),
            "ana_now": drawing.objects.create(turn=drawn, owner=ana, strokes=[stroke] * 3),
            "bo_now": drawing.objects.create(turn=drawn, owner=bo, strokes=[]),
        }

        apps = _migrate(AFTER)
        after = apps.get_model("game", "Drawing").objects
        got = {name: after.values_list("stroke_count", "accepting").get(pk=row.pk) for name, row in rows.items()}
        assert got == {
            "ended": (2, False),
            "stale": (1, False),  # one open canvas per player: the newest
            "ana_now": (3, True),
            "bo_now": (0, True),
        }
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
