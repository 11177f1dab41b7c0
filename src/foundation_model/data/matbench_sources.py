"""Where Matbench v0.1 data comes from, offline-first.

1. matminer's loader (``matminer.datasets.load_dataset``) when its host answers within a
   short timeout — it downloads the original ``.json.gz`` files (not reachable everywhere);
2. otherwise two PyPI wheels, downloaded once into a cache folder with pip:

   * ``crabnet==2.0.8`` holds ``crabnet/data/matbench/<name>.csv`` (``formula,target``; rows
     in the official Matbench order; structure tasks reduced to their formula);
   * ``matbench==0.6`` holds ``matbench/matbench_v0.1_validation.json`` (the official 5-fold
     test ids) and ``matbench_v0.1_dataset_metadata.json``.

pip is found as ``<python> -m pip`` when the environment has it, otherwise through uv
(``uvx --from pip pip download``), which is how a ``uv sync``-ed venv (no pip) gets it.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

DEFAULT_CACHE_DIR = Path("data/cache/wheels")
CRABNET = ("crabnet", "2.0.8")
MATBENCH = ("matbench", "0.6")
VALIDATION_MEMBER = "matbench/matbench_v0.1_validation.json"
METADATA_MEMBER = "matbench/matbench_v0.1_dataset_metadata.json"


def _pip_command() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uvx = shutil.which("uvx")
    if uvx:
        return [uvx, "--from", "pip", "pip"]
    uv = shutil.which("uv")
    if uv:
        return [uv, "tool", "run", "--from", "pip", "pip"]
    raise RuntimeError(
        "Neither pip nor uv is available to download wheels: install pip (or uv) and retry."
    )


def wheel_path(name: str, version: str, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Return the cached ``name==version`` wheel, downloading it with pip when missing.

    Args:
        name: distribution name on PyPI.
        version: exact version.
        cache_dir: folder holding downloaded wheels.
    """
    cache_dir = Path(cache_dir)
    found = sorted(cache_dir.glob(f"{name}-{version}-*.whl"))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        *_pip_command(),
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.10",
    ]
    cmd += ["--dest", str(cache_dir), "--quiet", f"{name}=={version}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(
            f"Downloading {name}=={version} from PyPI timed out; check the network."
        ) from err
    found = sorted(cache_dir.glob(f"{name}-{version}-*.whl"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(
            f"Could not download {name}=={version} from PyPI ({last[0]}); check the network."
        )
    return found[0]


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """Bytes of ``member`` inside ``wheel``.

    Args:
        wheel: a ``.whl`` file.
        member: path inside the archive.
    """
    with zipfile.ZipFile(wheel) as z:
        try:
            return z.read(member)
        except KeyError as err:
            raise FileNotFoundError(f"{member} not found in {wheel.name}.") from err


def load_validation(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> dict:
    """The official Matbench v0.1 validation file (``metadata`` + ``splits``).

    Args:
        cache_dir: wheel cache folder.
    """
    return json.loads(read_wheel_member(wheel_path(*MATBENCH, cache_dir), VALIDATION_MEMBER))


def load_metadata(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> dict:
    """Matbench v0.1 dataset metadata (target, unit, task type, n_samples, MAD).

    Args:
        cache_dir: wheel cache folder.
    """
    return json.loads(read_wheel_member(wheel_path(*MATBENCH, cache_dir), METADATA_MEMBER))


def crabnet_table(stem: str, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> pd.DataFrame:
    """``formula,target`` rows of ``crabnet/data/matbench/<stem>.csv`` in file order.

    Args:
        stem: file name without ``.csv`` (e.g. ``steels_yield``).
        cache_dir: wheel cache folder.
    """
    import io

    raw = read_wheel_member(wheel_path(*CRABNET, cache_dir), f"crabnet/data/matbench/{stem}.csv")
    return pd.read_csv(io.BytesIO(raw), keep_default_na=False, na_values=[""])


def host_reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds.

    Args:
        url: any http(s) URL.
        timeout: seconds.
    """
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def matminer_table(
    dataset: str, target: str, data_home: Path, timeout: float = 3.0
) -> pd.DataFrame | None:
    """``formula,target`` rows from matminer's loader, or None when it cannot reach its host.

    Args:
        dataset: matminer dataset name (``matbench_steels``).
        target: target column name in that dataset.
        data_home: where matminer stores downloads.
        timeout: seconds allowed for the reachability probe.
    """
    from matminer.datasets import load_dataset
    from matminer.datasets.dataset_retrieval import get_dataset_attribute

    url = get_dataset_attribute(dataset, "url")
    if not host_reachable(url, timeout):
        return None
    try:
        df = load_dataset(dataset, data_home=str(data_home))
    except Exception:  # download refused or truncated: use the wheels instead
        return None
    if "composition" in df.columns:
        formulas = df["composition"].map(
            lambda c: c if isinstance(c, str) else c.formula.replace(" ", "")
        )
    else:
        formulas = df["structure"].map(lambda s: s.composition.formula.replace(" ", ""))
    return pd.DataFrame({"formula": formulas.to_numpy(), "target": df[target].to_numpy()})
