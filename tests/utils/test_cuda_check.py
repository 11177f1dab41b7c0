"""``utils/cuda_check.py``: Lightning's NVML device check is dropped only where NVML is absent."""

from __future__ import annotations

import os
import sys

import pytest

from foundation_model.utils import cuda_check


@pytest.mark.skipif(sys.platform != "linux", reason="the check only acts on Linux")
@pytest.mark.parametrize("loadable", [True, False])
def test_variable_is_dropped_only_without_nvml(monkeypatch, loadable):
    monkeypatch.setenv(cuda_check.NVML_CHECK_VARIABLE, "1")
    monkeypatch.setattr(cuda_check, "nvml_loadable", lambda: loadable)
    assert cuda_check.skip_nvml_check_without_nvml() is (not loadable)
    assert (os.environ.get(cuda_check.NVML_CHECK_VARIABLE) == "1") is loadable


def test_unset_variable_is_left_alone(monkeypatch):
    monkeypatch.delenv(cuda_check.NVML_CHECK_VARIABLE, raising=False)
    monkeypatch.setattr(cuda_check, "nvml_loadable", lambda: False)
    assert cuda_check.skip_nvml_check_without_nvml() is False


def test_cuda_answer_is_unchanged_by_dropping_the_variable(monkeypatch):
    import torch

    monkeypatch.setenv(cuda_check.NVML_CHECK_VARIABLE, "1")
    before = torch.cuda.is_available()
    cuda_check.skip_nvml_check_without_nvml()
    assert torch.cuda.is_available() == before
