"""foundation_model: multi-task materials property prediction.

``foundation_model.load(ckpt).predict(["Fe2O3", "GaN"])`` predicts new materials from a
checkpoint alone (imported lazily, so ``import foundation_model`` stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def load(path: Any, batch_size: int = 1024, n_jobs: int = 1) -> Any:
    """Load a trained model from its checkpoint alone; see
    :class:`foundation_model.inference.Predictor`."""
    from foundation_model.inference import load as _load

    return _load(path, batch_size, n_jobs)
