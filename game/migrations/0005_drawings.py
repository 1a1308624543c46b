"""Drawings leave the turn: one Drawing per canvas (a race has one per racer), copied from the turns.

Games in progress cannot carry over into the state machine's document (their
rooms are deleted; their turns stay, as history and training data).
"""

import django.db.models.deletion
from django.db import migrations, models


def drawings_from_turns(apps, schema_editor):
    Turn = apps.get_model("game", "Turn")
    Drawing = apps.get_model("game", "Drawing")
    Room = apps.get_model("game", "Room")
    batch = []
    for turn in Turn.objects.exclude(word="").iterator():
        batch.append(
            Drawing(
                turn_id=turn.pk,
                owner_id=turn.drawer_id,
                owner_name=turn.drawer_name,
                word=turn.word,
                strokes=turn.strokes,
                stroke_widths=turn.stroke_widths,
                points_count=turn.points_count,
                canvas_width=turn.canvas_width,
                canvas_height=turn.canvas_height,
                ai_latest=turn.ai_latest,
                ai_timeline=turn.ai_timeline,
                recognised_ms=turn.ai_guessed_ms,
                excluded_from_training=turn.excluded_from_training,
            )
        )
        if len(batch) >= 500:
            Drawing.objects.bulk_create(batch)
            batch = []
    Drawing.objects.bulk_create(batch)
    Turn.objects.update(turn_no=models.F("id"))
    Room.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("game", "0004_limits_per_address_and_drawing"),
    ]

    operations = [
        migrations.CreateModel(
            name="Drawing",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("owner_name", models.CharField(blank=True, max_length=20)),
                ("word", models.CharField(blank=True, max_length=100)),
                ("strokes", models.JSONField(blank=True, default=list)),
                ("stroke_widths", models.JSONField(blank=True, default=list)),
                ("stroke_colors", models.JSONField(blank=True, default=list)),
                ("points_count", models.PositiveIntegerField(default=0)),
                ("canvas_width", models.PositiveIntegerField(default=0)),
                ("canvas_height", models.PositiveIntegerField(default=0)),
                ("ai_latest", models.JSONField(blank=True, default=list)),
                ("ai_timeline", models.JSONField(blank=True, default=list)),
                ("recognised_ms", models.IntegerField(blank=True, null=True)),
                ("excluded_from_training", models.BooleanField(default=False)),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="game.player",
                    ),
                ),
                (
                    "turn",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="drawings", to="game.turn"
                    ),
                ),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.AddField(model_name="turn", name="turn_no", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(
            model_name="turn",
            name="mode",
            field=models.CharField(
                choices=[("classic", "classic"), ("solo", "solo"), ("race", "race")], default="classic", max_length=16
            ),
        ),
        migrations.AddField(model_name="turn", name="end_reason", field=models.CharField(blank=True, max_length=32)),
        migrations.AddField(model_name="turn", name="guesses", field=models.JSONField(blank=True, default=list)),
        migrations.RunPython(drawings_from_turns, migrations.RunPython.noop),
    ]
