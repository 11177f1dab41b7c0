"""Missing labels are masked per property; every structure is checked when data load."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import ase
import ase.io
import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from ase.calculators.singlepoint import SinglePointCalculator

from foundation_model.backbones import (
    EnergyProperty,
    ForcesProperty,
    MLIPDataModule,
    MLIPFineTuneModule,
    SchNetBackbone,
    StressProperty,
)
from foundation_model.backbones.data import extract_labels, read_structures
from foundation_model.data.shared_rows import SharedRowsWarning

NO_STRESS = (1, 4, 9, 14, 20)
NO_FORCES = (6,)


def relabel(atoms: ase.Atoms, drop: tuple[str, ...] = (), **replace: np.ndarray) -> ase.Atoms:
    """A copy whose stored results lack ``drop`` and have ``replace``."""
    out = atoms.copy()
    results = {k: v for k, v in atoms.calc.results.items() if k not in drop}
    results.update(replace)
    out.calc = SinglePointCalculator(out, **results)
    return out


def write(path: Path, structures: list[ase.Atoms]) -> Path:
    ase.io.write(path, structures, format="extxyz")
    return path


@pytest.fixture(scope="module")
def partial_file(tmp_path_factory, emt_structures) -> Path:
    """The EMT set with stress removed from frames NO_STRESS and forces from NO_FORCES."""
    out = []
    for i, atoms in enumerate(emt_structures):
        drop = ("stress",) if i in NO_STRESS else ("forces",) if i in NO_FORCES else ()
        out.append(relabel(atoms, drop))
    return write(tmp_path_factory.mktemp("partial") / "partial.extxyz", out)


def trainer(tmp_path: Path, epochs: int = 1) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )


def module(**kwargs) -> MLIPFineTuneModule:
    torch.manual_seed(0)
    backbone = SchNetBackbone(
        cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12, elements=["Cu", "Al", "Ni"]
    )
    props = [EnergyProperty(), ForcesProperty(), StressProperty(loss="mse")]
    return MLIPFineTuneModule(backbone, props, **kwargs)


def test_missing_labels_are_left_out(partial_file):
    structures = read_structures(partial_file)
    schema = module().properties
    assert set(extract_labels(structures[0], schema)) == {"energy", "forces", "stress"}
    assert set(extract_labels(structures[1], schema, allow_missing=True)) == {"energy", "forces"}
    assert set(extract_labels(structures[6], schema, allow_missing=True)) == {"energy", "stress"}
    with pytest.raises(ValueError, match=r"Structure 1 of x \(.*\) has no label 'stress'"):
        extract_labels(structures[1], schema, "1 of x")
    nan = structures[2].copy()
    nan.info["energy"] = float("nan")  # an all-NaN label counts as missing
    assert "energy" not in extract_labels(nan, [EnergyProperty()], allow_missing=True)
    forces = structures[2].calc.results["forces"].copy()
    forces[0, 0] = np.nan  # partly NaN is an error, never silently masked
    with pytest.raises(ValueError, match="'forces' has NaN or infinite values"):
        extract_labels(relabel(structures[2], forces=forces), schema, allow_missing=True)


def batches(mod: MLIPFineTuneModule, structures: list[ase.Atoms], indices: list[int]):
    return mod.collate([mod.atoms_to_sample(structures[i], i) for i in indices])


def test_masked_structures_add_nothing_to_losses_and_metrics(partial_file):
    structures = read_structures(partial_file)
    mod = module().eval()
    mixed = batches(mod, structures, [0, 1, 2, 4, 6])  # 1, 4 lack stress; 6 lacks forces
    assert mixed.has_label("stress").tolist() == [True, False, True, False, True]
    assert mixed.has_label("forces").tolist() == [True, True, True, True, False]
    with_stress = batches(mod, structures, [0, 2, 6])
    with_forces = batches(mod, structures, [0, 1, 2, 4])
    losses = mod.compute_losses(mixed, mod(mixed))
    metrics = mod._metrics(mixed, mod(mixed))
    ref_s = mod(with_stress)
    ref_f = mod(with_forces)
    assert losses["stress"][1] == 3 and losses["forces"][1] == 4 and losses["energy"][1] == 5
    torch.testing.assert_close(
        losses["stress"][0], mod.compute_losses(with_stress, ref_s)["stress"][0]
    )
    torch.testing.assert_close(
        losses["forces"][0], mod.compute_losses(with_forces, ref_f)["forces"][0]
    )
    torch.testing.assert_close(
        metrics["stress_mae"][0], mod._metrics(with_stress, ref_s)["stress_mae"][0]
    )
    torch.testing.assert_close(
        metrics["forces_mae"][0], mod._metrics(with_forces, ref_f)["forces_mae"][0]
    )
    # unlabelled: the label is a zero fill, and changing it changes nothing
    mixed.labels["stress"][1] += 100.0
    torch.testing.assert_close(
        mod.compute_losses(mixed, mod(mixed))["stress"][0], losses["stress"][0]
    )


def test_batch_without_any_label_of_a_property_gives_zero_loss(partial_file):
    structures = read_structures(partial_file)
    mod = module().train()
    batch = batches(mod, structures, [1, 4])  # neither has stress
    assert "stress" not in batch.labels and not batch.has_label("stress").any()
    losses = mod.compute_losses(batch, mod(batch))
    loss, count = losses["stress"]
    assert count == 0 and float(loss) == 0.0 and loss.requires_grad
    assert "stress_mae" not in mod._metrics(batch, mod(batch))
    total = sum(loss for loss, _ in losses.values())
    total.backward()  # the zero term keeps the graph valid
    assert mod.backbone.embedding.weight.grad is not None


def test_fit_with_frames_lacking_stress(tmp_path, partial_file, caplog):
    mod = module()
    dm = MLIPDataModule(str(partial_file), split_fractions=[0.75, 0.25, 0.0], batch_size=6)
    tr = trainer(tmp_path, 2)
    with caplog.at_level(logging.INFO):
        tr.fit(mod, dm)
    n_train = len(dm.structures["train"])
    train_idx = dm.origin("train")[1]
    lacking = len(set(train_idx.tolist()) & set(NO_STRESS))
    assert f"{n_train - lacking} of {n_train} structures in {partial_file}" in caplog.text
    assert "masked for 'stress'" in caplog.text
    assert bool(mod.reference.fitted)
    for key in ("val_stress_mae", "val_forces_mae", "val_energy_mae_per_atom", "train_stress_loss"):
        assert np.isfinite(float(tr.callback_metrics[key]))


def test_property_without_any_training_label_is_an_error(tmp_path, emt_structures):
    path = write(tmp_path / "nostress.extxyz", [relabel(a, ("stress",)) for a in emt_structures])
    tr = trainer(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"No training structure in .*nostress\.extxyz has a label 'stress' for property "
        r"'stress' \(looked in",  # all periodic: the periodicity is not the reason
    ):
        tr.fit(module(), MLIPDataModule(str(path), batch_size=6))
    assert tr.global_step == 0


def test_a_validation_file_without_any_label_is_an_error(tmp_path, emt_structures):
    """Its loss would be 0 at every epoch, and best.ckpt chosen on it."""
    train = write(tmp_path / "train.extxyz", list(emt_structures[:16]))
    bare = [a.copy() for a in emt_structures[16:]]  # a copy has no calculator: no labels
    val = write(tmp_path / "bare.extxyz", bare)
    tr = trainer(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"No val structure in .*bare\.extxyz has a label \('energy', .*"
        r"give data\.init_args\.val_path a labelled file",
    ):
        tr.fit(module(), MLIPDataModule(str(train), val_path=str(val), batch_size=6))
    assert tr.global_step == 0
    # drawn from train_path by the split: the message says so (not "give val_path")
    mixed = write(tmp_path / "mixed.extxyz", list(emt_structures[:4]) + bare * 3)

    def split(seed: int) -> MLIPDataModule:
        dm = MLIPDataModule(str(mixed), split_fractions=[0.8, 0.2, 0.0], split_seed=seed)
        dm.load()
        return dm

    # a seed whose validation structures are all unlabelled ones (file index >= 4)
    dm = next(dm for dm in map(split, range(50)) if min(dm.origin("val")[1]) >= 4)
    with pytest.raises(ValueError, match=r"were drawn from train_path .*split_seed"):
        trainer(tmp_path).fit(module(), dm)


def test_bad_label_is_reported_at_load_by_index_in_file(tmp_path, emt_structures):
    out = list(emt_structures)
    forces = emt_structures[13].calc.results["forces"].copy()
    forces[2, 1] = np.nan
    out[13] = relabel(emt_structures[13], forces=forces)
    path = write(tmp_path / "bad.extxyz", out)
    dm = MLIPDataModule(str(path), split_fractions=[0.5, 0.5, 0.0], split_seed=3, batch_size=4)
    tr = trainer(tmp_path)
    with pytest.raises(ValueError, match=r"Structure 13 of .*bad\.extxyz \(.*\): label 'forces'"):
        tr.fit(module(), dm)
    assert tr.global_step == 0  # found before the first training step
    split = "train" if 13 in dm.origin("train")[1] else "val"
    position = dm.origin(split)[1].tolist().index(13)
    assert position != 13  # the split position differs from the file index


def test_unknown_element_is_reported_at_load(tmp_path, emt_structures):
    out = list(emt_structures)
    out[5] = emt_structures[5].copy()
    out[5].symbols[0] = "Au"
    out[5].calc = SinglePointCalculator(out[5], **emt_structures[5].calc.results)
    path = write(tmp_path / "gold.extxyz", out)
    tr = trainer(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"does not know element\(s\) \['Au'\] \(structure 5 of .*gold\.extxyz, ",
    ):
        tr.fit(module(), MLIPDataModule(str(path), batch_size=6))
    assert tr.global_step == 0


def with_pbc(atoms: ase.Atoms, pbc: list[bool], cell: bool = True) -> ase.Atoms:
    """A labelled copy with periodicity ``pbc`` (and no cell when ``cell`` is false)."""
    out = atoms.copy()
    out.pbc = pbc
    if not cell:
        out.cell = None
    out.calc = SinglePointCalculator(out, **atoms.calc.results)
    return out


@pytest.mark.parametrize(
    ("bad", "pbc"),
    [
        (lambda a: with_pbc(a, [True, True, False]), r"\[True, True, False\]"),  # a slab
        (lambda a: with_pbc(a, [False] * 3, cell=False), r"\[False, False, False\]"),  # cluster
    ],
)
def test_non_periodic_structure_is_reported_at_load(tmp_path, emt_structures, bad, pbc):
    """A backbone that declares ``requires_3d_periodic`` (as CHGNet does) rejects slabs and
    clusters when data load, naming the file, the index in it, the pbc and the fix."""
    from foundation_model.backbones import CHGNetBackbone

    assert CHGNetBackbone.requires_3d_periodic and not SchNetBackbone.requires_3d_periodic
    out = list(emt_structures)
    out[9] = bad(emt_structures[9])
    path = write(tmp_path / "slab.extxyz", out)
    mod = module()
    mod.backbone.check_structure(out[9], "9 of x")  # no requirement: accepted
    mod.backbone.requires_3d_periodic = True
    tr = trainer(tmp_path)
    with pytest.raises(ValueError) as info:
        tr.fit(mod, MLIPDataModule(str(path), batch_size=6))
    message = str(info.value)
    assert tr.global_step == 0 and "\n" not in message
    assert re.search(
        rf"SchNetBackbone needs 3D-periodic cells, but structure 9 of .*slab\.extxyz, "
        rf"Al3Cu2Ni3 has pbc={pbc}: give it a vacuum-padded 3D cell with pbc=True, or use a "
        r"backbone that handles any periodicity \(SevenNet, MACE\)\.$",
        message,
    ), message
    with pytest.raises(ValueError, match="needs 3D-periodic cells"):  # the runtime guard
        mod.backbone.check_structure(out[9])


def test_normalisation_without_labels_is_an_error(emt_structures):
    mod = module()
    with pytest.raises(ValueError, match="No training structure has a label 'energy'"):
        mod.fit_normalisation([relabel(a, ("energy",)) for a in emt_structures[:3]])


def test_a_checkpoint_refuses_another_split_of_its_own_structures(tmp_path, emt_structures):
    """fm test / validate / a resumed fit on the files a run trained on, with another
    split_seed, would score training structures: refused, as for multi-task tables."""
    path = write(tmp_path / "set.extxyz", list(emt_structures[:20]))

    def data(seed: int) -> MLIPDataModule:
        return MLIPDataModule(str(path), split_fractions=[0.6, 0.2, 0.2], split_seed=seed)

    tr = trainer(tmp_path)
    tr.fit(module(), data(1))
    ckpt = tmp_path / "run.ckpt"
    tr.save_checkpoint(ckpt)
    assert torch.load(ckpt, weights_only=False)["fm_split"]["n_test"] == 4
    trainer(tmp_path).test(module(), data(1), ckpt_path=str(ckpt), verbose=False)  # its own
    with pytest.raises(ValueError, match=r"the test split \(4 rows\) is not the test split"):
        trainer(tmp_path).test(module(), data(2), ckpt_path=str(ckpt), verbose=False)
    other = write(tmp_path / "new.extxyz", list(emt_structures[20:30]))  # new files: unseen
    fresh = MLIPDataModule(str(other), split_fractions=[0.6, 0.2, 0.2], split_seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SharedRowsWarning)
        trainer(tmp_path).test(module(), fresh, ckpt_path=str(ckpt), verbose=False)
    # the training file given as test_path is "another table" to the split check: its
    # training structures (12 of 20, found by content, in a copy under another name) warn
    copy = write(tmp_path / "copy.extxyz", list(emt_structures[:20]))
    as_test = MLIPDataModule(str(other), test_path=str(copy), split_fractions=[0.8, 0.2])
    with pytest.warns(SharedRowsWarning, match="12 of 20 test structures are training"):
        trainer(tmp_path).test(module(), as_test, ckpt_path=str(ckpt), verbose=False)


def test_a_fit_validating_on_its_training_structures_warns(tmp_path, emt_structures):
    path = write(tmp_path / "set.extxyz", list(emt_structures[:10]))
    same = MLIPDataModule(str(path), val_path=str(path), split_fractions=[1.0, 0.0, 0.0])
    with pytest.warns(SharedRowsWarning, match="10 of 10 val structures are training"):
        trainer(tmp_path).fit(module(), same)
