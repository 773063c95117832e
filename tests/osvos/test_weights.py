"""weights: where OSVOS.load() finds the parent network when it is given none."""
from __future__ import annotations

from pathlib import Path

import pytest

from osvos import weights


def test_the_setting_names_the_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("OSVOS_WEIGHTS", str(tmp_path / "mine.weights.h5"))
    assert weights.default_weights() == tmp_path / "mine.weights.h5"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_without_the_setting_the_checkout_weights_or_none(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("OSVOS_WEIGHTS", raising=False)
    else:
        monkeypatch.setenv("OSVOS_WEIGHTS", value)
    expected = weights.SHIPPED_WEIGHTS if weights.SHIPPED_WEIGHTS.is_file() else None
    assert weights.default_weights() == expected
    assert weights.SHIPPED_WEIGHTS == Path(__file__).resolve().parents[2] / "models" / "osvos_parent.weights.h5"


def test_load_reports_a_setting_that_names_no_file(monkeypatch, tmp_path):
    from osvos.system import OSVOS

    monkeypatch.setenv("OSVOS_WEIGHTS", str(tmp_path / "missing.weights.h5"))
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        OSVOS.load()
