"""Settings for Guess the Doodle.

Without any environment variables this is the embedded default: SQLite, the
in-memory channel layer and inference inside the web process. `REDIS_URL`
switches the channel layer to Redis (for several web and inference
processes), `DATABASE_URL` the database.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "inference",
    "training",
    "game",
    "tools",  # bots, loadtest, fuzz: commands only (its packages are in requirements-tools.txt)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Consumers reach the database through database_sync_to_async, which
        # closes expired connections on every call: with 0 every message would
        # open (and set up) a new connection.
        conn_max_age=600,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while a writer commits; the timeout rides out
    # short write bursts instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# p5.js comes from npm (package.json) and is served by Django, never from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/p5", BASE_DIR / "node_modules" / "p5" / "lib")]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Two channel layers (config.layers.ROOM_LAYER): "rooms" carries the sockets'
# traffic (room and player groups, each socket's channel); "default" carries
# work queues (the `inference` channel, which any number of workers share).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # channels_redis #422: without socket_timeout None, redis-py 8 drops a
    # blocking read after 5 s and idle consumers die.
    _redis_hosts = [{"address": REDIS_URL, "socket_timeout": None}]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "config.layers.RedisWorkQueueLayer",
            "CONFIG": {"hosts": _redis_hosts, "capacity": 1000, "expiry": 30},
        },
        # Pub/sub: a room event is one PUBLISH, read once by each web process
        # that has a socket in the room. The list-based layer runs a script and
        # a pop per receiving socket, and held under half the players.
        "rooms": {"BACKEND": "config.layers.PipelinedPubSubChannelLayer", "CONFIG": {"hosts": _redis_hosts}},
    }
else:
    _in_memory = {"BACKEND": "config.layers.FastInMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    CHANNEL_LAYERS = {"default": _in_memory, "rooms": _in_memory}

# Per-address limits (game/address_limits.py) are counted here: shared by all
# web processes when Redis is there.
CACHES = (
    {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    if REDIS_URL
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)

ADDRESS_LIMITS = {
    "create_room": (int(os.environ.get("ROOMS_PER_ADDRESS", "10")), 600),
    "try_code": (int(os.environ.get("CODES_PER_ADDRESS", "30")), 60),
    "open_socket": (int(os.environ.get("SOCKET_OPENS_PER_ADDRESS", "60")), 60),
}
# One address (a household behind one router) may hold this many seats in one room, and this many
# open game sockets on one web process. Load tests from one machine raise them (see README).
SEATS_PER_ADDRESS = int(os.environ.get("SEATS_PER_ADDRESS", "3"))
SOCKETS_PER_ADDRESS = int(os.environ.get("SOCKETS_PER_ADDRESS", "16"))

# With no Redis the web process also runs the inference consumer and the game
# clock itself; with Redis they are separate processes
# (`manage.py runworker inference`, `manage.py run_clock`) unless forced on.
EMBEDDED_SERVICES = env_bool("EMBEDDED_SERVICES", not REDIS_URL)

# Where model files live: the shipped default inside the repository, trained
# ones in a data folder shared by web, workers and training.
SHIPPED_MODEL_DIR = BASE_DIR / "inference" / "shipped_model"
MODEL_STORE_DIR = Path(os.environ.get("MODEL_STORE_DIR", BASE_DIR / "var" / "models"))
# The real Quick, Draw! sample every developer and CI machine has beside the project (simplified ndjson).
QUICKDRAW_SAMPLE_DIR = Path(os.environ.get("QUICKDRAW_SAMPLE_DIR", BASE_DIR.parent / "shared" / "quickdraw" / "simplified"))
QUICKDRAW_CACHE_DIR = Path(os.environ.get("QUICKDRAW_CACHE_DIR", BASE_DIR / "var" / "quickdraw"))
# Google's public bucket; tests point this at a loopback fake.
QUICKDRAW_BASE_URL = os.environ.get("QUICKDRAW_BASE_URL", "https://storage.googleapis.com/quickdraw_dataset")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# What the inference consumer does with each top-3: the game sends it to the
# room's group and records what matters (timeline, AI scoring). A sync
# handler is run in the database thread, an async one on the event loop.
INFERENCE_RESULT_HANDLER = "game.ai.on_ai_guess"
# Each web process runs the game clock (timers fire once however many run).
GAME_CLOCK_IN_WEB = env_bool("GAME_CLOCK_IN_WEB", True)
