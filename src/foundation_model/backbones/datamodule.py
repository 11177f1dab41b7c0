"""``MLIPDataModule``: structure files (or lists) to train/val/test/predict loaders."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ase
import lightning.pytorch as pl
import numpy as np
from torch.utils.data import DataLoader, Dataset

from foundation_model.backbones.data import (
    AtomsDataset,
    StructureSource,
    read_structures,
    source_name,
)

SPLITS = ("train", "val", "test")


def random_split_indices(n: int, fractions: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Seeded random train/val/test indices; fractions are normalised to sum to one."""
    frac = np.asarray(list(fractions) + [0.0] * (3 - len(fractions)), dtype=float)[:3]
    if (frac < 0).any() or frac.sum() <= 0:
        raise ValueError(
            f"split_fractions must be non-negative with a positive sum, got {list(fractions)}."
        )
    frac = frac / frac.sum()
    perm = np.random.default_rng(seed).permutation(n)
    n_val, n_test = int(round(frac[1] * n)), int(round(frac[2] * n))
    n_train = n - n_val - n_test
    if n_train <= 0:
        raise ValueError(
            f"{n} structures leave no training set with split_fractions={list(fractions)}."
        )
    return {
        "train": np.sort(perm[:n_train]),
        "val": np.sort(perm[n_train : n_train + n_val]),
        "test": np.sort(perm[n_train + n_val :]),
    }


def predefined_split_indices(structures: list[ase.Atoms], key: str) -> dict[str, np.ndarray]:
    """Indices from ``atoms.info[key]`` in {train, val, test}."""
    labels = [str(a.info.get(key, "")) for a in structures]
    bad = sorted({x for x in labels if x not in SPLITS})
    if bad:
        raise ValueError(
            f"atoms.info[{key!r}] must be one of {SPLITS} for every structure; got {bad[:5]}."
        )
    return {s: np.array([i for i, x in enumerate(labels) if x == s], dtype=int) for s in SPLITS}


def structure_digest(atoms: ase.Atoms) -> int:
    """A 56-bit digest of a structure's content: the same structure read from another file
    or format, with its atoms in another order or moved by lattice vectors, has the same
    one. Positions count as fractional coordinates to 1e-6 along periodic directions
    (wrapped into the cell) and to 1e-4 Å otherwise; the cell to 1e-4 Å. Copies displaced
    by less than that may fall on either side of a rounding step.
    """
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.asarray(atoms.cell, dtype=np.float64)
    coords = np.asarray(atoms.positions, dtype=np.float64)
    if atoms.cell.rank == 3:
        coords = atoms.cell.scaled_positions(coords)
        coords[:, pbc] = np.round(coords[:, pbc] % 1.0, 6) % 1.0  # 0.9999999 -> 0.0
        coords[:, ~pbc] = np.round(atoms.positions[:, ~pbc], 4)
    else:
        coords = np.round(coords, 4)
    rows = np.column_stack([np.asarray(atoms.numbers, dtype=np.float64), coords]) + 0.0
    rows = rows[np.lexsort(rows.T[::-1])]  # atoms sorted by species, then coordinates
    h = hashlib.sha256()
    for values in (rows, np.round(cell, 4) + 0.0, pbc):  # + 0.0: -0.0 -> 0.0
        h.update(np.ascontiguousarray(values).tobytes())
    return int.from_bytes(h.digest()[:7], "big")


def warn_trained_structures(trained: Sequence[int], parts: dict[str, list[ase.Atoms]]) -> None:
    """Warn (:class:`SharedRowsWarning`) when structures of ``parts`` (e.g. ``{"test":
    [...]}``) are training structures (``trained``: their :func:`structure_digest`): their
    scores flatter the model.

    Args:
        trained: digests of the training structures.
        parts: split name -> structures evaluated.
    """
    from foundation_model.data.shared_rows import SharedRowsWarning

    seen = set(trained)
    counts = {
        name: (sum(structure_digest(a) in seen for a in structures), len(structures))
        for name, structures in parts.items()
    }
    found = [f"{n} of {total} {name} structures" for name, (n, total) in counts.items() if n]
    if found:
        warnings.warn(
            f"{' and '.join(found)} are training structures of this model, so their scores "
            "flatter it: evaluate on structures it did not train on.",
            SharedRowsWarning,
            stacklevel=2,
        )


