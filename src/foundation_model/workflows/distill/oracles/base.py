"""The oracle interface: the expensive reference method that labels structures.

``compute(atoms)`` returns a labelled copy (``info["energy"]``, ``arrays["forces"]``,
``info["stress"]`` for 3D-periodic cells; the keys ``MLIPDataModule`` reads).
``compute_batch(structures)`` labels many structures through the ``fm datagen`` executor
(worker processes or a Dask cluster; the calculator is built in the worker from a spec).
A failed calculation is retried up to ``max_retries`` times and, if it still fails, comes
back as an :class:`OracleFailure` - never silently dropped. Every attempt counts against
the ``budget``; a request larger than what is left raises :class:`OracleBudgetError`.
With a label cache (:meth:`Oracle.use_cache`, which ``fm distill`` sets to its run folder),
a structure labelled before is served from disk and counts as the attempts it took then;
only labels computed by an earlier attempt (another oracle object: a previous run of the
step) count as ``reused``, not a repeat of a structure this oracle labelled itself.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ase

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.datagen.calculators import CalculatorSpec
from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.datagen.labelling import LabelTask, label_structure
from foundation_model.workflows.distill.oracles.label_cache import (
    OracleLabelCache,
    settings_namespace,
    structure_key,
)


class OracleBudgetError(RuntimeError):
    """More oracle calls were requested than the budget has left."""


@dataclass
class OracleFailure:
    """A structure the oracle could not label.

    Attributes:
        index: position in the batch given to ``compute_batch``.
        atoms: the structure (no calculator attached).
        error: ``"Type: message"`` of the last attempt.
        attempts: how many times it was tried.
    """

    index: int
    atoms: ase.Atoms
    error: str
    attempts: int


@dataclass
class OracleBatch:
    """Result of :meth:`Oracle.compute_batch`.

    Attributes:
        labelled: labelled copies, in the order of the input (failures left out).
        indices: input position of every labelled structure.
        failures: the structures that failed every attempt.
        calls: oracle calls spent on this batch (attempts, retries included; a label from
            the cache counts as the attempts it took when it was computed).
        reused: structures served from the label cache that an earlier attempt computed
            (a repeat of a structure this oracle labelled itself is served, not counted).
    """

    labelled: list[ase.Atoms] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    failures: list[OracleFailure] = field(default_factory=list)
    calls: int = 0
    reused: int = 0


class Oracle(ClassPathSerializable):
    """Base class of oracles; a subclass only says which calculator it builds.

    Args:
        budget: most oracle calls allowed over the oracle's life (``None``: unlimited).
        max_retries: extra attempts for a structure whose calculation failed.
        executor: where batches run (default: in this process).
        stress: compute the stress of 3D-periodic cells.
    """

    def __init__(
        self,
        budget: int | None = None,
        max_retries: int = 1,
        executor: TaskExecutor | None = None,
        stress: bool = True,
    ) -> None:
        if budget is not None and budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}.")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}.")
        self.budget = budget
        self.max_retries = int(max_retries)
        self.executor = (
            TaskExecutor.from_dict(executor)
            if executor is not None
            else TaskExecutor(n_workers=1, progress=False)
        )
        self.stress = bool(stress)
        self.calls = 0
        self.reused = 0
        self.cache: OracleLabelCache | None = None
        self._labelled_here: set[str] = set()  # cache keys this oracle computed itself

    def use_cache(self, path: str | Path) -> None:
        """Keep every label in (and serve labels from) the SQLite file ``path``."""
        self.cache = OracleLabelCache(path)

    def cache_namespace(self) -> str:
        """Digest of what this oracle computes: its settings without the executor, the
        budget and the retries (where and how often, not what)."""
        settings = self.to_dict()
        for key in ("executor", "budget", "max_retries"):
            settings["init_args"].pop(key, None)
        return settings_namespace(settings)

    @abstractmethod
    def calculator_spec(self) -> CalculatorSpec:
        """The spec of the calculator that does the work (built in the worker)."""

    def init_args(self) -> dict[str, Any]:
        args = super().init_args()
        args["executor"] = self.executor.to_dict()
        return args

    @property
    def remaining(self) -> int | None:
        """Calls left in the budget (``None``: unlimited)."""
        return None if self.budget is None else max(self.budget - self.calls, 0)

    def _check_budget(self, n: int) -> None:
        left = self.remaining
        if left is not None and n > left:
            raise OracleBudgetError(
                f"{type(self).__name__}: {n} calls requested, {left} left of the budget "
                f"{self.budget} ({self.calls} spent)."
            )

    def compute(self, atoms: ase.Atoms) -> ase.Atoms:
        """Label one structure (raises ``RuntimeError`` if every attempt fails)."""
        batch = self.compute_batch([atoms])
        if batch.failures:
            failure = batch.failures[0]
            raise RuntimeError(
                f"Oracle failed on {atoms.get_chemical_formula()} after "
                f"{failure.attempts} attempt(s): {failure.error}"
            )
        return batch.labelled[0]

    def compute_batch(self, structures: list[ase.Atoms], description: str = "oracle"):
        """Label ``structures`` (see :class:`OracleBatch`); failed ones are retried."""
        structures = [_detached(a) for a in structures]
        spec = self.calculator_spec()
        # elements the method cannot treat: one line now, not a budget spent on failures
        spec.check_elements(sorted({s for a in structures for s in a.get_chemical_symbols()}))
        self._check_budget(len(structures))
        out = OracleBatch()
        labelled: dict[int, ase.Atoms] = {}
        attempts = dict.fromkeys(range(len(structures)), 0)
        namespace = self.cache_namespace() if self.cache is not None else ""
        if self.cache is not None:
            for i, atoms in enumerate(structures):
                hit = self.cache.get(namespace, atoms)
                left = self.remaining
                if hit is not None and (left is None or hit[1] <= left):
                    labelled[i], attempts[i] = hit
                    self.calls += hit[1]
                    out.calls += hit[1]
                    if structure_key(namespace, atoms) not in self._labelled_here:
                        out.reused += 1
                        self.reused += 1
        pending = [i for i in range(len(structures)) if i not in labelled]
        errors: dict[int, str] = {}
        for attempt in range(self.max_retries + 1):
            left = self.remaining
            todo = pending if left is None else pending[:left]
            if not todo:
                break
            tasks = [LabelTask(structures[i], spec, self.stress) for i in todo]
            name = description if attempt == 0 else f"{description} (retry {attempt})"
            results = self.executor.map(label_structure, tasks, description=name)
            self.calls += len(todo)
            out.calls += len(todo)
            for i, result in zip(todo, results, strict=True):
                attempts[i] += 1
                if result.ok:
                    labelled[i] = self.annotate(result.value)
                    if self.cache is not None:
                        self.cache.put(namespace, structures[i], labelled[i], attempts[i])
                        self._labelled_here.add(structure_key(namespace, structures[i]))
                else:
                    errors[i] = result.error
            pending = [i for i in pending if i not in labelled]
        for i in sorted(labelled):
            out.labelled.append(labelled[i])
            out.indices.append(i)
        for i in pending:
            error = errors.get(i, "oracle budget exhausted before this structure was tried")
            out.failures.append(OracleFailure(i, structures[i], error, attempts[i]))
        return out

    def annotate(self, atoms: ase.Atoms) -> ase.Atoms:
        """Mark a labelled structure with its provenance."""
        atoms.info["oracle"] = type(self).__name__
        return atoms


def _detached(atoms: ase.Atoms) -> ase.Atoms:
    """A copy without a calculator (ASE calculators do not pickle)."""
    out = atoms.copy()
    out.calc = None
    return out
