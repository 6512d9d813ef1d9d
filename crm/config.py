"""Configuration classes; every value that differs between machines comes from the environment."""
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = PACKAGE_DIR.parent  # the source checkout (or site-packages for an installed package)


class ConfigError(RuntimeError):
    """A setting the operator must fix; the message names the variable."""


def _data_dir():
    # Writable files never go into site-packages: a checkout keeps them in its var/,
    # an installed package in ./var of the directory it runs from, unless CRM_DATA_DIR says where.
    if os.environ.get("CRM_DATA_DIR"):
        return Path(os.environ["CRM_DATA_DIR"]).resolve()
    if (BASE_DIR / "pyproject.toml").is_file():
        return BASE_DIR / "var"
    return Path.cwd() / "var"


DATA_DIR = _data_dir()

# The schemes managed PostgreSQL providers hand out; SQLAlchemy would pick psycopg2 (or nothing) for them.
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def normalize_database_url(url):
    """DATABASE_URL as providers give it (postgres://, postgresql://) with the psycopg 3 driver made explicit."""
    url = (url or "").strip()
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _engine_options(url):
    options = {
        "pool_pre_ping": _env_bool("DB_POOL_PRE_PING", False),
        "pool_recycle": int(os.environ.get("DB_POOL_RECYCLE", "1800")),
        # Kept open per process: at least the server's threads (gunicorn --threads),
        # or connections beyond it are opened and closed on every request.
        "pool_size": int(os.environ.get("DB_POOL_SIZE", "10")),
    }
    if url.startswith("postgresql") and _env_bool("DB_PGBOUNCER", False):
        # PgBouncer in transaction mode hands each transaction any server connection:
        # psycopg's server-side prepared statements (prepared on one, used on another) break.
        options["connect_args"] = {"prepare_threshold": None}
    return options


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'crm.sqlite3'}"
    )
    # Connections are recycled on a timer rather than pinged before every use:
    # the ping is a round trip on each request, the webhook's hot path included.
    SQLALCHEMY_ENGINE_OPTIONS = _engine_options(SQLALCHEMY_DATABASE_URI)
    REDIS_URL = os.environ.get("REDIS_URL")  # unset: jobs run in-process
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "default")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 24 * 14
    # Strict-Transport-Security, sent on HTTPS requests (or X-Forwarded-Proto: https) in production.
    HSTS = False
    HSTS_MAX_AGE = int(os.environ.get("HSTS_MAX_AGE", str(60 * 60 * 24 * 365)))

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024

    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    BABEL_TRANSLATION_DIRECTORIES = str(PACKAGE_DIR / "translations")
    LANGUAGES = ("ja", "en")

    # Sign-in throttling; storage is Redis when REDIS_URL is set so that every
    # gunicorn worker shares one counter.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or (
        os.environ.get("REDIS_URL") or "memory://"
    )
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_PER_ADDRESS", "20/minute;100/hour")
    LOGIN_RATE_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_PER_ACCOUNT", "5/minute;30/hour")

    # Fernet keys (comma-separated, newest first) encrypting LINE channel secrets at rest.
    CREDENTIALS_KEYS = os.environ.get("CREDENTIALS_KEYS")

    LINE_API_BASE_URL = os.environ.get("LINE_API_BASE_URL", "https://api.line.me")
    LINE_ACCESS_BASE_URL = os.environ.get("LINE_ACCESS_BASE_URL", "https://access.line.me")
    LINE_API_TIMEOUT = float(os.environ.get("LINE_API_TIMEOUT", "10"))
    LINE_SEND_ATTEMPTS = int(os.environ.get("LINE_SEND_ATTEMPTS", "5"))
    LINE_RETRY_WAIT_MIN = float(os.environ.get("LINE_RETRY_WAIT_MIN", "1"))
    LINE_RETRY_WAIT_MAX = float(os.environ.get("LINE_RETRY_WAIT_MAX", "30"))
    LINE_REPLY_TOKEN_TTL = 50  # seconds; LINE accepts a reply token for about a minute
    LINE_PROFILE_MAX_AGE_HOURS = 24
    # Tuning knobs of the send pipeline and the tick (docs/benchmarks.md measured them).
    LINE_CLAIM_LEASE_SECONDS = float(os.environ.get("LINE_CLAIM_LEASE_SECONDS", "30"))
    LINE_SEND_THREADS = int(os.environ.get("LINE_SEND_THREADS", "8"))
    LINE_DELIVER_BATCH = int(os.environ.get("LINE_DELIVER_BATCH", "50"))
    LINE_TICK_SECONDS = float(os.environ.get("LINE_TICK_SECONDS", "5"))
    # 一斉配信: recipients per batch (one multicast: at most 500), pushes a second per process (LINE
    # allows 2,000 per channel), sending threads, a claimed batch's lease, retries of 429/5xx.
    BROADCAST_BATCH_SIZE = int(os.environ.get("BROADCAST_BATCH_SIZE", "500"))
    BROADCAST_PUSH_RATE = float(os.environ.get("BROADCAST_PUSH_RATE", "2000"))
    BROADCAST_PUSH_THREADS = int(os.environ.get("BROADCAST_PUSH_THREADS", "24"))
    BROADCAST_LEASE_SECONDS = float(os.environ.get("BROADCAST_LEASE_SECONDS", "60"))
    BROADCAST_RETRY_WAIT = float(os.environ.get("BROADCAST_RETRY_WAIT", "0.5"))
    BROADCAST_ATTEMPTS = int(os.environ.get("BROADCAST_ATTEMPTS", "8"))
    LINK_TOKEN_MAX_AGE = int(os.environ.get("LINK_TOKEN_MAX_AGE", str(30 * 60)))  # seconds
    LINK_FORM_RATE_LIMIT = os.environ.get("LINK_FORM_RATE_LIMIT", "10/hour")
    WEBHOOK_MAX_BYTES = int(os.environ.get("WEBHOOK_MAX_BYTES", str(1024 * 1024)))
    # With rq, how often each worker looks for webhook deliveries to drain.
    DELIVERY_POLL_SECONDS = float(os.environ.get("DELIVERY_POLL_SECONDS", "0.25"))
    # With rq, how often each worker beats and checks that no jobs were lost (Redis emptied, a worker killed).
    REDIS_WATCH_SECONDS = float(os.environ.get("REDIS_WATCH_SECONDS", "1"))
    # The address LINE reaches this app at; the webhook URL is built from it.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL")
    # Customers' media: "local" (MEDIA_STORAGE_DIR, one machine) or "s3" (any S3-compatible
    # store, for web and workers on different machines); crm/storage/.
    MEDIA_STORAGE = os.environ.get("MEDIA_STORAGE", "local")
    MEDIA_STORAGE_DIR = os.environ.get("MEDIA_STORAGE_DIR", str(DATA_DIR / "media"))
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") \
        or os.environ.get("AWS_ENDPOINT_URL")  # unset: AWS S3 itself
    S3_BUCKET = os.environ.get("S3_BUCKET")
    S3_REGION = os.environ.get("S3_REGION") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # Unset: boto3's own chain (AWS_* variables, an instance or task role).
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID")
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY")
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    S3_CONNECT_TIMEOUT = float(os.environ.get("S3_CONNECT_TIMEOUT", "5"))
    S3_READ_TIMEOUT = float(os.environ.get("S3_READ_TIMEOUT", "30"))
    # "rq" when REDIS_URL is set; "thread" runs jobs in-process after the response;
    # "sync" runs them at once (tests).
    JOBS_MODE = os.environ.get("JOBS_MODE") or ("rq" if os.environ.get("REDIS_URL") else "thread")

    # From this date the LINE tab is premium only (seed 002: 2025年1月10日以降).
    LINE_TAB_PREMIUM_FROM = os.environ.get("LINE_TAB_PREMIUM_FROM", "2025-01-10")

    # Daily digests of unread LINE messages (crm/digests): local times, and how late a
    # slot may still be sent after the scheduler was down (later it is skipped).
    DIGEST_SLOTS = os.environ.get("DIGEST_SLOTS", "08:00,20:00")
    DIGEST_CATCH_UP_MINUTES = int(os.environ.get("DIGEST_CATCH_UP_MINUTES", "120"))
    DIGEST_MAX_CUSTOMERS = int(os.environ.get("DIGEST_MAX_CUSTOMERS", "20"))  # listed in LINE and email
    # Email of the digests; unset SMTP_HOST: no email.
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
    SMTP_USER = os.environ.get("SMTP_USER")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    SMTP_FROM = os.environ.get("SMTP_FROM", "no-reply@localhost")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
    SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "10"))
    # The service's own LINE channel that notifies staff (one for the whole installation).
    NOTIFY_LINE_CHANNEL_ID = os.environ.get("NOTIFY_LINE_CHANNEL_ID")
    NOTIFY_LINE_CHANNEL_SECRET = os.environ.get("NOTIFY_LINE_CHANNEL_SECRET")
    NOTIFY_LINE_CHANNEL_ACCESS_TOKEN = os.environ.get("NOTIFY_LINE_CHANNEL_ACCESS_TOKEN")
    NOTIFY_LINE_BASIC_ID = os.environ.get("NOTIFY_LINE_BASIC_ID")  # "@123abcde", shown to staff
    NOTIFY_LINK_CODE_MINUTES = int(os.environ.get("NOTIFY_LINK_CODE_MINUTES", "30"))
    # How to upgrade to premium (there is no payment provider): shown on ご利用中プラン.
    PLAN_CONTACT = os.environ.get("PLAN_CONTACT", "")

    CUSTOMERS_PER_PAGE = int(os.environ.get("CUSTOMERS_PER_PAGE", "50"))
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "JP")
    # The customer CSV import: the file is kept in the database between upload and import, then
    # imported by jobs of a few thousand rows (crm/customers/import_jobs.py).
    CUSTOMER_IMPORT_MAX_BYTES = int(os.environ.get("CUSTOMER_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))
    CUSTOMER_IMPORT_MAX_ROWS = int(os.environ.get("CUSTOMER_IMPORT_MAX_ROWS", "100000"))

    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
    # How many proxies in front of the app set each X-Forwarded-* header (werkzeug's ProxyFix);
    # 0 trusts none, so a client cannot choose its own address (and rate-limit key).
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "0"))
    PROXY_FIX_X_PROTO = int(os.environ.get("PROXY_FIX_X_PROTO", "0"))
    PROXY_FIX_X_HOST = int(os.environ.get("PROXY_FIX_X_HOST", "0"))
    PROXY_FIX_X_PORT = int(os.environ.get("PROXY_FIX_X_PORT", "0"))
    PROXY_FIX_X_PREFIX = int(os.environ.get("PROXY_FIX_X_PREFIX", "0"))