class _MappedDataset(Dataset):
    """Applies a converter to each structure once and caches the result.

    The converter gets each structure's index in its source file (``file_indices``).
    """

    def __init__(
        self,
        structures: list[ase.Atoms],
        convert: Callable[[ase.Atoms, int], Any],
        file_indices: np.ndarray,
    ) -> None:
        self.structures, self.convert, self.file_indices = structures, convert, file_indices
        self.cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, idx: int) -> Any:
        if idx not in self.cache:
            self.cache[idx] = self.convert(self.structures[idx], int(self.file_indices[idx]))
        return self.cache[idx]


class MLIPDataModule(pl.LightningDataModule):
    """Structures for MLIP fine-tuning.

    With only ``train_path``, its structures are split by ``split_fractions`` and
    ``split_seed`` (or by ``atoms.info[split_key]``). A split with its own file
    (``val_path``/``test_path``) is not taken from ``train_path``: with ``val_path`` the
    train file is split into train and test only (the validation fraction is trained on),
    with ``test_path`` into train and validation, with both it is all training data.
    The fine-tuning module attaches its backbone's converter in ``setup``; without one,
    loaders yield lists of ``ase.Atoms``.

    Args:
        train_path: extxyz/xyz file, ASE database (``.db``), list or ``Dataset[ase.Atoms]``.
        val_path: validation structures (default: split from ``train_path``); when given,
            ``train_path`` keeps its validation fraction for training.
        test_path: test structures (default: split from ``train_path``); when given,
            ``train_path`` keeps its test fraction for training.
        predict_path: structures for ``predict`` (default: the test split).
        split_fractions: train/val/test fractions of ``train_path``; the fraction of a split
            given by its own file goes to training.
        split_seed: seed of the random split.
        split_key: ``atoms.info`` key holding ``train``/``val``/``test`` (predefined split).
        batch_size: structures per training batch.
        eval_batch_size: structures per evaluation batch (default ``batch_size``).
        num_workers: DataLoader worker processes.
    """

    def __init__(
        self,
        train_path: str | Path | Any,
        val_path: str | Path | Any | None = None,
        test_path: str | Path | Any | None = None,
        predict_path: str | Path | Any | None = None,
        split_fractions: list[float] | None = None,
        split_seed: int = 42,
        split_key: str | None = None,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.sources: dict[str, StructureSource | None] = {
            "train": train_path,
            "val": val_path,
            "test": test_path,
            "predict": predict_path,
        }
        self.split_fractions = list(split_fractions or [0.8, 0.1, 0.1])
        self.split_seed = split_seed
        self.split_key = split_key
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.structures: dict[str, list[ase.Atoms]] = {}
        # split -> (source name, index in that source of every structure of the split)
        self.origins: dict[str, tuple[str, np.ndarray]] = {}
        self.converter: Callable[[ase.Atoms, int], Any] | None = None
        self.collate_fn: Callable[[list[Any]], Any] | None = None
        self._datasets: dict[str, Dataset] = {}

    # ------------------------------------------------------------------ loading
    def load(self) -> dict[str, list[ase.Atoms]]:
        """Read every split once (idempotent) and return ``{split: structures}``."""
        if self.structures and "train" in self.structures:
            return self.structures
        train = read_structures(self.sources["train"], "train_path")
        train_name = source_name(self.sources["train"], "train_path")
        given = [s for s in ("val", "test") if self.sources[s] is not None]
        idx = self._split_train(train, train_name, given)
        parts = {s: [train[i] for i in idx[s]] for s in idx}
        self.origins.update({s: (train_name, idx[s]) for s in idx})
        for split in ("val", "test", "predict"):
            if self.sources[split] is not None:
                parts[split] = self._read_given(split)
        self.structures = parts
        return parts

    def _split_train(
        self, train: list[ase.Atoms], train_name: str, given: list[str]
    ) -> dict[str, np.ndarray]:
        """Indices of the splits taken from ``train_path``: only those without their own
        file (with ``val_path`` the train file gives train and test, and so on).

        Raises:
            ValueError: ``split_key`` assigns structures of the train file to a split that
                has its own file.
        """
        if len(given) == 2:
            return {"train": np.arange(len(train))}
        if self.split_key:
            idx = predefined_split_indices(train, self.split_key)
            clash = [s for s in given if len(idx[s])]
            if clash:
                raise ValueError(
                    f"{train_name}: {len(idx[clash[0]])} structures have "
                    f"atoms.info[{self.split_key!r}] = {clash[0]!r}, but {clash[0]}_path is "
                    f"also given: relabel them 'train' or drop {clash[0]}_path."
                )
            return {s: idx[s] for s in SPLITS if s not in given}
        fractions = [
            f if s not in given else 0.0 for s, f in zip(SPLITS, self._fractions(), strict=True)
        ]
        idx = random_split_indices(len(train), fractions, self.split_seed)
        return {s: idx[s] for s in SPLITS if s not in given}

    def _fractions(self) -> list[float]:
        """``split_fractions`` padded to train/val/test."""
        return (self.split_fractions + [0.0, 0.0, 0.0])[:3]

    def _read_given(self, split: str) -> list[ase.Atoms]:
        """The structures of ``<split>_path`` (recorded in ``origins``: index in the file)."""
        source = self.sources[split]
        structures = read_structures(source, f"{split}_path")
        self.origins[split] = (source_name(source, f"{split}_path"), np.arange(len(structures)))
        return structures

    def split_structures(self, split: str) -> list[ase.Atoms]:
        """The structures of ``split`` (``predict`` falls back to the test split)."""
        if split in self.structures:  # e.g. predict-only setup
            return self.structures[split]
        structures = self.load().get(split)
        if split == "predict" and structures is None:
            return self.structures["test"]
        return structures or []

    def split_fingerprint(self) -> dict[str, Any]:
        """Digests of the structures of each split, named ``<file>#<index>`` (see
        :mod:`foundation_model.data.split_fingerprint`): a checkpoint keeps them, so that
        ``fm test`` / ``fm validate`` / a resumed fit on the same files refuse another split
        (``split_seed``, ``split_fractions``), which would score training structures."""
        from foundation_model.data.split_fingerprint import split_fingerprint
        from foundation_model.data.splitters import SplitIndices

        structures = self.load()
        ids: list[str] = []
        parts: dict[str, np.ndarray] = {}
        for split in SPLITS:
            name, indices = self.origins.get(split, ("", np.arange(0)))
            parts[split] = np.arange(len(ids), len(ids) + len(indices))
            ids += [f"{name}#{int(i)}" for i in indices]
        record = split_fingerprint(ids, SplitIndices(**parts))
        # content digests of the training structures: other files (a test_path holding
        # training structures) are checked against them, see warn_trained_structures
        record["train_structures"] = sorted({structure_digest(a) for a in structures["train"]})
        return record

    def origin(self, split: str) -> tuple[str, np.ndarray]:
        """``(source name, index in the source of each structure)`` of ``split``."""
        if split not in self.origins:
            self.load()
        if split == "predict" and "predict" not in self.origins:
            split = "test"
        return self.origins[split]

    def locate(self, split: str, position: int) -> str:
        """Where structure ``position`` of ``split`` comes from, e.g. ``17 of data/x.extxyz``."""
        name, indices = self.origin(split)
        return f"{int(indices[position])} of {name}"

    def prepare_data(self) -> None:
        """Nothing to download: data are local files."""

    def setup(self, stage: str | None = None) -> None:
        """Read the structures; ``fm predict`` with a ``predict_path`` reads only those (the
        training files need not exist where a fine-tuned model is used)."""
        if stage == "predict" and self.sources["predict"] is not None and not self.structures:
            self.structures = {"predict": self._read_given("predict")}
            return
        self.load()

    def set_converter(
        self, convert: Callable[[ase.Atoms, int], Any], collate: Callable[[list[Any]], Any]
    ) -> None:
        """Attach ``convert(atoms, index) -> sample`` and ``collate(samples) -> batch``."""
        self.converter, self.collate_fn = convert, collate
        self._datasets = {}

    def dataset(self, split: str) -> Dataset:
        """The (converted, cached) dataset of ``split``."""
        structures = self.split_structures(split)
        if not structures:
            raise ValueError(
                f"The {split} split is empty: give {split}_path or adjust split_fractions."
            )
        if self.converter is None:
            return AtomsDataset(structures, split)
        if split not in self._datasets:
            indices = self.origin(split)[1]
            self._datasets[split] = _MappedDataset(structures, self.converter, indices)
        return self._datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size if split == "train" else self.eval_batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn or list,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)
