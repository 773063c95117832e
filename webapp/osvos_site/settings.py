"""Settings of the osvos-studio site, all from environment variables (one module for dev, test and production).

Environment:
  DJANGO_DEBUG              "1" for development (default off).
  DJANGO_SECRET_KEY         the secret key; without it a random key is created once in the data folder
                            (or a fixed development key when DEBUG is on).
  DJANGO_ALLOWED_HOSTS      comma-separated (default 127.0.0.1,localhost,[::1]).
  DJANGO_CSRF_TRUSTED_ORIGINS  comma-separated origins, e.g. https://studio.example.org.
  OSVOS_WEB_HTTPS           "1": the site is reached over HTTPS (secure cookies, HSTS, redirect to https).
                            Default: on when DEBUG is off. scripts/serve.py turns it off for its plain-HTTP
                            loopback server.
  OSVOS_WEB_BEHIND_PROXY    "1": trust X-Forwarded-Proto from a TLS-terminating reverse proxy.
  OSVOS_DATA_DIR            shared storage folder; the site keeps db.sqlite3, uploads/ and secret-key in
                            its subfolder webapp/ (without it: in the webapp/ source folder, git-ignored).
  OSVOS_WEB_DATA_DIR        the site's own folder, overriding the two above.
  OSVOS_API_URL             the API's base URL (default http://127.0.0.1:5000).
  OSVOS_API_TOKEN           bearer token for the API (optional).
  OSVOS_API_TIMEOUT         read timeout in seconds for API calls (default 30).
  OSVOS_API_RETRIES         retries on connection errors (default 2).
  OSVOS_WEB_MAX_VIDEO_MB    upload cap for videos (default 200, as the API's OSVOS_MAX_UPLOAD_MB).
  OSVOS_WEB_MAX_MASK_MB     upload cap for mask images (default 20).
  DJANGO_STATIC_ROOT        where `collectstatic` writes (optional: static files are served from the apps).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # webapp/


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _flag("DJANGO_DEBUG", False)

if os.environ.get("OSVOS_WEB_DATA_DIR", "").strip():
    DATA_DIR = Path(os.environ["OSVOS_WEB_DATA_DIR"].strip()).resolve()
elif os.environ.get("OSVOS_DATA_DIR", "").strip():
    DATA_DIR = (Path(os.environ["OSVOS_DATA_DIR"].strip()) / "webapp").resolve()
else:
    DATA_DIR = BASE_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "").strip()
    if key:
        return key
    if DEBUG:
        return "dev-only-not-secret-osvos-studio-key-0123456789abcdefghijklmnopqrstuvwxyz"
    path = DATA_DIR / "secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = _list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = _list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "studio",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "osvos_site.urls"
WSGI_APPLICATION = "osvos_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
                "studio.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Uploaded videos and masks are kept (so an upload survives an API outage) but never served directly.
MEDIA_ROOT = DATA_DIR / "uploads"
MEDIA_URL = "/media-not-served/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024  # larger files go to a temporary file on disk
FILE_UPLOAD_PERMISSIONS = 0o640

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Whitenoise serves straight from the app and vendor folders (no collectstatic needed). For a collected,
# compressed copy set DJANGO_STATIC_ROOT and run `manage.py collectstatic`.
WHITENOISE_USE_FINDERS = True
if os.environ.get("DJANGO_STATIC_ROOT", "").strip():
    STATIC_ROOT = Path(os.environ["DJANGO_STATIC_ROOT"].strip()).resolve()
WHITENOISE_MAX_AGE = 0 if DEBUG else 3600

MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# Security. Over HTTPS (the default in production) cookies are secure and HSTS is sent.
HTTPS = _flag("OSVOS_WEB_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("OSVOS_WEB_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and _flag("OSVOS_WEB_HSTS_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = HTTPS and _flag("OSVOS_WEB_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if _flag("OSVOS_WEB_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The API (the site's only back end; reached through studio/api_client.py).
OSVOS_API_URL = os.environ.get("OSVOS_API_URL", "http://127.0.0.1:5000").rstrip("/")
OSVOS_API_TOKEN = os.environ.get("OSVOS_API_TOKEN", "") or None
OSVOS_API_TIMEOUT = float(os.environ.get("OSVOS_API_TIMEOUT", "30"))
OSVOS_API_CONNECT_TIMEOUT = float(os.environ.get("OSVOS_API_CONNECT_TIMEOUT", "3.05"))
OSVOS_API_RETRIES = int(os.environ.get("OSVOS_API_RETRIES", "2"))

MAX_VIDEO_BYTES = int(float(os.environ.get("OSVOS_WEB_MAX_VIDEO_MB", "200")) * 1024 * 1024)
MAX_MASK_BYTES = int(float(os.environ.get("OSVOS_WEB_MAX_MASK_MB", "20")) * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "studio": {"handlers": ["console"], "level": os.environ.get("OSVOS_WEB_LOG_LEVEL", "INFO"),
                   "propagate": False},
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
