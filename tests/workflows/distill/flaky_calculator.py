"""A calculator for oracle tests: EMT that fails the first call on every new structure."""

from __future__ import annotations

from ase.calculators.emt import EMT


class FailsOnceEMT(EMT):
    """EMT, except the first evaluation of each distinct structure raises ``RuntimeError``
    (a stand-in for an SCF that does not converge on the first attempt)."""

    seen: set[bytes] = set()

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        key = atoms.positions.round(6).tobytes() + atoms.cell.array.round(6).tobytes()
        if key not in FailsOnceEMT.seen:
            FailsOnceEMT.seen.add(key)
            raise RuntimeError("SCF did not converge")
        kwargs = {} if system_changes is None else {"system_changes": system_changes}
        super().calculate(atoms, properties, **kwargs)


def flaky_oracle_class() -> type:
    """An :class:`Oracle` whose calculator is :class:`FailsOnceEMT` (built lazily, so this
    module stays importable in the workers that run the calculator)."""
    from foundation_model.workflows.datagen.calculators import ImportedCalculatorSpec
    from foundation_model.workflows.distill.oracles.base import Oracle

    class FlakyOracle(Oracle):
        """An oracle whose calculator fails the first attempt on every structure."""

        def calculator_spec(self) -> ImportedCalculatorSpec:
            return ImportedCalculatorSpec("flaky_calculator.FailsOnceEMT")

    return FlakyOracle
