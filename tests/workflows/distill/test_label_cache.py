"""The oracle label cache: no structure is paid for twice in a run folder."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from flaky_calculator import flaky_oracle_class

from foundation_model.workflows.distill.active import ActiveLearning
from foundation_model.workflows.distill.oracles.base import Oracle
from foundation_model.workflows.distill.oracles.emt import EMTOracle
from foundation_model.workflows.distill.oracles.label_cache import OracleLabelCache
from foundation_model.workflows.distill.teacher import TeacherTrainer

FlakyOracle = flaky_oracle_class()


def _cells(n: int, shift: float = 0.0):
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", 3.6 + shift, cubic=True)
        atoms.rattle(0.05, seed=i)
        out.append(atoms)
    return out


def _no_computing(oracle: Oracle, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the oracle computed a label it had in its cache")

    monkeypatch.setattr(oracle.executor, "map", refuse)


def test_a_second_oracle_serves_the_labels_from_disk(tmp_path, monkeypatch) -> None:
    path = tmp_path / "labels.sqlite"
    first = EMTOracle(budget=10)
    first.use_cache(path)
    fresh = first.compute_batch(_cells(3))
    assert first.calls == 3 and first.reused == 0 and len(OracleLabelCache(path)) == 3

    again = EMTOracle(budget=3, max_retries=4)  # budget and retries do not change labels
    again.use_cache(path)
    _no_computing(again, monkeypatch)
    served = again.compute_batch(_cells(3))
    assert served.reused == 3 and served.calls == 3 and again.calls == 3  # counted as then
    for a, b in zip(fresh.labelled, served.labelled, strict=True):
        assert a.info["energy"] == b.info["energy"]  # exactly, not approximately
        assert np.array_equal(a.arrays["forces"], b.arrays["forces"])
        assert np.array_equal(a.info["stress"], b.info["stress"])
        assert np.array_equal(a.positions, b.positions)


def test_other_settings_or_geometry_are_not_served(tmp_path) -> None:
    path = tmp_path / "labels.sqlite"
    first = EMTOracle()
    first.use_cache(path)
    first.compute_batch(_cells(2))
    no_stress = EMTOracle(stress=False)  # computes something else
    no_stress.use_cache(path)
    assert no_stress.compute_batch(_cells(2)).reused == 0
    moved = EMTOracle()
    moved.use_cache(path)
    batch = moved.compute_batch(_cells(1) + _cells(1, shift=1e-9))
    assert batch.reused == 1 and moved.calls == 2


def test_a_served_label_counts_the_attempts_it_took(tmp_path, monkeypatch) -> None:
    path = tmp_path / "labels.sqlite"
    cells = _cells(2, shift=0.0137)  # structures no other test gave the flaky calculator
    first = FlakyOracle(max_retries=1)
    first.use_cache(path)
    assert first.compute_batch(cells).calls == 4  # every structure needed a retry
    again = FlakyOracle(max_retries=1, budget=4)
    again.use_cache(path)
    _no_computing(again, monkeypatch)
    batch = again.compute_batch(cells)
    assert batch.calls == 4 and batch.reused == 2 and again.remaining == 0


def test_a_budget_below_the_first_labels_is_refused_before_any_call(tmp_path) -> None:
    oracle = EMTOracle(budget=6)
    al = ActiveLearning(n_test=3, n_initial=4)
    with pytest.raises(ValueError, match=r"n_test \+ n_initial = 7.*oracle.init_args.budget"):
        al.run(_cells(10), oracle, TeacherTrainer(), tmp_path / "al", seed=0)
    assert oracle.calls == 0


def test_the_committee_does_not_depend_on_the_teachers_epochs() -> None:
    al = ActiveLearning(committee_epochs=3)
    a = al.committee_trainer(TeacherTrainer(epochs=5)).to_dict()
    b = al.committee_trainer(TeacherTrainer(epochs=50, val_fraction=0.2)).to_dict()
    assert a == b and a["init_args"]["epochs"] == 3


def test_a_repeat_within_one_attempt_is_served_but_not_counted_as_reused(tmp_path) -> None:
    """Only labels computed by an earlier attempt count as reused (the report's "computed
    in an earlier attempt and served from the run's label cache")."""
    path = tmp_path / "labels.sqlite"
    oracle = EMTOracle()
    oracle.use_cache(path)
    first = oracle.compute_batch(_cells(1))
    repeat = oracle.compute_batch(_cells(1))
    assert repeat.calls == 1 and repeat.reused == 0 and oracle.reused == 0
    assert repeat.labelled[0].info["energy"] == first.labelled[0].info["energy"]
    later = EMTOracle()  # the next attempt (a resumed run) reuses it
    later.use_cache(path)
    assert later.compute_batch(_cells(1)).reused == 1 and later.reused == 1
