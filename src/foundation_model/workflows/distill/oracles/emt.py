"""EMT oracle: ASE's effective-medium theory (fast and analytic; tests and benchmarks)."""

from __future__ import annotations

from foundation_model.workflows.datagen.calculators import CalculatorSpec, EMTSpec
from foundation_model.workflows.distill.oracles.base import Oracle


class EMTOracle(Oracle):
    """Labels with ASE's EMT (Al, Cu, Ag, Au, Ni, Pd, Pt).

    Args:
        budget: most oracle calls allowed (``None``: unlimited).
        max_retries: extra attempts for a failed structure.
        executor: where batches run (default: in this process).
        stress: compute the stress of 3D-periodic cells.
    """

    def calculator_spec(self) -> CalculatorSpec:
        return EMTSpec()
