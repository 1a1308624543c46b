import logging

from django.apps import AppConfig
from django.db.models.signals import post_migrate

log = logging.getLogger(__name__)


def register_shipped_default(sender, **kwargs) -> None:
    """After every migrate: the shipped model is registered, and active on first start.

    A release that ships a new default registers it too; it takes over only if the old default
    was live (an admin's own activation stands). See inference.services.ensure_default_model.
    """
    from django.conf import settings

    from inference.services import ensure_default_model

    if not (settings.SHIPPED_MODEL_DIR / "model.tflite").exists():
        log.warning("no shipped model at %s", settings.SHIPPED_MODEL_DIR)
        return
    ensure_default_model()


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "AI models"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(register_shipped_default, sender=self)
