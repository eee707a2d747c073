"""Dealcast settings, all read from the environment here and nowhere else.

Defaults are the safe production ones. ``DEALCAST_LOCAL=1`` (set by ``make run`` and ``make test``)
turns on the local demo over plain http on 127.0.0.1; it is never on by default.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


LOCAL_MODE = env_bool("DEALCAST_LOCAL")
DEBUG = env_bool("DEBUG")


# The checkout's own data (embedded servers, demo secrets, demo mail), where localdev.embedded keeps it.
VAR_DIR = Path(os.environ.get("DEALCAST_VAR_DIR", BASE_DIR / "var"))


def _local_secret(name: str, make) -> str:
    """A secret kept under var/ for the checkout's own demo servers, made on first use."""
    path = VAR_DIR / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
    return path.read_text().strip()


# When manage.py or the test run started the checkout's embedded servers (no DATABASE_URL given), the
# data is the demo city under var/, never a production database: it signs with the demo's secret, as
# `make run` does.
USES_CHECKOUT_DATA = env_bool("DEALCAST_CHECKOUT_DATA")
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    _local_secret("secret_key", lambda: secrets.token_urlsafe(50)) if LOCAL_MODE or USES_CHECKOUT_DATA else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set (it is generated under var/ only for the checkout's embedded demo servers,"
        " or with DEALCAST_LOCAL=1)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if LOCAL_MODE else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PORT = env_int("PORT", 8000)

# From a checkout, manage.py, the launcher and the test run start embedded servers and name them here
# first (``localdev.embedded.use_unless_configured``); loading the settings starts nothing.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
if not DATABASE_URL or not REDIS_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL and REDIS_URL must be set (from a checkout, `make run` and manage.py start embedded"
        " servers under var/ and set them)."
    )

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "eventlog",
    "accounts",
    "markets",
    "discounts",
    "realtime",
    "notifications",
    "dashboard",
    "demo",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "accounts.client_address.ClientAddressMiddleware",
    "config.middleware.CorrelationIdMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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

# Under ASGI, Django's persistent connections leak (one per thread that ever queried, and async code
# queries from many threads): `make bench` exhausted PostgreSQL with them. A psycopg pool per process
# instead, bounded; Django has the pool check each connection on checkout, so a restarted PostgreSQL
# costs no failed query.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": 1,
    "max_size": env_int("DB_POOL_MAX_SIZE", 16),
    "timeout": env_float("DB_POOL_TIMEOUT_SECONDS", 10),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock a username from one address after repeated failures, not the whole address: many shoppers
# share a carrier's NAT.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client address comes from one place (accounts.client_address.ClientAddressMiddleware), which trusts
# X-Forwarded-For only as far as this many proxies of ours: the lockout, the throttles and the logs
# all use it. daphne runs without --proxy-headers, which would take the header from anyone.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
AXES_SENSITIVE_PARAMETERS = ["password"]
SIGNUPS_PER_HOUR = env_int("SIGNUPS_PER_HOUR", 5)
# Lockouts get a page that says how long to wait and how to get back in (429, as before).
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Mail (password resets): SMTP from the environment; the local demo writes each mail to a file
# under var/mail/, where the person trying the demo can open it.
if LOCAL_MODE and not os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Dealcast <no-reply@dealcast.example>")
# Absolute links in mail (password resets, address checks, the digest) point here, never at the Host
# header a request came with. Production must name it (`check --deploy` says so when it is missing).
SITE_URL = os.environ.get("SITE_URL", f"http://127.0.0.1:{PORT}" if LOCAL_MODE else "").rstrip("/")
# Password-reset mail, counted per address asked for and per client address, in an hour.
PASSWORD_RESETS_PER_ADDRESS = env_int("PASSWORD_RESETS_PER_ADDRESS", 3)
PASSWORD_RESETS_PER_CLIENT = env_int("PASSWORD_RESETS_PER_CLIENT", 10)
# How long the link that proves an e-mail address stays good.
EMAIL_VERIFICATION_DAYS = env_int("EMAIL_VERIFICATION_DAYS", 3)

# Web Push (VAPID, RFC 8292): the application server's P-256 private key, base64url of its 32 raw
# bytes; the public key browsers subscribe with is derived from it. Without one, push is off.
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY") or (
    _local_secret("vapid_private_key", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode())
    if LOCAL_MODE or USES_CHECKOUT_DATA else ""
)
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "mailto:operator@dealcast.example")
NOTIFY_BATCH_SIZE = env_int("NOTIFY_BATCH_SIZE", 200)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 6)
NOTIFY_BACKOFF_SECONDS = env_float("NOTIFY_BACKOFF_SECONDS", 10.0)
# One push's whole exchange with its push service (connect, send, read) must end within this; the
# notifier's lease on a row (notifications.delivery.LEASE) is longer, so no push is sent twice.
NOTIFY_PUSH_TIMEOUT_SECONDS = env_float("NOTIFY_PUSH_TIMEOUT_SECONDS", 10.0)
# Pushes one notifier process has in flight at once, over all push services.
NOTIFY_PUSH_CONCURRENCY = env_int("NOTIFY_PUSH_CONCURRENCY", 100)
# The push services browsers may subscribe with (`host[:port]`, `*.` for a domain's hosts): the
# notifier sends nowhere else. The browsers' public services by default; a listed loopback host may
# use plain http (a push service run by the tests).
PUSH_SERVICE_HOSTS = env_list(
    "PUSH_SERVICE_HOSTS",
    "fcm.googleapis.com,updates.push.services.mozilla.com,web.push.apple.com,*.notify.windows.com",
)
# The unsubscribe link in a digest stops working after this many days (each digest brings a new one).
DIGEST_UNSUBSCRIBE_DAYS = env_int("DIGEST_UNSUBSCRIBE_DAYS", 60)
DIGEST_HOUR = env_int("DIGEST_HOUR", 7)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
# The city's time: staff type and read times in it (stored in UTC). The demo city is Berlin.
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by WhiteNoise from every web process; the local demo reads the source folders directly.
WHITENOISE_USE_FINDERS = LOCAL_MODE
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if LOCAL_MODE
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Security: production-safe unless the local demo is explicitly on.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not LOCAL_MODE)
SESSION_COOKIE_SECURE = not LOCAL_MODE
CSRF_COOKIE_SECURE = not LOCAL_MODE
SECURE_HSTS_SECONDS = 0 if LOCAL_MODE else env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not LOCAL_MODE
SECURE_HSTS_PRELOAD = not LOCAL_MODE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy: scripts only from this origin, never inline. Styles may be inline because
# Leaflet and the API docs (Redoc) set them at run time.
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")


