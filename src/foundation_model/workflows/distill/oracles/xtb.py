"""GFN2-xTB oracle through ``tblite`` (molecules and periodic cells, charged systems)."""

from __future__ import annotations

from foundation_model.workflows.datagen.calculators import CalculatorSpec, TBLiteSpec
from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.distill.oracles.base import Oracle


class XTBOracle(Oracle):
    """Extended tight binding (a real quantum-chemical method) as the reference.

    Args:
        method: ``GFN2-xTB`` or ``GFN1-xTB``.
        charge: total charge (e), e.g. ``-1`` for CH3Cl + Cl-.
        multiplicity: spin multiplicity (``None``: lowest).
        electronic_temperature: Fermi smearing temperature (K).
        max_iterations: SCF iterations before the calculation counts as failed.
        budget: most oracle calls allowed (``None``: unlimited).
        max_retries: extra attempts for a failed structure.
        executor: where batches run (default: in this process).
        stress: compute the stress of 3D-periodic cells.
    """

    def __init__(
        self,
        method: str = "GFN2-xTB",
        charge: int = 0,
        multiplicity: int | None = None,
        electronic_temperature: float = 300.0,
        max_iterations: int = 250,
        budget: int | None = None,
        max_retries: int = 1,
        executor: TaskExecutor | None = None,
        stress: bool = True,
    ) -> None:
        super().__init__(budget, max_retries, executor, stress)
        self.method = method
        self.charge = int(charge)
        self.multiplicity = multiplicity
        self.electronic_temperature = float(electronic_temperature)
        self.max_iterations = int(max_iterations)
        self.calculator_spec()  # validate the method name early

    def calculator_spec(self) -> CalculatorSpec:
        return TBLiteSpec(
            method=self.method,
            charge=self.charge,
            multiplicity=self.multiplicity,
            electronic_temperature=self.electronic_temperature,
            max_iterations=self.max_iterations,
        )
