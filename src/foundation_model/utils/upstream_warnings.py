"""Warnings from the libraries we build on that a user can do nothing about.

Each is hidden by message, so any other warning from the same library still shows.
"""

from __future__ import annotations

import warnings

# message patterns (regular expressions matched at the start of the warning text)
UPSTREAM_NOISE: tuple[str, ...] = (
    # the CLI passes its arguments on purpose (``fm`` parses them first)
    ".*LightningCLI's args parameter.*",
    # the models move their own Batch to the device on purpose (faster than Lightning's walk)
    ".*overridden `transfer_batch_to_device`.*",
    # Lightning 2.6's own use of torch's pytree API, deprecated by newer torch
    ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
)


def hide_upstream_noise() -> None:
    """Install ``ignore`` filters for :data:`UPSTREAM_NOISE` (in the current filter list;
    wrap the call in ``warnings.catch_warnings()`` to keep it local)."""
    for pattern in UPSTREAM_NOISE:
        warnings.filterwarnings("ignore", message=pattern)
