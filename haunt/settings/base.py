"""Settings for both run profiles (style guide §3.1: base holds everything).

The environment picks the profile: with no DATABASE_URL the platform runs on SQLite (WAL) under
./var; with no REDIS_URL it uses the in-process channel layer and cache, runs Celery tasks eagerly
and the beat schedule inside the platform process. With both set it is the production profile:
PostgreSQL, Redis for channels, cache and the Celery broker, separate worker and beat processes.
"""
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parents[2]


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("HAUNT_VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not REDIS_URL  # no Redis: market feed and periodic jobs must live in the ASGI process

# A server deployment: a database or Redis on the network, shared by processes and data that matter.
SERVER_PROFILE = bool(DATABASE_URL or REDIS_URL)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
# Django's own bar for a key (check --deploy, security.W009): 50 characters, 5 distinct ones.
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_UNIQUE_CHARACTERS = 50, 5
if SERVER_PROFILE:
    # DEBUG too: a server reachable by others must never sign sessions and tokens with a key anyone
    # can read in this file, nor with one that can be guessed.
    if (len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or SECRET_KEY.startswith("django-insecure")):
        raise RuntimeError(
            f"SECRET_KEY must be set to at least {SECRET_KEY_MIN_LENGTH} random characters when DATABASE_URL or "
            "REDIS_URL selects a server deployment, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'.")
elif not SECRET_KEY:
    SECRET_KEY = "embedded-profile-only-not-a-secret"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# HTTPS (docs/operations.md, "HTTPS"). The production profile is served to the public through a load
# balancer that terminates TLS and says so in X-Forwarded-Proto; the platform then redirects plain
# HTTP to HTTPS, asks browsers to keep to HTTPS (HSTS) and sends its cookies over HTTPS only. The
# embedded profile runs on plain HTTP on one machine. Each is an environment setting.
# SECURE_PROXY_SSL_HEADER is "<Header-Name>: <value>", or empty to trust no header: it must only be
# trusted when every request passes a proxy that sets (or strips) that header.
PUBLIC_HTTPS = not EMBEDDED
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https" if PUBLIC_HTTPS else "")
if _proxy_ssl_header.strip():
    _header, _, _value = _proxy_ssl_header.partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip())
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PUBLIC_HTTPS)
# Load balancers probe health over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600) if PUBLIC_HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PUBLIC_HTTPS)
# Preloading is a commitment the owner of the domain makes by submitting it to the browsers' list,
# for every subdomain and for a long time: the flag is theirs to set, so check --deploy does not
# ask for it (security.W021).
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", PUBLIC_HTTPS)

INSTALLED_APPS = [
    "daphne",
    "haunt.admin_site.HauntAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "haunt.apps.HauntConfig",
    "haunt.accounts",
    "haunt.market",
    "portfolios",
    "notifications",
    "orders",
    "derivatives",
    "options_trading",
    "reporting",
    "strategies",
    "competitions",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "haunt.api.middleware.ContentSecurityPolicy",
    "haunt.api.middleware.RefuseOversizedBodies",
    "haunt.api.middleware.RefuseNullCharactersInQuery",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["haunt.accounts.backends.LockoutModelBackend"]
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
        # psycopg's pool keeps connections open across requests and sync_to_async threads;
        # Django requires CONN_MAX_AGE = 0 with it.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
            "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
            "timeout": 10,
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "haunt.sqlite3",
            # SQLite ignores select_for_update: writers are serialised instead, by taking the write
            # lock at BEGIN (IMMEDIATE); WAL lets readers run beside the one writer.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Besides the order ids the services hand it on commit (orders.changes), the order engine re-reads
# every recently updated order this often: a safety net that costs a query over the orders table.
HAUNT_ENGINE_RECONCILE_SECONDS = float(os.environ.get("HAUNT_ENGINE_RECONCILE_SECONDS", "5"))

# Redis pub/sub channel the order services announce changed orders on, for the engine (orders.changes).
HAUNT_ORDER_CHANGES_CHANNEL = f"{os.environ.get('HAUNT_CHANNEL_PREFIX', 'haunt')}:order-changes"

# Redis pub/sub channel the market feed publishes each update on (one message per update; every
# server process fans it out to its own sockets, haunt.market.stream).
HAUNT_MARKET_CHANNEL = f"{os.environ.get('HAUNT_CHANNEL_PREFIX', 'haunt')}:market"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "haunt.cache.ReusedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("HAUNT_CACHE_PREFIX", "haunt"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's async pool raises (MaxConnectionsError) instead of waiting once
                # max_connections are in use; a burst of subscribes, unsubscribes and group sends
                # from hundreds of sockets needs far more than its default of 100.
                # socket_timeout: each consumer waits on Redis with a 5-second BZPOPMIN; redis-py (8.x here)
                # also times reads out after 5 s by default, and when both expire together the read
                # fails and the socket is closed (1011). The read may wait longer than the pop.
                "hosts": [{"address": REDIS_URL, "max_connections": int(os.environ.get("CHANNEL_POOL_SIZE", "2000")),
                           "socket_timeout": 15}],
                "prefix": os.environ.get("HAUNT_CHANNEL_PREFIX", "haunt"),
                "capacity": 500,
                "expiry": 30,
            },
        }
    }
