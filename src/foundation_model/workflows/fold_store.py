"""Finished folds of a benchmark run kept on disk, so that an interrupted run resumes.

A Matbench run of a large task takes hours (5 folds, each with several networks and
random forests). Every fold that finishes is written to
``<out_dir>/<task>.folds/<key>/fold_<k>.json`` (scores, per-fold info) and
``fold_<k>.npz`` (the test-fold arrays the pooled plots need). ``<key>`` is a hash of
everything that decides a fold's result (task, fold ids, config text, checkpoint bytes,
seeds, budget, the package's source code), so a run with other settings or other code
never reads these folds and never overwrites them. Folds that failed are not stored: a
rerun tries them again. Both files are written atomically, the ``.npz`` first, so a
``.json`` always has its arrays.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foundation_model.utils.atomic import write_bytes, write_json

#: written beside the folds: the settings that ``key`` hashes, for a reader
KEY_FILE = "key.json"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes.

    Args:
        path: the file.
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_sha256() -> str:
    """Hash of this package's Python source: a fold stored by other code is not reused."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _nan_for_null(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A fold's scores as written (strict JSON keeps a NaN score as null) with NaN back."""
    return None if row is None else {k: math.nan if v is None else v for k, v in row.items()}


@dataclass
class FoldRecord:
    """One finished fold.

    Args:
        scores: per entry (``model``, ``rf_scm_magpie``, ...), its score dict.
        pooled: per entry, the test-fold arrays (``y``, ``values``, ``proba``, ``std``).
        info: anything else the run reports per fold (chosen mode, timings).
    """

    scores: dict[str, dict[str, float] | None]
    pooled: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class FoldStore:
    """Reads and writes the finished folds of one run (see the module docstring).

    Args:
        out_dir: the run's results folder.
        task: task name (``matbench_steels``).
        settings: JSON-serialisable settings that decide a fold's result; their hash names
            the folder.
        enabled: False turns the store off (nothing read or written).
    """

    def __init__(
        self, out_dir: Path, task: str, settings: dict[str, Any], enabled: bool = True
    ) -> None:
        text = json.dumps(settings, sort_keys=True, default=str)
        self.key = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.settings = settings
        self.folder = Path(out_dir) / f"{task}.folds" / self.key
        self.enabled = enabled

    def _paths(self, fold: int) -> tuple[Path, Path]:
        return self.folder / f"fold_{fold}.json", self.folder / f"fold_{fold}.npz"

    def load(self, fold: int) -> FoldRecord | None:
        """The stored fold, or None when it was not finished (or the store is off)."""
        if not self.enabled:
            return None
        meta_path, arr_path = self._paths(fold)
        if not (meta_path.is_file() and arr_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            with np.load(arr_path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError) as err:  # unreadable: run the fold again
            print(f"fold store: ignoring {meta_path} ({type(err).__name__}: {err})")
            return None
        pooled: dict[str, dict[str, np.ndarray]] = {}
        for name, values in arrays.items():
            entry, _, array = name.partition("/")
            pooled.setdefault(entry, {})[array] = values
        scores = {entry: _nan_for_null(row) for entry, row in meta["scores"].items()}
        return FoldRecord(scores, pooled, meta.get("info") or {})

    def save(self, fold: int, record: FoldRecord) -> None:
        """Write one finished fold (arrays first, then the JSON that marks it finished)."""
        if not self.enabled:
            return
        meta_path, arr_path = self._paths(fold)
        if not (self.folder / KEY_FILE).is_file():
            write_json(self.settings, self.folder / KEY_FILE)
        buffer = io.BytesIO()
        flat = {
            f"{entry}/{name}": np.asarray(values)
            for entry, arrays in record.pooled.items()
            for name, values in arrays.items()
        }
        np.savez_compressed(buffer, **flat)
        write_bytes(buffer.getvalue(), arr_path)
        write_json({"fold": fold, "scores": record.scores, "info": record.info}, meta_path)
