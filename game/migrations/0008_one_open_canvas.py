"""One open canvas per player (see 0007). A migration of its own: PostgreSQL creates no index on a table
whose rows the same transaction changed (0007's data) while their triggers are pending."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("game", "0007_drawing_counts"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="drawing",
            constraint=models.UniqueConstraint(
                condition=models.Q(("accepting", True)), fields=("owner",), name="one_open_canvas"
            ),
        ),
    ]
