"""Reading checkpoint files safely, with one-line errors that name the file.

Checkpoints are read with ``torch.load(..., weights_only=True)``: only tensors, plain Python
containers and the few numpy types listed in :func:`checkpoint_safe_globals` are
unpickled, never arbitrary objects. This repository's checkpoints store task specs and
backbones as ``{class_path, init_args}`` dicts (see :mod:`foundation_model.utils.class_path`),
so they need nothing else.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not a Lightning checkpoint."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist."""


def checkpoint_safe_globals() -> list[Any]:
    """Non-tensor types a checkpoint may hold besides plain containers: numpy arrays/scalars."""
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]

    dtype_classes = [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUSMmO"]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def allow_checkpoint_globals() -> None:
    """Register :func:`checkpoint_safe_globals` with torch, for loaders we do not call
    ourselves (Lightning's ``--ckpt_path``, ``load_from_checkpoint``). Idempotent."""
    import torch

    torch.serialization.add_safe_globals(checkpoint_safe_globals())


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def check_checkpoint_file(path: str | Path) -> Path:
    """Cheap structural checks: the file exists, is not empty and is a complete zip archive.

    ``torch.save`` (and so Lightning) writes zip archives whose directory sits at the end of
    the file, so a truncated copy fails here without reading the tensors.

    Args:
        path: the checkpoint file.

    Raises:
        CheckpointError: one line naming the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        where = f" (relative to the working folder {Path.cwd()})" if not path.is_absolute() else ""
        raise CheckpointNotFoundError(f"Checkpoint not found: {path}{where}.")
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} is a folder, not a file.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"Checkpoint {path} is empty (0 bytes).")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"Checkpoint {path} is truncated or not a PyTorch checkpoint "
            f"({path.stat().st_size} bytes, no zip directory at its end)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"Checkpoint {path} is damaged: {_first_line(err)}.") from err
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        raise CheckpointError(f"{path} is a zip archive but not a PyTorch checkpoint.")
    return path


def load_checkpoint(
    path: str | Path, mmap: bool = False, require: tuple[str, ...] = ("state_dict",)
) -> dict[str, Any]:
    """Load a Lightning checkpoint with ``weights_only=True`` onto the CPU.

    Args:
        path: the checkpoint file.
        mmap: memory-map the tensors instead of reading them (cheap validation).
        require: top-level entries the checkpoint must have.

    Returns:
        The checkpoint dict (it has the ``require`` entries).

    Raises:
        CheckpointError: one line naming the file and the problem (missing, empty,
            truncated, not a checkpoint, or holding objects outside the safe list).
    """
    import pickle

    import torch

    path = check_checkpoint_file(path)
    registered = torch.serialization.get_safe_globals()
    extra = [g for g in checkpoint_safe_globals() if g not in registered]  # the context manager
    try:  # removes what it was given on exit, so never give it globals registered before
        with torch.serialization.safe_globals(extra):
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        raise CheckpointError(
            f"Checkpoint {path} holds Python objects that are not loaded for safety "
            f"({', '.join(unsafe[:3]) or _first_line(err)}); save plain types "
            "(dicts, lists, numbers, strings, tensors) instead."
        ) from err
    except Exception as err:  # noqa: BLE001 - torch raises many types for damaged files
        raise CheckpointError(f"Cannot read checkpoint {path}: {_first_line(err)}.") from err
    absent = [k for k in require if not isinstance(ckpt, dict) or k not in ckpt]
    if absent:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no {absent[0]!r} entry).")
    return ckpt