def _origin_of(url_template: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url_template.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", _origin_of(MAP_TILE_URL)],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Channels: the pub/sub layer, so group membership lives in each web process, not in Redis. The
# prefix also names the other keys of one deployment in a shared Redis (realtime.log_epoch).
CHANNEL_LAYER_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "dealcast")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
    }
}

# Celery: Redis is only the wake-up channel; the outbox table is the record of what to relay.
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "dealcast")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Early acks on purpose. A task message is only a wake-up (the outbox table is the record), so a
# wake-up lost with a killed worker costs at most one sweep. With acks_late, losing the Redis
# connection while a message is unacknowledged sends kombu's restore path into an unrecoverable
# error that kills the worker (seen in `make faults`, Celery 5.7 / kombu on Redis).
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# The relay's safety net: rows whose wake-up was lost go out within this interval.
RELAY_SWEEP_SECONDS = env_float("RELAY_SWEEP_SECONDS", 1.0)
# A process wakes the relay at most this often; commits meanwhile ride on the next wake-up.
RELAY_WAKE_INTERVAL_SECONDS = env_float("RELAY_WAKE_INTERVAL_SECONDS", 0.01)
CELERY_BEAT_SCHEDULE = {
    "relay-outbox-sweep": {"task": "realtime.tasks.relay_outbox", "schedule": RELAY_SWEEP_SECONDS},
    "discount-schedule": {"task": "discounts.tasks.apply_schedule", "schedule": env_float("SCHEDULE_TICK_SECONDS", 5.0)},
    "outbox-prune": {"task": "realtime.tasks.prune_outbox", "schedule": timedelta(hours=1)},
    # The notifier reads the log on its own queue and at its own pace (notifications.notifier).
    # Wake-ups expire: a notifier that was down reads the log once when back, not once per missed tick.
    "notify": {
        "task": "notifications.tasks.notify", "schedule": env_float("NOTIFY_SWEEP_SECONDS", 0.25), "options": {"expires": 10},
    },
    "digests": {
        "task": "notifications.tasks.send_digests", "schedule": env_float("DIGEST_SWEEP_SECONDS", 300.0),
        "options": {"expires": 60},
    },
}
# The notifier's own queue, consumed by its own worker (`celery -A config worker -Q <NOTIFY_QUEUE>`):
# a backlog of notifications never delays the relay that feeds the sockets.
NOTIFY_QUEUE = os.environ.get("NOTIFY_QUEUE", CELERY_TASK_DEFAULT_QUEUE + "-notify")
CELERY_TASK_ROUTES = {"notifications.tasks.*": {"queue": NOTIFY_QUEUE}, "accounts.tasks.*": {"queue": NOTIFY_QUEUE}}

