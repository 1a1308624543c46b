"""ASGI entry point: HTTP, the game's WebSockets and the `inference` channel."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from config.background import with_background_services  # noqa: E402
from config.proxy import behind_trusted_proxies  # noqa: E402
from config.websocket_security import SameOriginValidator, refuse  # noqa: E402
from game.routing import websocket_urlpatterns  # noqa: E402
from inference.consumers import INFERENCE_CHANNEL, InferenceConsumer  # noqa: E402

channel_routes = ChannelNameRouter({INFERENCE_CHANNEL: InferenceConsumer.as_asgi()})
# A path with no route is refused at the handshake (403), not answered with URLRouter's ValueError (500).
websocket_routes = SameOriginValidator(URLRouter([*websocket_urlpatterns, re_path(r"", refuse)]))

application = with_background_services(
    ProtocolTypeRouter(
        {
            "http": behind_trusted_proxies(django_asgi_app),
            "websocket": behind_trusted_proxies(websocket_routes),
            "channel": channel_routes,
        }
    ),
)

# Everything loaded so far (Django, the game, numpy, LiteRT: about 100,000
# objects) lives as long as the process. Frozen, the cyclic collector's full
# passes stop walking it: under load those passes stopped the whole process
# for 70-80 ms every few seconds; now 15-25 ms.
gc.freeze()
