"""A tiny EMT Cu-Al distillation pipeline (seconds) shared by the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import ase.io
from ase.build import bulk, fcc111

from foundation_model.workflows.distill.ace_basis import ACEBasisSpec
from foundation_model.workflows.distill.active import ActiveLearning
from foundation_model.workflows.distill.evaluation import Evaluation
from foundation_model.workflows.distill.oracles.emt import EMTOracle
from foundation_model.workflows.distill.pipeline import DistillPipeline
from foundation_model.workflows.distill.pool import PoolStage
from foundation_model.workflows.distill.selection import CommitteeSelector
from foundation_model.workflows.distill.student import ACEStudentTrainer
from foundation_model.workflows.distill.surrogate_md import SurrogateMD
from foundation_model.workflows.distill.teacher import TeacherTrainer

TINY_SCHNET = {
    "class_path": "foundation_model.backbones.SchNetBackbone",
    "init_args": {"cutoff": 4.0, "hidden": 16, "num_interactions": 1, "num_rbf": 8, "seed": 0},
}


def _decorated(path: Path, template: ase.Atoms, n: int, every: int) -> Path:
    """``n`` rattled copies of ``template`` with every ``every``-th atom (shifted per copy)
    made Al, written as the pool's unlabelled seed structures."""
    out = []
    for i in range(n):
        atoms = template.copy()
        symbols = atoms.get_chemical_symbols()
        for j in range(i % 4, len(atoms), every):
            symbols[j] = "Al"
        atoms.set_chemical_symbols(symbols)
        atoms.rattle(0.05 + 0.01 * (i % 5), seed=i)
        out.append(atoms)
    ase.io.write(path, out, format="extxyz")
    return path


def seed_file(path: Path, n: int = 16) -> Path:
    """Rattled 8-atom Cu-Al cells (unlabelled) as the pool's seed structures."""
    return _decorated(path, bulk("Cu", "fcc", 3.65, cubic=True) * (2, 1, 1), n, every=3)


def slab_seed_file(path: Path, n: int = 16) -> Path:
    """Rattled 12-atom Cu-Al fcc(111) slabs (pbc True, True, False; 5 Å vacuum each side)."""
    slab = fcc111("Cu", (2, 2, 3), a=3.65, vacuum=5.0)
    del slab.info["adsorbate_info"]  # a dict extxyz cannot write
    return _decorated(path, slab, n, every=4)


def tiny_pipeline(output_dir: Path, seeds: Path, **overrides) -> DistillPipeline:
    """Every step at the smallest size that still exercises it."""
    settings = dict(
        oracle=EMTOracle(budget=11),
        pool=PoolStage(structures=str(seeds)),
        active_learning=ActiveLearning(
            n_test=3,
            n_initial=4,
            rounds=1,
            committee_size=2,
            committee_epochs=1,
            selector=CommitteeSelector(per_round=3),
        ),
        teacher=TeacherTrainer(TINY_SCHNET, epochs=2, batch_size=4),
        surrogate_md=SurrogateMD(n_trajectories=2, steps=10, sample_interval=5),
        student=ACEStudentTrainer(
            ACEBasisSpec(cutoff=4.0, nradmax_by_orders=[4, 2], lmax_by_orders=[0, 1])
        ),
        evaluation=Evaluation(md_steps=10, speed_steps=2),
        label_batch_size=8,
        output_dir=str(output_dir),
        seed=0,
        progress=False,
    )
    settings.update(overrides)
    return DistillPipeline(**settings)
