"""Loss curves and learned task uncertainties over epochs, read from a CSVLogger file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foundation_model.plotting._figure import new_figure, save


def training_curves_plot(metrics_csv: Path, path: Path) -> Path | None:
    """Plot ``*_final_loss`` per epoch (left) and ``sigma_<task>`` per epoch (right)."""
    if not metrics_csv.exists():
        return None
    df = pd.read_csv(metrics_csv)
    if "epoch" not in df.columns:
        return None
    per_epoch = df.groupby("epoch").mean(numeric_only=True)
    fig, (ax_loss, ax_sigma) = new_figure(2)
    for col in ("train_final_loss", "val_final_loss"):
        if col in per_epoch.columns and per_epoch[col].notna().any():
            ax_loss.plot(per_epoch.index, per_epoch[col], label=col)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=8)
    ax_loss.set_title("total loss")
    for col in sorted(c for c in per_epoch.columns if c.startswith("sigma_")):
        ax_sigma.plot(per_epoch.index, per_epoch[col], label=col[len("sigma_") :])
    ax_sigma.set_xlabel("epoch")
    ax_sigma.set_ylabel("sigma_t")
    ax_sigma.set_title("learned task uncertainty")
    if ax_sigma.lines:
        ax_sigma.legend(fontsize=8)
    return save(fig, path)
