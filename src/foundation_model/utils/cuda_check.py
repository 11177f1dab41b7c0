"""Keep CPU training off a per-step failing NVML lookup.

Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` so that ``torch.cuda`` counts
devices through NVML and forked data-loader workers stay usable. Adam and AdamW ask
``torch.cuda.is_available()`` on every ``step()``; on a machine without the NVML library
(CPU-only hosts with a CUDA build of torch) that check tries to load ``libnvidia-ml`` again
on every call (~70 us), fails, and falls back to the CUDA runtime count it would have used
without the variable. Dropping the variable there changes no answer and saves the failed
load on every optimizer step.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

NVML_CHECK_VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"
NVML_LIBRARY = "libnvidia-ml.so.1"  # the name torch.cuda loads


@functools.cache
def nvml_loadable() -> bool:
    """Whether the NVML library can be loaded in this process."""
    try:
        ctypes.CDLL(NVML_LIBRARY)
    except OSError:
        return False
    return True


def skip_nvml_check_without_nvml() -> bool:
    """Drop ``PYTORCH_NVML_BASED_CUDA_CHECK`` on Linux hosts where NVML cannot be loaded.

    Returns whether the variable was dropped.
    """
    if sys.platform != "linux" or os.environ.get(NVML_CHECK_VARIABLE) != "1":
        return False
    if nvml_loadable():
        return False
    del os.environ[NVML_CHECK_VARIABLE]
    return True
