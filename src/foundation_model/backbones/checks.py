"""Load-time checks of MLIP data: every structure's labels, elements and periodicity,
before training.

Structures are named by their index in the file they were read from (not by their
position in a shuffled split), so a problem can be found in the file directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ase

from foundation_model.backbones.base import MLIPBackbone
from foundation_model.backbones.data import extract_labels
from foundation_model.backbones.properties import PropertyConfig

# splits whose structures a stage reads; labels are checked on all but ``predict``
STAGE_SPLITS: dict[str, tuple[str, ...]] = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("predict",),
}


def count_labels(
    structures: list[ase.Atoms],
    properties: list[PropertyConfig],
    backbone: MLIPBackbone,
    locate: Callable[[int], str],
) -> dict[str, int]:
    """Check every structure (elements, periodicity, labels); count the labelled ones.

    Args:
        structures: the structures of one split.
        properties: the schema (empty: check elements only).
        backbone: the adapter whose requirements (:meth:`MLIPBackbone.check_structure`)
            the structures must meet.
        locate: ``position -> "17 of file.extxyz"`` for messages.

    Returns:
        ``{property name: number of structures with that label}``.

    Raises:
        ValueError: an unknown element, a cell the backbone cannot handle, or a label with
            a wrong shape or non-finite values.
    """
    counts = {p.name: 0 for p in properties}
    for i, atoms in enumerate(structures):
        where = locate(i)
        backbone.check_structure(atoms, where)
        for name in extract_labels(atoms, properties, where, allow_missing=True):
            counts[name] += 1
    return counts


def label_report(
    split: str,
    source: str,
    total: int,
    counts: dict[str, int],
    properties: list[PropertyConfig],
    split_from_train: bool = False,
    all_periodic: bool = False,
) -> list[str]:
    """Lines describing masked labels of a split.

    Args:
        split_from_train: the split's structures were drawn from ``train_path`` (no file of
            its own), which the message then names.
        all_periodic: every structure is 3D-periodic (a missing stress is then not
            explained by the periodicity).

    Raises:
        ValueError: a property has no label in any training structure, or a validation /
            test split has no label at all (its loss would be 0, a perfect score).
    """
    if split in ("val", "test") and total and properties and not any(counts.values()):
        keys = ", ".join(repr(p.label_key) for p in properties)
        flag = f"data.init_args.{split}_path"
        fix = (
            f"its {total} structures were drawn from train_path {source}: label more of them, "
            f"change data.init_args.split_seed / split_fractions, or give {flag} a labelled file"
            if split_from_train
            else f"give {flag} a labelled file (`fm predict` with predict_path takes "
            "unlabelled structures)"
        )
        raise ValueError(
            f"No {split} structure in {source} has a label ({keys}): it would score a loss "
            f"of 0; {fix}."
        )
    lines = []
    for prop in properties:
        n = counts[prop.name]
        periodic_only = prop.name == "stress" and not all_periodic
        why = " (stress is read for 3D-periodic structures only)" if periodic_only else ""
        if n == 0 and split == "train":
            raise ValueError(
                f"No training structure in {source} has a label {prop.label_key!r} for property "
                f"{prop.name!r}{why} (looked in atoms.info, atoms.arrays and calculator "
                "results): label the data, set the property's key, or drop it from "
                "model.properties."
            )
        if n < total:
            lines.append(
                f"{split}: {n} of {total} structures in {source} have the label "
                f"{prop.label_key!r}{why}; the other {total - n} are masked for {prop.name!r}."
            )
    return lines


def check_datamodule(
    dm: Any, stage: str, properties: list[PropertyConfig], backbone: MLIPBackbone
) -> list[str]:
    """Check all structures ``stage`` reads from an :class:`MLIPDataModule`.

    Args:
        dm: the data module (``split_structures``, ``origin`` and ``locate``).
        stage: ``fit``, ``validate``, ``test`` or ``predict``.
        properties: the schema.
        backbone: the adapter.

    Returns:
        Lines describing masked labels (empty when every structure has every label).
    """
    lines: list[str] = []
    for split in STAGE_SPLITS.get(stage, ()):
        structures = dm.split_structures(split)
        if not structures:
            continue
        schema = [] if split == "predict" else properties
        counts = count_labels(structures, schema, backbone, lambda i, s=split: dm.locate(s, i))
        source = dm.origin(split)[0]
        own_file = getattr(dm, "sources", {}).get(split) is not None
        periodic = all(bool(a.pbc.all()) for a in structures)
        lines += label_report(
            split, source, len(structures), counts, schema, not own_file, periodic
        )
    return lines
