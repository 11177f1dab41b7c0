"""Step 2: uncertainty-driven selection in rounds under the oracle budget.

A held-out oracle test set (random pool structures) is labelled first, then a small random
initial set. Each round a committee of fine-tuned models (the teacher's backbone, one seed
and bootstrap resample per member) is trained on everything labelled so far; it scores
the unlabelled pool by disagreement, the selector picks the next structures, the oracle
labels them. The loop stops after ``rounds`` or when the budget is spent. The committee's
mean prediction is scored on the test set each round (the error-vs-oracle-calls curve).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.distill.oracles.base import Oracle
from foundation_model.workflows.distill.selection import CommitteeSelector, random_selection
from foundation_model.workflows.distill.teacher import TeacherTrainer, load_module, predict


@dataclass
class RoundRecord:
    """One round of active learning.

    Attributes:
        round: round index (0: the initial random set, no committee yet).
        oracle_calls: calls spent on the training set so far (test set excluded).
        labelled: labelled training structures after the round.
        selected: pool indices labelled in this round.
        mean_score: mean committee disagreement over the unlabelled pool.
        selected_score: mean disagreement of the selected structures.
        test_force_mae: committee-mean force MAE on the oracle test set (eV/Å).
        test_energy_mae: committee-mean energy MAE per atom on the test set (eV/atom).
    """

    round: int
    oracle_calls: int
    labelled: int
    selected: list[int] = field(default_factory=list)
    mean_score: float = float("nan")
    selected_score: float = float("nan")
    test_force_mae: float = float("nan")
    test_energy_mae: float = float("nan")


class ActiveLearning(ClassPathSerializable):
    """Settings of the selection loop.

    Args:
        n_test: oracle-labelled held-out structures (evaluation only; they count in the budget).
        n_initial: random structures labelled before the first committee.
        rounds: selection rounds.
        committee_size: committee members (at least 2).
        committee_epochs: training epochs of each member.
        selector: how structures are picked from the committee scores.
        strategy: ``committee`` (uncertainty) or ``random`` (the baseline).
        bootstrap: train each member on a bootstrap resample of the labelled set.
    """

    def __init__(
        self,
        n_test: int = 10,
        n_initial: int = 10,
        rounds: int = 3,
        committee_size: int = 3,
        committee_epochs: int = 10,
        selector: CommitteeSelector | None = None,
        strategy: str = "committee",
        bootstrap: bool = True,
    ) -> None:
        if committee_size < 2:
            raise ValueError(f"committee_size must be >= 2, got {committee_size}.")
        for name, value, least in (
            ("rounds", rounds, 0),
            ("n_test", n_test, 1),
            ("n_initial", n_initial, 1),
            ("committee_epochs", committee_epochs, 1),
        ):
            if int(value) < least:
                raise ValueError(f"active_learning {name} must be >= {least}, got {value}.")
        if strategy not in ("committee", "random"):
            raise ValueError(f"Unknown strategy {strategy!r}: use committee or random.")
        self.n_test = int(n_test)
        self.n_initial = int(n_initial)
        self.rounds = int(rounds)
        self.committee_size = int(committee_size)
        self.committee_epochs = int(committee_epochs)
        self.selector = CommitteeSelector.from_dict(selector) if selector else CommitteeSelector()
        self.strategy = strategy
        self.bootstrap = bool(bootstrap)

    def init_args(self) -> dict[str, Any]:
        args = super().init_args()
        args["selector"] = self.selector.to_dict()
        return args

    def committee_trainer(self, teacher: TeacherTrainer) -> TeacherTrainer:
        """The teacher's trainer as the committee members use it: ``committee_epochs``
        epochs and no validation rows (so the teacher's own epochs do not matter here)."""
        member_trainer = TeacherTrainer.from_dict(
            {"class_path": _path(TeacherTrainer), "init_args": teacher.init_args()}
        )
        member_trainer.epochs = self.committee_epochs
        member_trainer.val_fraction = 0.0
        return member_trainer

    def train_committee(
        self, teacher: TeacherTrainer, labelled: list[ase.Atoms], directory: Path, seed: int
    ) -> list[Any]:
        """Fit ``committee_size`` members; returns them loaded in eval mode."""
        member_trainer = self.committee_trainer(teacher)
        rng = np.random.default_rng(seed)
        members = []
        for m in range(self.committee_size):
            data = labelled
            if self.bootstrap:
                data = [labelled[i] for i in rng.integers(0, len(labelled), len(labelled))]
            path = member_trainer.fit(data, directory / f"member_{m}.ckpt", seed=seed + 101 * m)
            members.append(load_module(path))
        return members

    def check_budget(self, oracle: Oracle) -> None:
        """Refuse a budget below the labels needed before the first round (one line)."""
        needed = self.n_test + self.n_initial
        if oracle.budget is not None and oracle.budget < needed:
            raise ValueError(
                f"The oracle budget ({oracle.budget}) is below the labels active learning needs "
                f"before its first round (n_test + n_initial = {needed}): raise "
                "oracle.init_args.budget or lower active_learning.init_args.n_test / n_initial."
            )

    def run(
        self,
        pool: list[ase.Atoms],
        oracle: Oracle,
        teacher: TeacherTrainer,
        directory: Path,
        seed: int,
    ) -> dict[str, Any]:
        """Run the loop; returns labelled ``train``/``test`` sets, rounds and failures.

        Before any oracle call, the budget and the pool (against the teacher backbone's
        requirements, e.g. CHGNet's 3D-periodic cells) are checked.
        """
        self.check_budget(oracle)
        teacher.check_structures(pool, "the pool")
        directory.mkdir(parents=True, exist_ok=True)
        used: set[int] = set()
        failures: list[dict[str, Any]] = []
        test_idx = random_selection(len(pool), self.n_test, seed)
        used.update(test_idx)
        test = self._label(oracle, pool, test_idx, failures, "oracle: test set")
        calls_before = oracle.calls
        init_idx = random_selection(len(pool), self.n_initial, seed + 1, used)
        used.update(init_idx)
        train = self._label(oracle, pool, init_idx, failures, "oracle: initial set")
        rounds = [RoundRecord(0, oracle.calls - calls_before, len(train), init_idx)]
        for r in range(1, self.rounds + 1):
            left = oracle.remaining
            if left == 0 or len(used) >= len(pool):
                break
            members = self.train_committee(teacher, train, directory / f"round_{r}", seed + r)
            record = self._evaluate(members, test, r)
            unlabelled = [i for i in range(len(pool)) if i not in used]
            scores = self._scores(members, pool, unlabelled)
            full = np.full(len(pool), -np.inf)
            full[unlabelled] = scores
            if self.strategy == "random":
                k = min(self.selector.per_round, left if left is not None else len(pool))
                chosen = random_selection(len(pool), k, seed + 1000 + r, used)
            else:
                chosen = self.selector.select(full, left, used)
            used.update(chosen)
            train += self._label(oracle, pool, chosen, failures, f"oracle: round {r}")
            record.oracle_calls, record.labelled, record.selected = (
                oracle.calls - calls_before,
                len(train),
                chosen,
            )
            record.mean_score = float(np.mean(scores)) if len(scores) else float("nan")
            record.selected_score = float(np.mean(full[chosen])) if chosen else float("nan")
            rounds.append(record)
        return {
            "train": train,
            "test": test,
            "rounds": [asdict(r) for r in rounds],
            "failures": failures,
        }

    def _label(self, oracle, pool, indices, failures, description) -> list[ase.Atoms]:
        batch = oracle.compute_batch([pool[i] for i in indices], description)
        for f in batch.failures:
            failures.append({"pool_index": indices[f.index], "error": f.error})
        out = []
        for j, atoms in zip(batch.indices, batch.labelled, strict=True):
            atoms.info["pool_index"] = int(indices[j])
            out.append(atoms)
        return out

    def _scores(self, members, pool, indices) -> np.ndarray:
        if not indices:
            return np.zeros(0)
        structures = [pool[i] for i in indices]
        preds = [predict(m, structures) for m in members]
        energies = np.stack([p[0] for p in preds])  # (M, S)
        forces = [np.stack([p[1][s] for p in preds]) for s in range(len(structures))]
        n_atoms = np.array([len(a) for a in structures])
        return self.selector.score(energies, forces, n_atoms).score

    def _evaluate(self, members, test, r) -> RoundRecord:
        record = RoundRecord(r, 0, 0)
        if not test:
            return record
        preds = [predict(m, test) for m in members]
        energy = np.mean([p[0] for p in preds], axis=0)
        forces = np.concatenate(
            [np.mean([p[1][s] for p in preds], axis=0) for s in range(len(test))]
        )
        target_f = np.concatenate([a.arrays["forces"] for a in test])
        target_e = np.array([a.info["energy"] for a in test])
        n = np.array([len(a) for a in test])
        record.test_force_mae = float(np.abs(forces - target_f).mean())
        record.test_energy_mae = float(np.abs((energy - target_e) / n).mean())
        return record


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
