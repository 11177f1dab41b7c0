"""Evaluation metrics computed on whole splits (numpy in, floats out)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² over finite pairs."""
    ok = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[ok], pred[ok]
    if y.size == 0:
        return {}
    err = pred - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean())), "r2": r2}


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, log loss (mean ``-ln p`` of the true class: a smooth, threshold-free score
    for checkpoint selection, e.g. ``monitor: val_<task>_log_loss``) and ROC-AUC (binary, or
    one-vs-rest macro) from class probabilities ``(N, C)``."""
    if y.size == 0:
        return {}
    true_p = np.clip(proba[np.arange(y.size), y], 1e-12, 1.0)
    out = {
        "accuracy": float((proba.argmax(axis=1) == y).mean()),
        "log_loss": float(-np.log(true_p).mean()),
    }
    present = np.unique(y)
    if len(present) < 2:
        return out
    try:
        if proba.shape[1] == 2:
            out["roc_auc"] = float(roc_auc_score(y, proba[:, 1]))
        elif len(present) == proba.shape[1]:
            out["roc_auc"] = float(roc_auc_score(y, proba, multi_class="ovr"))
    except ValueError:
        pass
    return out


def point_metrics(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Regression metrics over labelled points (``pred``/``target``/``mask`` arrays), plus
    calibration metrics when the arrays carry a finite ``std``."""
    from foundation_model.models.calibration import calibration_metrics

    m = arrays["mask"] & np.isfinite(arrays["pred"])
    out = regression_metrics(arrays["target"][m], arrays["pred"][m])
    std = arrays.get("std")
    if std is not None and np.isfinite(std[m]).any():
        cal = calibration_metrics(arrays["target"][m], arrays["pred"][m], std[m])
        out |= {k: v for k, v in cal.items() if k != "n"}
    return out