else:
    # Room for the live market state: two entries per quoted instrument, option contracts included
    # (the default of 300 entries would cull live quotes and throttle counters).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "haunt",
                          "OPTIONS": {"MAX_ENTRIES": 100_000}}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 500}}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploaded files (journal screenshots). Never served as static files: the journal API streams them
# to their owner only.
MEDIA_ROOT = Path(os.environ.get("HAUNT_MEDIA_DIR", VAR_DIR / "media"))
MEDIA_URL = "/media/"
JOURNAL_ATTACHMENT_MAX_BYTES = int(os.environ.get("JOURNAL_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024))
DOCS_DIR = BASE_DIR / "docs"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "haunt.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["haunt.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "haunt.api.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["haunt.api.throttles.UserThrottle", "haunt.api.throttles.AnonThrottle"],
    "EXCEPTION_HANDLER": "haunt.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "haunt.api.schema.HauntAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    # How many reverse proxies to trust for X-Forwarded-For (client identity for throttling);
    # 0 trusts none, so a client cannot pick its own throttle key. HAUNT_TRUSTED_PROXIES, when set,
    # takes precedence (haunt.api.throttles.client_address).
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
}
# Addresses or networks of the reverse proxies (load balancers) in front of the web tier, e.g.
# "10.0.0.0/8,192.168.1.5": a connection from one of them may say who the client is in X-Forwarded-For.
HAUNT_TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
HAUNT_THROTTLE_RATES = {
    "user": os.environ.get("THROTTLE_USER_RATE", "6000/min"),
    "anon": os.environ.get("THROTTLE_ANON_RATE", "300/min"),
    "auth": os.environ.get("THROTTLE_AUTH_RATE", "30/min"),
    "admin_login": os.environ.get("THROTTLE_ADMIN_LOGIN_RATE", "10/min"),
}
# Failed logins per username (haunt.accounts.lockout): after `free_failures` in a row, each further
# one locks the username for base_seconds, doubling up to max_seconds.
HAUNT_LOGIN_LOCKOUT = {
    "free_failures": int(os.environ.get("LOGIN_LOCKOUT_FREE_FAILURES", "5")),
    "base_seconds": int(os.environ.get("LOGIN_LOCKOUT_BASE_SECONDS", "30")),
    "max_seconds": int(os.environ.get("LOGIN_LOCKOUT_MAX_SECONDS", "900")),
    "window_seconds": int(os.environ.get("LOGIN_LOCKOUT_WINDOW_SECONDS", "3600")),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Haunt Paper Trading API",
    "DESCRIPTION": (
        "Paper trading with $5,000,000 of virtual money per portfolio under realistic market "
        "conditions. Authenticate with `Authorization: Token <token>` (POST /api/auth/token). "
        "Decimals travel as strings. Every error has the shape "
        '`{"error": {"code", "message", "field"}}`. Lists use cursor pagination (`next`/`previous`).'
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api",
    "ENUM_NAME_OVERRIDES": {
        "AlertTypeEnum": "notifications.models.AlertType",
        "EnforcementModeEnum": "portfolios.risk_settings.ENFORCEMENT_MODE_CHOICES",
        "OrderSideEnum": "orders.models.Side",
        "PositionSideEnum": "portfolios.models.Position.Direction",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "PositionStatusEnum": "portfolios.models.Position.Status",
        "RunProfileEnum": ["embedded", "production"],
    },
}

# --- Market data --------------------------------------------------------------------------
HAUNT_MARKET_SEED = int(os.environ.get("MARKET_SEED", "20261124"))
# Seconds between simulator updates; 0.25 s gives 4 quote/book updates a second per instrument.
HAUNT_MARKET_INTERVAL = float(os.environ.get("MARKET_INTERVAL", "0.25"))
# A source whose last update is older than this is dropped by the aggregator.
HAUNT_MARKET_STALE_SECONDS = float(os.environ.get("MARKET_STALE_SECONDS", "5"))
HAUNT_BACKFILL_DAYS = int(os.environ.get("MARKET_BACKFILL_DAYS", "90"))
HAUNT_BACKFILL_MINUTE_DAYS = int(os.environ.get("MARKET_BACKFILL_MINUTE_DAYS", "3"))
# 1-minute candles older than this are deleted; hourly candles keep the long history.
HAUNT_MINUTE_CANDLE_RETENTION_DAYS = int(os.environ.get("MINUTE_CANDLE_RETENTION_DAYS", "30"))
# Seconds between order engine ticks (triggers, resting limits, latency-delayed executions, expiry).
HAUNT_ENGINE_INTERVAL = float(os.environ.get("ENGINE_INTERVAL", "0.1"))
# Run the market feed, the order engine and the beat schedule inside the ASGI process (embedded profile).
HAUNT_RUN_FEED_IN_PROCESS = env_bool("RUN_FEED_IN_PROCESS", EMBEDDED)

# --- Portfolios ---------------------------------------------------------------------------
HAUNT_DEFAULT_STARTING_BALANCE = os.environ.get("DEFAULT_STARTING_BALANCE", "5000000")

# --- Derivatives --------------------------------------------------------------------------
# Objects the market feed calls on every update: the derivatives watcher prices perpetual marks
# and checks leveraged positions' margin (docs/derivatives.md).
HAUNT_FEED_PLUGINS = ["derivatives.watcher.DerivativesWatcher"]
# Opening balance, in USD, of the insurance fund that absorbs liquidation losses beyond collateral.
HAUNT_INSURANCE_FUND_SEED = os.environ.get("INSURANCE_FUND_SEED", "1000000")

# Webhooks (notifications): deliveries go only to public addresses unless this is set, for a
# self-hosted setup whose receivers live on its own network (loopback and private ranges).
HAUNT_WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("HAUNT_WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
# Attempts per delivery before it is dead-lettered (backoff between them: notifications.retries).
HAUNT_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("HAUNT_WEBHOOK_MAX_ATTEMPTS", "6"))
# Dead letters in a row after which an endpoint is turned off and its owner told.
HAUNT_WEBHOOK_DISABLE_AFTER_DEAD_LETTERS = int(os.environ.get("HAUNT_WEBHOOK_DISABLE_AFTER_DEAD_LETTERS", "3"))

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = EMBEDDED
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    "notifications-deliver-due": {
        "task": "notifications.deliver_due",
        # Every 5 seconds: webhook retries whose backoff has passed (and, embedded, first attempts).
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    "snapshot-equity": {
        "task": "portfolios.snapshot_equity",
        # At the top of every hour from 01:00 to 23:00 UTC (00:00 is the day close, below).
        "schedule": crontab(minute=0, hour="1-23"),
        "options": {"expires": 1800},
    },
    "snapshot-equity-day-close": {
        "task": "portfolios.snapshot_equity_day_close",
        # Every day at 00:00 UTC: the close of the UTC day that daily returns are measured on.
        # No expiry: a late day close still beats none, and reruns skip portfolios already closed.
        "schedule": crontab(minute=0, hour=0),
    },
    "charge-borrow-fees": {
        "task": "portfolios.charge_borrow_fees",
        # Every day at 00:05 UTC: shorts held over midnight pay a day of borrow.
        "schedule": crontab(minute=5, hour=0),
    },
    "prune-minute-candles": {
        "task": "market.prune_minute_candles",
        # Every day at 00:20 UTC, after the day's last hourly candle has closed.
        "schedule": crontab(minute=20, hour=0),
    },
    "derivatives-sample-premium-index": {
        "task": "derivatives.sample_premium_index",
        # Every minute: the premium samples each perpetual's funding rate averages.
        "schedule": crontab(),
        "options": {"expires": 50},
    },
    "derivatives-settle-funding": {
        "task": "derivatives.settle_funding",
        # Binance's funding times: 00:00, 08:00 and 16:00 UTC.
        "schedule": crontab(minute=0, hour="0,8,16"),
    },
    "derivatives-liquidation-sweep": {
        "task": "derivatives.liquidation_sweep",
        # Every minute: every leveraged position re-checked from the database (the watcher's backstop).
        "schedule": crontab(),
        "options": {"expires": 50},
    },
    "options-refresh-quotes": {
        "task": "options.refresh_quotes",
        # Option quotes follow their underlyings: contracts with open positions or orders are
        # re-quoted every two seconds (a quote lives STATE_TTL_SECONDS in the market state).
        "schedule": 2.0,
        "options": {"expires": 2},
    },
    "options-expire-contracts": {
        "task": "options.expire_contracts",
        # Every minute: contracts past expiry (16:00 New York, 08:00 UTC for crypto) are settled.
        "schedule": crontab(),
        "options": {"expires": 50},
    },
    "options-early-assignments": {
        "task": "options.early_assignments",
        # Hourly, on the half hour (while US equity options trade at 09:30-16:00 New York).
        "schedule": crontab(minute=30),
        "options": {"expires": 1800},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
if not REDIS_URL:
    # Embedded: the in-process scheduler runs the beat jobs through Celery's eager apply and logs
    # each one itself; Celery's own line per task would repeat it, every 2 s for option quotes.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
