"""Django settings of the osvos-studio site (one module for development, tests and production), mapped from the
validated configuration of ``config.py``, which reads every environment variable the site uses."""
from __future__ import annotations

from .config import WEBAPP_DIR, SiteConfig

CONFIG = SiteConfig.from_env()

BASE_DIR = WEBAPP_DIR
DEBUG = CONFIG.debug
DATA_DIR = CONFIG.data_dir
SECRET_KEY = CONFIG.django_secret_key()
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)

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
if CONFIG.static_root is not None:
    STATIC_ROOT = CONFIG.static_root
WHITENOISE_MAX_AGE = 0 if DEBUG else 3600

MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# Security. Over HTTPS (the default in production) cookies are secure and HSTS is sent.
HTTPS = CONFIG.https
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = CONFIG.hsts_seconds if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and CONFIG.hsts_subdomains
SECURE_HSTS_PRELOAD = HTTPS and CONFIG.hsts_preload
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if CONFIG.behind_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The API (the site's only back end; reached through studio/api_client.py).
OSVOS_API_URL = CONFIG.api_url
OSVOS_API_TOKEN = CONFIG.api_token
OSVOS_API_TIMEOUT = CONFIG.api_timeout
OSVOS_API_CONNECT_TIMEOUT = CONFIG.api_connect_timeout
OSVOS_API_RETRIES = CONFIG.api_retries

MAX_VIDEO_BYTES = CONFIG.max_video_bytes
MAX_MASK_BYTES = CONFIG.max_mask_bytes

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "studio": {"handlers": ["console"], "level": CONFIG.log_level,
                   "propagate": False},
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
