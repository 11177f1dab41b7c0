"""Confusion matrix and ROC curve(s) for a classification task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, roc_curve

from foundation_model.plotting._figure import new_figure, save


def classification_plot(
    y_true: np.ndarray, proba: np.ndarray, class_names: list[str], title: str, path: Path
) -> Path:
    """Confusion matrix (left) and one-vs-rest ROC curves (right)."""
    fig, (ax_cm, ax_roc) = new_figure(2)
    k = proba.shape[1]
    cm = confusion_matrix(y_true, proba.argmax(axis=1), labels=list(range(k)))
    ax_cm.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax_cm.text(j, i, str(v), ha="center", va="center")
    ax_cm.set_xticks(range(k), class_names, rotation=45)
    ax_cm.set_yticks(range(k), class_names)
    ax_cm.set_xlabel("predicted")
    ax_cm.set_ylabel("true")
    ax_cm.set_title(f"{title}: confusion")
    classes = [1] if k == 2 else range(k)
    for c in classes:
        positives = y_true == c
        if positives.any() and (~positives).any():
            fpr, tpr, _ = roc_curve(positives, proba[:, c])
            ax_roc.plot(fpr, tpr, label=class_names[c])
    ax_roc.plot([0, 1], [0, 1], "k--", lw=1)
    ax_roc.set_xlabel("false positive rate")
    ax_roc.set_ylabel("true positive rate")
    ax_roc.set_title(f"{title}: ROC")
    ax_roc.legend(fontsize=8)
    return save(fig, path)
