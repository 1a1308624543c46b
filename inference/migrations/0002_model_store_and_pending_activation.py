"""Version files are named relative to MODEL_STORE_DIR (they were relative to BASE_DIR), and swaps can wait.

Paths inside the store become store-relative; others (the shipped default in
the checkout) become absolute, and post_migrate then copies the shipped default
into the store (inference.services.current_shipped_default).
"""

from pathlib import Path

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def paths_relative_to_the_store(apps, schema_editor):
    ModelVersion = apps.get_model("inference", "ModelVersion")
    store = Path(settings.MODEL_STORE_DIR).resolve()
    for version in ModelVersion.objects.all():
        path = Path(version.file_path)
        if not path.is_absolute():
            path = Path(settings.BASE_DIR) / path
        try:
            stored = str(path.resolve().relative_to(store))
        except ValueError:
            stored = str(path.resolve())
        if stored != version.file_path:
            ModelVersion.objects.filter(pk=version.pk).update(file_path=stored)


def paths_relative_to_base_dir(apps, schema_editor):
    ModelVersion = apps.get_model("inference", "ModelVersion")
    base, store = Path(settings.BASE_DIR).resolve(), Path(settings.MODEL_STORE_DIR)
    for version in ModelVersion.objects.all():
        path = Path(version.file_path)
        path = (path if path.is_absolute() else store / path).resolve()
        try:
            stored = str(path.relative_to(base))
        except ValueError:
            stored = str(path)
        ModelVersion.objects.filter(pk=version.pk).update(file_path=stored)


class Migration(migrations.Migration):
    dependencies = [
        ("inference", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(paths_relative_to_the_store, paths_relative_to_base_dir),
        migrations.CreateModel(
            name="PendingActivation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("requested_by", models.CharField(blank=True, max_length=150)),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                (
                    "waiting_for",
                    models.JSONField(blank=True, default=list, help_text="Words in play it lacks, when last checked."),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pending_activations",
                        to="inference.modelversion",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
            },
        ),
    ]
