"""Django settings for Soberana, read from ``SOBERANA_*`` environment variables.

Embedded defaults (no configuration): SQLite in WAL mode and Celery's file-system broker under
``SOBERANA_DATA_DIR`` (default ``./var``). Production: ``DATABASE_URL`` (PostgreSQL) and
``REDIS_URL``, with ``SOBERANA_ENV=production``, ``SOBERANA_SECRET_KEY`` and
``SOBERANA_ALLOWED_HOSTS``. A bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ

from platform_site import offline  # noqa: F401  (sets the offline switches before any ML import)
from platform_site.env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
ENVIRONMENT = env_choice("SOBERANA_ENV", "development", ("development", "test", "production"))
PRODUCTION = ENVIRONMENT == "production"

DATA_DIR = Path(env_str("SOBERANA_DATA_DIR", str(BASE_DIR / "var")) or "var").resolve()
BLOB_DIR = DATA_DIR / "blobs"
MODEL_STORE_DIR = DATA_DIR / "models"
BROKER_DIR = DATA_DIR / "broker"
LOG_DIR = DATA_DIR / "logs"
for _folder in (DATA_DIR, BLOB_DIR, MODEL_STORE_DIR, BROKER_DIR, LOG_DIR, DATA_DIR / "static"):
    _folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def _secret_key() -> str:
    """Production needs an explicit key; development keeps a random one in the data dir."""
    configured = env_str("SOBERANA_SECRET_KEY")
    if configured:
        return configured
    if PRODUCTION:
        raise ConfigurationError(
            "SOBERANA_SECRET_KEY (or SOBERANA_SECRET_KEY_FILE) is required in production."
        )
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("SOBERANA_DEBUG", False)
ALLOWED_HOSTS = env_list(
    "SOBERANA_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigurationError("SOBERANA_ALLOWED_HOSTS is required in production.")
CSRF_TRUSTED_ORIGINS = env_list("SOBERANA_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "audit",
    "vault",
    "datasets_app",
    "trainer",
    "ops",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ops.middleware.SecurityHeadersMiddleware",
    "ops.middleware.RefuseNulMiddleware",
    "ops.middleware.RefuseOversizedBodyMiddleware",
    "ops.middleware.RefuseHostileJsonMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "audit.refusals.RefusedLookupMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = "platform_site.wsgi.application"
ASGI_APPLICATION = "platform_site.asgi.application"

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
            ]
        },
    }
]

# --- Database: PostgreSQL from DATABASE_URL, else SQLite (WAL) in the data dir -------------
_database_url = env_str("DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": environ.Env.db_url_config(_database_url)}
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ConfigurationError(f"DATABASE_URL is not a valid database URL: {exc}") from exc
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while a worker writes; IMMEDIATE takes the write
                # lock at BEGIN so conditional claims never fail with "database is locked" midway.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
    # Tests share a file database with the real worker processes they start.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
_database_name_override = env_str("SOBERANA_DATABASE_NAME_OVERRIDE")
if _database_name_override:  # used by tests to point worker processes at the test database
    DATABASES["default"]["NAME"] = _database_name_override
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if ENVIRONMENT == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env_int("SOBERANA_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
REQUIRE_2FA_FOR_PRIVILEGED = env_bool("SOBERANA_REQUIRE_2FA", False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Uploads: never spooled to a plaintext temp file ------------------------------------------
MAX_UPLOAD_BYTES = env_int("SOBERANA_MAX_UPLOAD_MB", 2048, minimum=1) * 1024 * 1024
# Chunked uploads left incomplete this long after their last chunk are discarded (hourly).
CHUNKED_UPLOAD_TTL_HOURS = env_int("SOBERANA_CHUNKED_UPLOAD_TTL_HOURS", 24, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Uploads are streamed through an encrypting handler (datasets_app.uploads); Django's default
# TemporaryFileUploadHandler would write plaintext to /tmp, so it is not installed.
FILE_UPLOAD_HANDLERS = ["datasets_app.uploads.EncryptingUploadHandler"]

# --- Security headers and cookies ----------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SOBERANA_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API view requires a signed-in caller, and a token only does what its scopes allow.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "ops.permissions.TokenScopes",
    ],
    # DRF's limit/offset paging, bounded (an unbounded ?limit= overflowed the database).
    "DEFAULT_PAGINATION_CLASS": "ops.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's, plus the error responses each operation may answer.
    "DEFAULT_SCHEMA_CLASS": "ops.schema.AutoSchema",
    "EXCEPTION_HANDLER": "ops.api.exception_handler",
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Soberana API",
    "DESCRIPTION": "Private training of language models on your own data.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "FindingDecisionEnum": "datasets_app.models.Decision",
        "RiskFlagDecisionEnum": "datasets_app.models.RiskDecision",
        "RiskActionEnum": "datasets_app.models.RiskAction",
        "ReviewDecisionEnum": ["accepted", "rejected", "accept", "reject"],
        "EvaluationRunStatusEnum": "evaluation.models.RunStatus",
    },
}
# Path ids are integers everywhere.
SPECTACULAR_SETTINGS["COMPONENT_SPLIT_REQUEST"] = True

# --- Celery: JSON only, ids only, the job row is the source of truth ----------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    _queue_dir = str(BROKER_DIR / "queue")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue_dir,
        "data_folder_out": _queue_dir,
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    for _sub in ("queue", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = False

JOB_LEASE_SECONDS = env_int("SOBERANA_JOB_LEASE_SECONDS", 60, minimum=5)
JOB_MAX_ATTEMPTS = env_int("SOBERANA_JOB_MAX_ATTEMPTS", 3, minimum=1)
LEASE_SWEEP_SECONDS = env_int("SOBERANA_LEASE_SWEEP_SECONDS", 10, minimum=1)
# A dataset whose ingestion worker is silent this long is taken over by the next message (the
# sweeper re-sends it); renewed every few seconds while parsing, scanning and storing findings.
INGEST_LEASE_SECONDS = env_int("SOBERANA_INGEST_LEASE_SECONDS", 300, minimum=5)
INGEST_MAX_ATTEMPTS = env_int("SOBERANA_INGEST_MAX_ATTEMPTS", 3, minimum=1)
MAX_RUNNING_JOBS_PER_PROJECT = env_int("SOBERANA_MAX_RUNNING_JOBS_PER_PROJECT", 2, minimum=1)
# Memory of the GPUs jobs will run on (0: CPU). Jobs that will not fit are refused at submission.
TARGET_GPU_MEMORY_GB = env_int("SOBERANA_TARGET_GPU_MEMORY_GB", 0, minimum=0)
TRAINING_DEVICE = env_choice("SOBERANA_TRAINING_DEVICE", "auto", ("auto", "cpu", "cuda"))
# Processes a training worker launches per job under torchrun, one per GPU: 1 trains in the
# worker process itself; 0 means one per GPU this worker sees (CUDA_VISIBLE_DEVICES). A job
# may ask for fewer with its max_processes hyperparameter.
TRAINING_PROCESSES = env_int("SOBERANA_TRAINING_PROCESSES", 1, minimum=0)
DEFAULT_BASE_MODEL = env_str("SOBERANA_DEFAULT_BASE_MODEL", "smollm2-135m-instruct")

# --- Keys ---------------------------------------------------------------------------------
# SOBERANA_MASTER_KEY (or SOBERANA_MASTER_KEY_FILE) holds the key-encryption key. Without it,
# the embedded default generates one into the data dir (mode 0600) and warns to back it up.
MASTER_KEY = env_str("SOBERANA_MASTER_KEY")
MASTER_KEY_PATH = DATA_DIR / "master.key"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SOBERANA_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Two-factor sign-in (accounts/twofactor.py) ---------------------------------------------
# With REQUIRE_2FA_FOR_PRIVILEGED, administrators and data stewards who have not passed a TOTP
# code are sent to /account/2fa/ for every page; it must run after django-otp's OTPMiddleware.
MIDDLEWARE = [*MIDDLEWARE, "accounts.twofactor.SecondFactorRequiredMiddleware"]
OTP_TOTP_ISSUER = "Soberana"

# --- Serving (serving/): deployments, keys, usage, playground; the OpenAI-compatible API under
# /v1/ (openai_api/). Kept in one block at the end so the apps can be switched off by removing it.
INSTALLED_APPS = [*INSTALLED_APPS, "serving", "openai_api", "privacy", "evaluation"]
# A model version never audited for privacy (privacy/) may not be deployed or exported. Off by
# default only in the test environment, where most tests deploy models they never audit.
PRIVACY_AUDIT_REQUIRED = env_bool("SOBERANA_PRIVACY_AUDIT_REQUIRED", ENVIRONMENT != "test")
# The poisoning screen's perplexity outliers (trainer/perplexity_screen.py): after each ingestion,
# a task on the training queue scores up to this many records under the default base model.
# Off in the test environment, where nothing would consume the training queue.
PERPLEXITY_SCREEN = env_bool("SOBERANA_PERPLEXITY_SCREEN", ENVIRONMENT != "test")
PERPLEXITY_SCREEN_SAMPLE = env_int("SOBERANA_PERPLEXITY_SCREEN_SAMPLE", 2000, minimum=20)
# Where served models run: "auto" picks CUDA when present (training may need the GPU more).
SERVING_DEVICE = env_choice("SOBERANA_SERVING_DEVICE", "cpu", ("auto", "cpu", "cuda"))
# Decrypted models kept in memory per process (least recently used goes first).
SERVING_MODEL_CACHE_SIZE = env_int("SOBERANA_SERVING_MODEL_CACHE", 3, minimum=1)
# Requests per minute allowed to one user API token (deployment keys carry their own limit).
SERVING_TOKEN_RPM = env_int("SOBERANA_SERVING_TOKEN_RPM", 120, minimum=1)
# Upper bound on max_tokens of one request, whatever the model's context allows.
SERVING_MAX_TOKENS = env_int("SOBERANA_SERVING_MAX_TOKENS", 1024, minimum=1)
# Keep the prompt and answer of each query to a deployment, encrypted (off: metadata only).
SERVING_LOG_CONTENT = env_bool("SOBERANA_SERVING_LOG_CONTENT", False)