REST_FRAMEWORK = {
    # Throttles key on REMOTE_ADDR, already the client's (ClientAddressMiddleware); DRF's default
    # would key on the raw X-Forwarded-For a client can change at will.
    "NUM_PROXIES": 0,
    # Token first, so an anonymous API caller gets 401 with WWW-Authenticate rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON", "120/min"),
        "user": os.environ.get("THROTTLE_USER", "600/min"),
    },
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dealcast API",
    "DESCRIPTION": "Deals published by markets near you, live.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Self-hosted UI assets: no CDN, and a CSP without third-party script origins.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Rate limits only; while Redis is away they count in each process's memory (config/cache.py). Short
# socket timeouts so a Redis that stopped answering costs a request half a second, once per 5 s.
CACHES = {
    "default": {
        "BACKEND": "config.cache.FailSoftRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "dealcast",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

# Dealcast's own knobs.
DEALCAST_CURRENCY = os.environ.get("DEALCAST_CURRENCY", "EUR")
DEALCAST_SOURCE = os.environ.get("DEALCAST_SOURCE", "dealcast")
OUTBOX_RETENTION = timedelta(days=env_float("OUTBOX_RETENTION_DAYS", 7))
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 500)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 5)
REALTIME_RECONCILE_SECONDS = env_float("REALTIME_RECONCILE_SECONDS", 1.0)
# A socket whose client leaves this many bytes unread is closed with 4008 and resumes from its cursor.
REALTIME_MAX_UNSENT_BYTES = env_int("REALTIME_MAX_UNSENT_BYTES", 256 * 1024)
# Open live sockets one login session, and one account, may hold on a web process.
REALTIME_MAX_SOCKETS_PER_SESSION = env_int("REALTIME_MAX_SOCKETS_PER_SESSION", 10)
REALTIME_MAX_SOCKETS_PER_ACCOUNT = env_int("REALTIME_MAX_SOCKETS_PER_ACCOUNT", 20)
# Seconds a web process stays subscribed to a cell after its last socket there left: sockets that drop
# together (a network blip, a balancer restart) come back within this and find it joined (realtime/hub.py).
REALTIME_LEAVE_AFTER_SECONDS = env_float("REALTIME_LEAVE_AFTER_SECONDS", 30.0)
# How long a web process trusts a login it read for a socket, unless it hears it end (realtime/logins.py; 0: never).
REALTIME_LOGIN_REMEMBER_SECONDS = env_float("REALTIME_LOGIN_REMEMBER_SECONDS", 60.0)
# Log positions each web process keeps decoded for resumes and repair (realtime/recent_log.py; ~2.6 KB each).
REALTIME_RECENT_EVENTS = env_int("REALTIME_RECENT_EVENTS", 10_000)
# Gen-0 threshold of the web process's garbage collector (0: CPython's default); see realtime/tuning.py.
REALTIME_GC_THRESHOLD = env_int("REALTIME_GC_THRESHOLD", 50_000)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# LOG_FORMAT=json gives one JSON object per line, for log shippers; both carry the correlation id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "config.logging.CorrelationIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": os.environ.get("LOG_FORMAT", "plain"),
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
