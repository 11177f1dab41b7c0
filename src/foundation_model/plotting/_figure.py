"""Figure helpers shared by the plotting modules (Agg backend, atomic PNG saving)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundation_model.utils.atomic import atomic_write


def new_figure(ncols: int = 1, size: tuple[float, float] = (4.5, 4.0)) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]), squeeze=False)
    return fig, axes[0]


def save(fig: Any, path: Path) -> Path:
    """Save ``fig`` as PNG through a temporary file and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        return atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    finally:
        plt.close(fig)
