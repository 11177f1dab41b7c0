"""Hashes and wheel members: the provenance fields of ``corpus.json``."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pandas as pd

from foundation_model.data import matbench_sources as wheels


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``.

    Args:
        data: bytes to hash.
    """
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks.

    Args:
        path: the file.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_info(name: str, version: str, cache_dir: Path) -> dict[str, str]:
    """Package, version, wheel file name and sha256 of a (downloaded once) PyPI wheel.

    Args:
        name: distribution name.
        version: pinned version.
        cache_dir: wheel cache folder.
    """
    path = wheels.wheel_path(name, version, cache_dir)
    return {"package": name, "version": version, "wheel": path.name, "sha256": sha256_file(path)}


def wheel_csv(
    name: str, version: str, member: str, cache_dir: Path
) -> tuple[pd.DataFrame, dict[str, object]]:
    """A CSV member of a wheel as a DataFrame, plus its ``file``/``sha256``/``rows`` record.

    Args:
        name: distribution name.
        version: pinned version.
        member: path of the CSV inside the wheel.
        cache_dir: wheel cache folder.
    """
    raw = wheels.read_wheel_member(wheels.wheel_path(name, version, cache_dir), member)
    table = pd.read_csv(io.BytesIO(raw), keep_default_na=False, na_values=[""])
    return table, {"file": member, "sha256": sha256_bytes(raw), "rows": len(table)}
