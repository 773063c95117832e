"""The site's configuration: every variable read and validated, nothing written until prepare()."""
from __future__ import annotations

import pytest

from osvos_site.config import DEV_SECRET_KEY, WEBAPP_DIR, SiteConfig, SiteConfigError


def test_defaults_from_an_empty_environment():
    config = SiteConfig.from_env({})
    assert config.data_dir == WEBAPP_DIR and not config.debug and config.https
    assert config.allowed_hosts == ("127.0.0.1", "localhost", "[::1]") and config.csrf_trusted_origins == ()
    assert config.api_url == "http://127.0.0.1:5000" and config.api_token is None
    assert (config.api_timeout, config.api_connect_timeout, config.api_retries) == (30.0, 3.05, 2)
    assert config.max_video_bytes == 200 * 1024 * 1024 and config.max_mask_bytes == 20 * 1024 * 1024
    assert config.log_level == "INFO" and config.static_root is None


def test_values_are_read_and_empty_ones_count_as_unset(tmp_path):
    config = SiteConfig.from_env({
        "DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "a.example, b.example", "OSVOS_API_URL": "http://api:5000/",
        "OSVOS_API_TOKEN": "  ", "OSVOS_API_RETRIES": "0", "OSVOS_WEB_MAX_MASK_MB": "2.5",
        "OSVOS_WEB_LOG_LEVEL": "warning", "OSVOS_DATA_DIR": str(tmp_path), "OSVOS_API_TIMEOUT": ""})
    assert config.debug and not config.https, "HTTPS defaults to off under DEBUG"
    assert config.allowed_hosts == ("a.example", "b.example") and config.api_url == "http://api:5000"
    assert config.api_token is None and config.api_retries == 0 and config.api_timeout == 30.0
    assert config.max_mask_bytes == int(2.5 * 1024 * 1024) and config.log_level == "WARNING"
    assert config.data_dir == (tmp_path / "webapp").resolve()
    assert SiteConfig.from_env({"OSVOS_DATA_DIR": "/x", "OSVOS_WEB_DATA_DIR": str(tmp_path)}).data_dir == tmp_path


@pytest.mark.parametrize("variable, value", [
    ("DJANGO_DEBUG", "maybe"), ("OSVOS_WEB_HTTPS", "2"), ("OSVOS_API_TIMEOUT", "soon"), ("OSVOS_API_TIMEOUT", "0"),
    ("OSVOS_API_RETRIES", "-1"), ("OSVOS_API_RETRIES", "1.5"), ("OSVOS_WEB_MAX_VIDEO_MB", "-3"),
    ("OSVOS_WEB_HSTS_SECONDS", "a year"), ("OSVOS_API_URL", "api:5000"), ("OSVOS_WEB_LOG_LEVEL", "LOUD"),
    ("DJANGO_CSRF_TRUSTED_ORIGINS", "studio.example.org")])
def test_a_value_that_cannot_be_used_is_refused_by_name(variable, value):
    with pytest.raises(SiteConfigError, match=variable):
        SiteConfig.from_env({variable: value})


def test_reading_writes_nothing_and_prepare_makes_the_key_once(tmp_path):
    folder = tmp_path / "site"
    config = SiteConfig.from_env({"OSVOS_WEB_DATA_DIR": str(folder)})
    assert not folder.exists()
    with pytest.raises(SiteConfigError, match="DJANGO_SECRET_KEY"):
        config.django_secret_key()
    config.prepare()
    key = config.django_secret_key()
    assert len(key) >= 50 and oct(config.secret_key_file.stat().st_mode & 0o777) == "0o600"
    config.prepare()
    assert config.django_secret_key() == key


def test_a_given_or_development_key_needs_no_file(tmp_path):
    given = SiteConfig.from_env({"OSVOS_WEB_DATA_DIR": str(tmp_path), "DJANGO_SECRET_KEY": "k" * 60})
    given.prepare()
    assert given.django_secret_key() == "k" * 60 and not given.secret_key_file.exists()
    debug = SiteConfig.from_env({"OSVOS_WEB_DATA_DIR": str(tmp_path), "DJANGO_DEBUG": "1"})
    assert debug.django_secret_key() == DEV_SECRET_KEY
