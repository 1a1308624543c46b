"""Drawings count their strokes and say whether their owner may draw on them now (game.drawings)."""

from django.db import migrations, models


def count_and_open(apps, schema_editor):
    """Count every drawing's strokes; the drawings of turns still being drawn accept strokes."""
    drawing = apps.get_model("game", "Drawing")
    table = schema_editor.quote_name(drawing._meta.db_table)
    length = (
        "jsonb_array_length(strokes)"
        if schema_editor.connection.vendor == "postgresql"
        else "json_array_length(strokes)"
    )
    schema_editor.execute(f"UPDATE {table} SET stroke_count = {length}")
    open_ids = {}
    unfinished = drawing.objects.filter(
        turn__started_at__isnull=False, turn__ended_at__isnull=True, owner__isnull=False
    )
    for pk, owner in unfinished.order_by("pk").values_list("pk", "owner_id"):
        open_ids[owner] = pk  # an owner's newest drawing, should an old turn never have ended
    drawing.objects.filter(pk__in=open_ids.values()).update(accepting=True)


class Migration(migrations.Migration):
    dependencies = [
        ("game", "0006_state_machine"),
    ]

    operations = [
        migrations.AddField(
            model_name="drawing",
            name="accepting",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="drawing",
            name="stroke_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_and_open, migrations.RunPython.noop),
    ]
