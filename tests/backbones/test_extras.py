"""A backbone whose optional package is missing says which ``uv sync --extra`` installs it."""

from __future__ import annotations

import sys

import pytest

from foundation_model.backbones import CHGNetBackbone, MACEBackbone, SevenNetBackbone

CASES = {
    "sevenn": (SevenNetBackbone, ("7net-0",), ("sevenn", "sevenn.util")),
    "chgnet": (CHGNetBackbone, ("0.3.0",), ("chgnet", "chgnet.model")),
    "mace": (MACEBackbone, ("x.model",), ("mace", "mace.data", "mace.modules", "mace.tools")),
}


@pytest.mark.parametrize("extra", sorted(CASES))
def test_missing_package_names_its_extra(extra, monkeypatch):
    cls, args, modules = CASES[extra]
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ImportError) as info:
        cls(*args)
    message = str(info.value)
    assert "\n" not in message
    assert f"uv sync --locked --extra {extra}`" in message
    if extra == "mace":  # mace-torch conflicts with sevenn: its own environment
        assert "`UV_PROJECT_ENVIRONMENT=.venv-mace uv sync --locked --extra mace`" in message
