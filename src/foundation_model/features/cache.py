"""On-disk cache of raw (pre-imputation) featurization results.

An entry is keyed by the SHA-256 of the featurizer configuration (specs + matminer version)
and of the exact list of inputs, so the same command on the same data is a file read.
Entries are a Parquet table (raw values) plus a JSON file with the failures; both are
written atomically, so an interrupted run never leaves a half-written entry. While an entry
is being computed, each finished chunk of inputs is kept in ``<key>.partial/`` (see
:class:`ChunkStore`): an interrupted run started again computes only the chunks it lacks.
Chunk folders no run wrote to for two weeks (an interrupted run whose inputs then changed)
are removed whenever an entry is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.features.runner import RawFeatures
from foundation_model.features.structure import is_ase_atoms
from foundation_model.features.table_io import write_json, write_table

DEFAULT_CACHE_DIR = Path("data/cache/features")
STALE_CHUNKS_DAYS = 14.0  # chunk folders untouched this long are removed when an entry is stored


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _item_text(item: object) -> str:
    """The full content of one input as text for the cache key: a string as it is; an
    ``ase.Atoms`` or a pymatgen object by all its numbers (their ``str`` leaves out the
    positions, so two different structures would share an entry)."""
    if item is None:
        return ""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return json.dumps(item, sort_keys=True, default=str)
    if is_ase_atoms(item):
        arrays = (item.numbers, item.get_positions(), item.get_cell().array, item.pbc)
        return "atoms:" + "|".join(np.asarray(a).tobytes().hex() for a in arrays)
    if hasattr(item, "as_dict"):  # pymatgen Structure / Composition
        return json.dumps(item.as_dict(), sort_keys=True, default=str)
    return str(item)


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
        inputs = _digest("\x1f".join(_item_text(v) for v in items))
        return f"{_digest(fingerprint)[:16]}-{inputs[:24]}"

    def chunks(self, key: str) -> ChunkStore:
        """The store of finished chunks of the entry ``key`` while it is computed.

        Args:
            key: from :meth:`key`.
        """
        return ChunkStore(self.root / f"{key}.partial")

    def prune_stale_chunks(self, max_age_days: float = STALE_CHUNKS_DAYS) -> list[Path]:
        """Remove ``<key>.partial`` folders no chunk was written to for ``max_age_days``:
        left by an interrupted run whose inputs then changed, they would never be read back.
        Returns the folders removed.

        Args:
            max_age_days: age of the newest chunk beyond which a folder is abandoned.
        """
        removed: list[Path] = []
        limit = time.time() - max_age_days * 86400.0
        for folder in self.root.glob("*.partial"):
            try:
                newest = max((p.stat().st_mtime for p in folder.iterdir()), default=0.0)
                newest = max(newest, folder.stat().st_mtime)
            except OSError:  # removed meanwhile by the run it belongs to
                continue
            if newest < limit:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed

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


class ChunkStore:
    """Finished chunks of one cache entry still being computed, one ``.npz`` file each.

    A chunk is named by its chunk size and first position, so a later run with the same
    inputs and chunk size reads it back instead of featurizing it again. Files are written
    atomically (temporary name, then rename); an unreadable or misshapen one is computed
    again. The folder is removed once the whole entry is stored.

    Args:
        folder: ``<cache root>/<key>.partial``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._writable = True

    def load(self, chunk_size: int, n_items: int, width: int) -> dict[int, tuple]:
        """Finished chunks for this chunk size: first position -> (values, errors).

        Args:
            chunk_size: inputs per chunk of the run that reads them.
            n_items: number of inputs (a chunk must have the length its position implies).
            width: number of descriptor columns.
        """
        found: dict[int, tuple] = {}
        if not self.folder.is_dir():
            return found
        for path in self.folder.glob(f"{chunk_size}-*.npz"):
            try:
                start = int(path.stem.split("-", 1)[1])
                with np.load(path, allow_pickle=False) as npz:
                    block = npz["values"]
                    errors = {int(k): str(v) for k, v in json.loads(str(npz["errors"])).items()}
            except Exception:  # damaged or foreign: computed again
                continue
            expected = (min(chunk_size, n_items - start), width)
            if start % chunk_size == 0 and 0 <= start < n_items and block.shape == expected:
                found[start] = (block, errors)
        return found

    def save(self, chunk_size: int, start: int, block: np.ndarray, errors: dict) -> None:
        """Keep one finished chunk (a failure to write only costs the resume).

        Args:
            chunk_size: inputs per chunk.
            start: position of the chunk's first input.
            block: its raw values.
            errors: its failures, by position within the chunk.
        """
        if not self._writable:
            return
        path = self.folder / f"{chunk_size}-{start}.npz"
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # runs side by side
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, values=block, errors=json.dumps({str(k): v for k, v in errors.items()}))
            os.replace(tmp, path)
        except OSError:  # the cache's own save says so once; an interrupt would lose this chunk
            self._writable = False

    def clear(self) -> None:
        """Remove the finished chunks (the whole entry is stored)."""
        shutil.rmtree(self.folder, ignore_errors=True)
