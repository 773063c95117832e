"""Hardening: Django's deployment checks under production settings; the bearer token between site and API."""
from __future__ import annotations

import pytest

from devkit.reliability.hardening import check_deploy, site_with_wrong_token, token_checks

pytestmark = pytest.mark.reliability


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    out = check_deploy(tmp_path)
    production = out["production"]
    assert production["returncode"] == 0 and "no issues" in production["output"], production["output"]
    assert "security.W018" in out["control: DEBUG on"]["issues"], "the control run must flag DEBUG"


def test_api_token_is_required_and_used_by_the_site(stack):
    out = token_checks(stack)
    assert (out["no token"], out["wrong token"], out["right token"]) == (401, 401, 200)
    assert out["site → API with the token"] == "ok"


def test_site_with_a_wrong_token_keeps_the_upload_and_says_why(stack, media):
    out = site_with_wrong_token(stack, media)
    assert out["upload"] == 302 and "/submissions/" in out["location"], out
    assert out["kept"], out
    assert out["health api_ok"] is False and "Bearer" in (out["health detail"] or ""), out
