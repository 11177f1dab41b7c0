"""Warnings and tips from the libraries we build on that a user can do nothing about.

Each is hidden by message, so any other warning or log line from the same library still
shows.
"""

from __future__ import annotations

import logging
import re
import warnings

# message patterns (regular expressions matched at the start of the warning text)
UPSTREAM_NOISE: tuple[str, ...] = (
    # the CLI passes its arguments on purpose (``fm`` parses them first)
    ".*LightningCLI's args parameter.*",
    # the models move their own Batch to the device on purpose (faster than Lightning's walk)
    ".*overridden `transfer_batch_to_device`.*",
    # Lightning 2.6's own use of torch's pytree API, deprecated by newer torch
    ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
    # every fm fit/test/predict opens its own version folder on purpose, so a checkpoint's
    # callback state always names another folder than the new run's
    ".*The dirpath has changed from.*",
)


# log lines (Lightning's rank-zero logger) advertising services, not about the run
UPSTREAM_TIPS: tuple[str, ...] = (".*Tip: For seamless cloud logging.*",)
TIPS_LOGGER = "lightning.pytorch.utilities.rank_zero"


class _DropTips(logging.Filter):
    """Drops the log records whose message matches :data:`UPSTREAM_TIPS`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(re.match(p, record.getMessage()) for p in UPSTREAM_TIPS)


def hide_upstream_noise() -> None:
    """Install ``ignore`` filters for :data:`UPSTREAM_NOISE` (in the current filter list;
    wrap the call in ``warnings.catch_warnings()`` to keep it local), and a log filter for
    :data:`UPSTREAM_TIPS` (once per process)."""
    for pattern in UPSTREAM_NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    tips = logging.getLogger(TIPS_LOGGER)
    if not any(isinstance(f, _DropTips) for f in tips.filters):
        tips.addFilter(_DropTips())
