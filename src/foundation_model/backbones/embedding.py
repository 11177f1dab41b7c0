"""Per-structure backbone embeddings as a descriptor table for ``FlexibleMultiTaskModel``.

The table's index holds the ids, so it can be given as ``structure_desc_source`` of
:class:`foundation_model.data.datamodule.CompoundDataModule` (parquet or CSV).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase
import numpy as np
import pandas as pd
import torch


def _resolve_module(backbone: Any) -> Any:
    from foundation_model.backbones.base import MLIPBackbone
    from foundation_model.backbones.calculator import pretrained_backbone
    from foundation_model.backbones.module import MLIPFineTuneModule

    if isinstance(backbone, MLIPFineTuneModule):
        return backbone
    if isinstance(backbone, MLIPBackbone):
        return MLIPFineTuneModule(backbone, fit_reference_energies=False)
    if str(backbone).endswith(".ckpt"):
        module = MLIPFineTuneModule.load_from_checkpoint(str(backbone), map_location="cpu")
        module.use_ema_weights()
        return module
    return MLIPFineTuneModule(pretrained_backbone(backbone), fit_reference_energies=False)


def embedding_table(
    atoms_list: Sequence[ase.Atoms],
    ids: Sequence[Any] | None = None,
    backbone: Any = "sevennet",
    batch_size: int = 16,
    device: str = "auto",
    prefix: str | None = None,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """Embed structures with a backbone: one row per structure, index = ``ids``.

    Args:
        atoms_list: the structures.
        ids: row ids (default ``0..n-1``); must be unique and match the ids of the
            formula/attribute tables.
        backbone: ``sevennet``, ``chgnet``, a MACE model path, a fine-tuned ``.ckpt``, an
            :class:`MLIPBackbone` or an :class:`MLIPFineTuneModule`.
        batch_size: structures per forward pass.
        device: ``cpu``, ``cuda`` or ``auto``.
        prefix: column prefix (default: the backbone class name, e.g. ``sevennet``).
        out: optional ``.parquet`` or ``.csv`` file to write.

    Returns:
        ``DataFrame (n, D)`` of float32 columns ``<prefix>_emb_<i>``.
    """
    structures = list(atoms_list)
    if not structures:
        raise ValueError("embedding_table: no structures given.")
    ids = [str(i) for i in (ids if ids is not None else range(len(structures)))]
    if len(ids) != len(structures):
        raise ValueError(f"embedding_table: {len(ids)} ids for {len(structures)} structures.")
    if len(set(ids)) != len(ids):
        raise ValueError("embedding_table: ids must be unique.")
    module = _resolve_module(backbone)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    module = module.to(device).eval()
    rows = []
    for start in range(0, len(structures), batch_size):
        batch = module.batch_from_atoms(structures[start : start + batch_size])
        rows.append(module.backbone.embed(batch.graph).detach().float().cpu().numpy())  # (b, D)
    values = np.concatenate(rows)
    name = prefix or type(module.backbone).__name__.removesuffix("Backbone").lower()
    table = pd.DataFrame(
        values,
        index=pd.Index(ids, name="id"),
        columns=[f"{name}_emb_{i}" for i in range(values.shape[1])],
    )
    if out is not None:
        from foundation_model.features.table_io import write_table

        write_table(table, out)  # atomic: an interrupted run never leaves half a file
    return table


def embedding_table_from_file(
    path: str | Path,
    id_key: str | None = "id",
    backbone: Any = "sevennet",
    out: str | Path | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`embedding_table` of a structure file (extxyz, ASE ``.db``, ...).

    Args:
        path: structure file.
        id_key: ``atoms.info`` key holding each structure's id (row position when ``None``
            or absent from a structure).
        backbone: see :func:`embedding_table`.
        out: optional ``.parquet``/``.csv`` output.
        kwargs: further :func:`embedding_table` arguments.
    """
    from foundation_model.backbones.data import read_structures

    structures = read_structures(path)
    ids = [a.info.get(id_key, i) if id_key else i for i, a in enumerate(structures)]
    return embedding_table(structures, ids, backbone=backbone, out=out, **kwargs)
