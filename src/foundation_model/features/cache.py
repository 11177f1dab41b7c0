"""On-disk cache of raw (pre-imputation) featurization results.

An entry is keyed by the SHA-256 of the featurizer configuration (specs + matminer version)
and of the exact list of inputs, so the same command on the same data is a file read.
Entries are a Parquet table (raw values) plus a JSON file with the failures; both are
written atomically, so an interrupted run never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.features.runner import RawFeatures
from foundation_model.features.table_io import write_json, write_table

DEFAULT_CACHE_DIR = Path("data/cache/features")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeatureCache:
    """Cache of :class:`RawFeatures` under ``root``.

    Args:
        root: cache folder (created on first write).
    """

    def __init__(self, root: str | Path = DEFAULT_CACHE_DIR) -> None:
        self.root = Path(root)

    def key(self, items: Sequence[object], fingerprint: str) -> str:
        """Cache key of ``items`` featurized with configuration ``fingerprint``.

        Args:
            items: the raw inputs, in order.
            fingerprint: text describing the featurizer configuration.
        """
        inputs = _digest("\x1f".join("" if v is None else str(v) for v in items))
        return f"{_digest(fingerprint)[:16]}-{inputs[:24]}"

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.parquet", self.root / f"{key}.errors.json"

    def load(self, key: str) -> RawFeatures | None:
        """The cached entry, or None when absent.

        Args:
            key: from :meth:`key`.
        """
        table, errs = self._paths(key)
        if not (table.exists() and errs.exists()):
            return None
        try:
            df = pd.read_parquet(table, engine="pyarrow")
            errors = {int(k): v for k, v in json.loads(errs.read_text()).items()}
        except Exception as err:  # a damaged entry is a miss, featurized again and rewritten
            warnings.warn(
                f"feature cache entry {table} is unreadable ({type(err).__name__}); "
                "featurizing again and rewriting it.",
                stacklevel=2,
            )
            return None
        return RawFeatures(df.to_numpy(np.float64), [str(c) for c in df.columns], errors)

    def save(self, key: str, raw: RawFeatures) -> None:
        """Store an entry (table first, errors file last: its presence marks completeness).

        Args:
            key: from :meth:`key`.
            raw: the featurization result.
        """
        table, errs = self._paths(key)
        try:
            errs.unlink(missing_ok=True)  # an entry being rewritten is incomplete until the end
            write_table(pd.DataFrame(raw.values, columns=raw.columns), table)
            write_json({str(k): v for k, v in raw.errors.items()}, errs)
        except OSError as err:  # the results are still returned: only the cache is lost
            warnings.warn(
                f"feature cache {self.root} not written ({err.strerror or err}); the results "
                "are used without caching (--no-cache or --cache-dir elsewhere avoids this).",
                stacklevel=2,
            )
