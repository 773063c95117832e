"""The site's configuration: every environment variable it reads, read once and validated, as the API's
``Settings`` does. A value that cannot be used stops the site with a message that names the variable; an empty
variable counts as unset. ``settings.py`` maps this object onto Django's settings; the README has the table.

Reading writes nothing: the data folder and, in production without ``DJANGO_SECRET_KEY``, its ``secret-key``
file are made by ``prepare()``, which the site's entry points (manage.py, wsgi.py, scripts/serve.py) call
before Django starts."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from django.core.exceptions import ImproperlyConfigured

WEBAPP_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret-osvos-studio-key-0123456789abcdefghijklmnopqrstuvwxyz"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SiteConfigError(ImproperlyConfigured):
    """An environment variable of the site holds a value that cannot be used (the message names it)."""


class _Environment:
    """Typed reads of one environment mapping; each read names its variable when it refuses a value."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str) -> str | None:
        return self.environ.get(name, "").strip() or None

    def flag(self, name: str, default: bool) -> bool:
        value = (self.text(name) or "").lower()
        if not value:
            return default
        if value not in _TRUE + _FALSE:
            raise SiteConfigError(f"{name}={value!r} is not a yes/no value (use 1 or 0)")
        return value in _TRUE

    def number(self, name: str, default: float, *, kind=float, least: float = 0.0, above: bool = True):
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise SiteConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
        if value < least or (above and value == least):
            raise SiteConfigError(f"{name} must be {'more than' if above else 'at least'} {least:g}")
        return value

    def items(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.text(name)
        return default if raw is None else tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class SiteConfig:
    data_dir: Path = WEBAPP_DIR
    """``OSVOS_WEB_DATA_DIR``, else ``$OSVOS_DATA_DIR/webapp``, else webapp/ itself (git-ignored files): the
    site's database, uploads and secret-key file."""
    debug: bool = False
    """``DJANGO_DEBUG``: development mode."""
    secret_key: str | None = None
    """``DJANGO_SECRET_KEY``; without it a random key is kept in the data folder (a fixed one under DEBUG)."""
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    """``DJANGO_ALLOWED_HOSTS``, comma-separated."""
    csrf_trusted_origins: tuple[str, ...] = ()
    """``DJANGO_CSRF_TRUSTED_ORIGINS``, comma-separated origins with their scheme, e.g. https://studio.example.org."""
    static_root: Path | None = None
    """``DJANGO_STATIC_ROOT``: where ``collectstatic`` writes (static files are otherwise served from the apps)."""
    https: bool = True
    """``OSVOS_WEB_HTTPS``: the site is reached over HTTPS (secure cookies, HSTS, redirect); default: not DEBUG."""
    hsts_seconds: int = 31536000
    """``OSVOS_WEB_HSTS_SECONDS``: HSTS max-age over HTTPS."""
    hsts_subdomains: bool = True
    """``OSVOS_WEB_HSTS_SUBDOMAINS``: HSTS covers subdomains."""
    hsts_preload: bool = True
    """``OSVOS_WEB_HSTS_PRELOAD``: HSTS asks for preloading."""
    behind_proxy: bool = False
    """``OSVOS_WEB_BEHIND_PROXY``: trust X-Forwarded-Proto from a TLS-terminating reverse proxy."""
    api_url: str = "http://127.0.0.1:5000"
    """``OSVOS_API_URL``: the API's base URL."""
    api_token: str | None = None
    """``OSVOS_API_TOKEN``: bearer token for the API."""
    api_timeout: float = 30.0
    """``OSVOS_API_TIMEOUT``: read timeout of API calls, seconds."""
    api_connect_timeout: float = 3.05
    """``OSVOS_API_CONNECT_TIMEOUT``: connect timeout of API calls, seconds."""
    api_retries: int = 2
    """``OSVOS_API_RETRIES``: retries when the API cannot be reached."""
    max_video_mb: float = 200.0
    """``OSVOS_WEB_MAX_VIDEO_MB``: upload cap for videos (as the API's OSVOS_MAX_UPLOAD_MB)."""
    max_mask_mb: float = 20.0
    """``OSVOS_WEB_MAX_MASK_MB``: upload cap for mask images."""
    log_level: str = "INFO"
    """``OSVOS_WEB_LOG_LEVEL``: level of the site's own log."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SiteConfig":
        env = _Environment(os.environ if environ is None else environ)
        debug = env.flag("DJANGO_DEBUG", False)
        if env.text("OSVOS_WEB_DATA_DIR"):
            data_dir = Path(env.text("OSVOS_WEB_DATA_DIR")).resolve()
        elif env.text("OSVOS_DATA_DIR"):
            data_dir = (Path(env.text("OSVOS_DATA_DIR")) / "webapp").resolve()
        else:
            data_dir = WEBAPP_DIR
        static_root = env.text("DJANGO_STATIC_ROOT")
        config = cls(
            data_dir=data_dir, debug=debug, secret_key=env.text("DJANGO_SECRET_KEY"),
            allowed_hosts=env.items("DJANGO_ALLOWED_HOSTS", cls.allowed_hosts),
            csrf_trusted_origins=env.items("DJANGO_CSRF_TRUSTED_ORIGINS", ()),
            static_root=Path(static_root).resolve() if static_root else None,
            https=env.flag("OSVOS_WEB_HTTPS", not debug),
            hsts_seconds=env.number("OSVOS_WEB_HSTS_SECONDS", cls.hsts_seconds, kind=int, above=False),
            hsts_subdomains=env.flag("OSVOS_WEB_HSTS_SUBDOMAINS", True),
            hsts_preload=env.flag("OSVOS_WEB_HSTS_PRELOAD", True),
            behind_proxy=env.flag("OSVOS_WEB_BEHIND_PROXY", False),
            api_url=(env.text("OSVOS_API_URL") or cls.api_url).rstrip("/"),
            api_token=env.text("OSVOS_API_TOKEN"),
            api_timeout=env.number("OSVOS_API_TIMEOUT", cls.api_timeout),
            api_connect_timeout=env.number("OSVOS_API_CONNECT_TIMEOUT", cls.api_connect_timeout),
            api_retries=env.number("OSVOS_API_RETRIES", cls.api_retries, kind=int, above=False),
            max_video_mb=env.number("OSVOS_WEB_MAX_VIDEO_MB", cls.max_video_mb),
            max_mask_mb=env.number("OSVOS_WEB_MAX_MASK_MB", cls.max_mask_mb),
            log_level=(env.text("OSVOS_WEB_LOG_LEVEL") or cls.log_level).upper())
        config.validate()
        return config

    def validate(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise SiteConfigError(f"OSVOS_API_URL={self.api_url!r} must start with http:// or https://")
        for origin in self.csrf_trusted_origins:
            if not origin.startswith(("http://", "https://")):
                raise SiteConfigError(f"DJANGO_CSRF_TRUSTED_ORIGINS: {origin!r} needs its scheme "
                                      "(e.g. https://studio.example.org)")
        if self.log_level not in LOG_LEVELS:
            raise SiteConfigError(f"OSVOS_WEB_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret-key"

    @property
    def max_video_bytes(self) -> int:
        return int(self.max_video_mb * 1024 * 1024)

    @property
    def max_mask_bytes(self) -> int:
        return int(self.max_mask_mb * 1024 * 1024)

    def django_secret_key(self) -> str:
        """``DJANGO_SECRET_KEY``, else the development key under DEBUG, else the data folder's key file."""
        if self.secret_key:
            return self.secret_key
        if self.debug:
            return DEV_SECRET_KEY
        try:
            return self.secret_key_file.read_text().strip()
        except FileNotFoundError:
            raise SiteConfigError(f"no secret key: set DJANGO_SECRET_KEY, or start the site with manage.py, "
                                  f"wsgi.py or scripts/serve.py, which create {self.secret_key_file}") from None

    def prepare(self) -> None:
        """Make the data folder and, when the secret key is to come from it, its key file (once, mode 0600)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.secret_key or self.debug:
            return
        try:
            fd = os.open(self.secret_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