class DevelopmentConfig(Config):
    """Local development: embedded SQLite, a fixed key so sessions survive restarts."""

    ENV_NAME = "development"
    DEBUG = True
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-not-for-production"
    CREDENTIALS_KEYS = os.environ.get("CREDENTIALS_KEYS") or "ZGV2LW9ubHktY3JlZGVudGlhbHMta2V5LTMyYnl0ZXM="


class TestingConfig(Config):
    """The test suite; DATABASE_URL is chosen by tests/conftest.py."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    RATELIMIT_STORAGE_URI = os.environ.get("TEST_RATELIMIT_STORAGE_URI", "memory://")
    PASSWORD_HASH_FAST = True
    CREDENTIALS_KEYS = "dGVzdC1vbmx5LWNyZWRlbnRpYWxzLWtleS0zMmJ5dGU="
    JOBS_MODE = "sync"
    MEDIA_STORAGE = "local"  # tests choose S3 themselves (tests/storage/)
    LINE_RETRY_WAIT_MIN = 0.01
    LINE_RETRY_WAIT_MAX = 0.05
    LINE_API_TIMEOUT = 2
    PUBLIC_BASE_URL = "http://127.0.0.1"
    SMTP_STARTTLS = False


class ProductionConfig(Config):
    """Production: every secret must come from the environment."""

    ENV_NAME = "production"
    HSTS = _env_bool("HSTS", True)
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env():
    """Pick the configuration class named by CRM_ENV (production by default)."""
    name = os.environ.get("CRM_ENV", "production")
    if name not in CONFIGS:
        raise ConfigError(f"CRM_ENV must be one of {', '.join(CONFIGS)} (not {name!r})")
    return CONFIGS[name]
