"""Step 2 refusals that must come before any oracle call."""

from __future__ import annotations

import pytest
from ase.build import bulk
from ase.cluster import Octahedron

from foundation_model.workflows.distill.active import ActiveLearning
from foundation_model.workflows.distill.oracles.emt import EMTOracle
from foundation_model.workflows.distill.oracles.label_cache import OracleLabelCache
from foundation_model.workflows.distill.teacher import TeacherTrainer


def test_a_pool_the_teacher_cannot_take_is_refused_before_any_oracle_call(tmp_path) -> None:
    """CHGNet needs 3D-periodic cells: a cluster in the pool is named by its pool index
    before the oracle labels the test set (no budget spent, nothing in the label cache)."""
    pytest.importorskip("chgnet")
    pool = [bulk("Cu", "fcc", 3.6, cubic=True) for _ in range(4)]
    for i, atoms in enumerate(pool):
        atoms.rattle(0.05, seed=i)
    pool.insert(2, Octahedron("Cu", 3))  # a cluster: pbc False
    oracle = EMTOracle(budget=10)
    oracle.use_cache(tmp_path / "labels.sqlite")
    teacher = TeacherTrainer({"class_path": "foundation_model.backbones.CHGNetBackbone"})
    al = ActiveLearning(n_test=2, n_initial=2, rounds=0)
    with pytest.raises(
        ValueError, match=r"needs 3D-periodic cells, but structure 2 of the pool"
    ) as err:
        al.run(pool, oracle, teacher, tmp_path / "al", seed=0)
    assert "\n" not in str(err.value) and "pbc=[False, False, False]" in str(err.value)
    assert oracle.calls == 0 and len(OracleLabelCache(tmp_path / "labels.sqlite")) == 0
