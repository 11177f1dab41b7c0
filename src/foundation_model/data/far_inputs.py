"""Descriptor values far outside the training rows' spread: a warning, since they swamp
the network and its reconstruction losses.

A column that is nearly constant on the training rows (``0`` for all but two rows, which
hold ``6e-6``) has a tiny training std, so a validation row holding ``0.6`` is standardised
to ``~1e6``. Such an input dominates that row's representation and turns the validation
reconstruction losses into numbers of the order of ``1e11``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from foundation_model.data.scalers import masked_mean_std
from foundation_model.data.splitters import SplitIndices
from foundation_model.utils.warn_once import warn_once

FAR = 1e3  # standardised distance from the training mean that no real tail reaches


class FarInputWarning(UserWarning):
    """Validation or test descriptors thousands of training stds from the training mean."""


def warn_far_inputs(x: np.ndarray, columns: Sequence[str], splits: SplitIndices, what: str) -> None:
    """Warn (:class:`FarInputWarning`) naming the columns where validation or test rows lie
    more than :data:`FAR` training standard deviations from the training mean.

    Each distinct message is shown once per process (``utils.warn_once``).

    Args:
        x: ``(N, F)`` descriptors as the model reads them (gaps filled).
        columns: the ``F`` column names.
        splits: the split (statistics from its train rows, as the model's scalers).
        what: the table, for the message (e.g. ``formula_desc_source``).
    """
    held_out = np.concatenate([splits.val, splits.test]).astype(int)
    if len(held_out) == 0 or len(splits.train) == 0:
        return
    train = np.asarray(x[splits.train], dtype=np.float64)
    mean, std = masked_mean_std(train, np.ones_like(train, dtype=bool))
    z = np.abs((np.asarray(x[held_out], dtype=np.float64) - mean) / std)
    far = np.flatnonzero((z > FAR).any(axis=0))
    if len(far) == 0:
        return
    worst = far[np.argsort(-z[:, far].max(axis=0))]
    named = ", ".join(
        f"{columns[j]!r} (training std {float(std[j]):.2g}, {int((z[:, j] > FAR).sum())} row(s) "
        f"up to {float(z[:, j].max()):.2g} stds out)"
        for j in worst[:3]
    )
    more = f" and {len(far) - 3} more" if len(far) > 3 else ""
    message = (
        f"{what}: validation/test rows lie more than {FAR:g} training stds from the training "
        f"mean in {named}{more}: a column nearly constant on the training rows makes such "
        "inputs swamp the network and its validation losses; drop the column from the "
        "descriptor table, or give such rows to training."
    )
    warn_once(message, FarInputWarning)
