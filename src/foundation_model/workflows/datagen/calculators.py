"""Serialisable calculator specs with late binding.

A spec is a small picklable object (plain constructor arguments) that a worker process
turns into an ASE calculator with :meth:`CalculatorSpec.build`. Workers therefore receive
the *configuration* of a model, never the model itself: a 100 MB network is loaded once per
worker, not pickled per task. :func:`cached_calculator` keeps one built calculator per spec
and process, so a worker that runs many tasks loads its model once.

In YAML a spec is chosen by ``class_path``::

    calculator:
      class_path: foundation_model.workflows.datagen.calculators.TBLiteSpec
      init_args: {method: GFN2-xTB, charge: 0}
"""

from __future__ import annotations

import importlib
import json
import threading
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from foundation_model.utils.class_path import ClassPathSerializable

_CACHE: dict[str, Calculator] = {}


class CalculatorSpec(ClassPathSerializable):
    """Base class: a recipe for an ASE calculator, built inside the process that uses it.

    Subclasses keep their constructor arguments as attributes of the same name (so
    :meth:`to_dict` / :meth:`from_dict` round-trip them) and implement :meth:`build`.

    Args:
        cutoff: interaction range of the calculator (Å); the validator makes cells at least
            this wide (with replication) so no atom sees its own image.
    """

    def __init__(self, cutoff: float = 5.0) -> None:
        if cutoff <= 0:
            raise ValueError(f"Calculator cutoff must be > 0 Å, got {cutoff}.")
        self.cutoff = float(cutoff)

    def build(self) -> Calculator:
        """A fresh ASE calculator (called in the worker process)."""
        raise NotImplementedError

    def check_elements(self, elements: list[str]) -> None:
        """Raise a one-line error when the calculator cannot treat ``elements``."""

    @property
    def label(self) -> str:
        """Short description stored as provenance in the database."""
        return type(self).__name__

    def key(self) -> str:
        """Stable identity of this spec (cache key, config hash input)."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


class EMTSpec(CalculatorSpec):
    """ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt; H, C, N, O roughly).

    Fast and analytic: the calculator of tests and benchmarks.

    Args:
        cutoff: interaction range used for cell-size validation (Å).
    """

    def __init__(self, cutoff: float = 5.0) -> None:
        super().__init__(cutoff)

    def build(self) -> Calculator:
        from ase.calculators.emt import EMT

        return EMT()

    def check_elements(self, elements: list[str]) -> None:
        from ase.calculators.emt import parameters

        missing = sorted(set(elements) - set(parameters))
        if missing:
            raise ValueError(
                f"EMT (ASE's effective-medium potential) has no parameters for {missing}; it knows "
                f"{sorted(parameters)}."
            )

    @property
    def label(self) -> str:
        return "EMT"


class MLIPSpec(CalculatorSpec):
    """An MLIP backbone of this package through :class:`MLIPCalculator`.

    Args:
        model: pretrained name (``sevennet``, ``chgnet``) or the path of a MACE model file;
            ignored when ``checkpoint`` is given.
        checkpoint: a fine-tuned ``.ckpt`` written by ``fm fit`` (EMA weights when present).
        device: ``cpu``, ``cuda`` or ``auto``.
        cutoff: the backbone's graph cutoff (Å) for cell-size validation.
        use_ema: use the EMA weights of a checkpoint.
    """

    def __init__(
        self,
        model: str = "sevennet",
        checkpoint: str | None = None,
        device: str = "cpu",
        cutoff: float = 5.0,
        use_ema: bool = True,
    ) -> None:
        super().__init__(cutoff)
        if checkpoint:
            if not Path(checkpoint).is_file():
                raise FileNotFoundError(f"MLIPSpec: checkpoint {checkpoint} not found.")
        else:
            from foundation_model.backbones.calculator import check_pretrained_name

            check_pretrained_name(model, "MLIPSpec: model")
        self.model = model
        self.checkpoint = checkpoint
        self.device = device
        self.use_ema = use_ema

    def build(self) -> Calculator:
        from foundation_model.backbones.calculator import MLIPCalculator

        if self.checkpoint:
            return MLIPCalculator.from_checkpoint(
                self.checkpoint, device=self.device, use_ema=self.use_ema
            )
        return MLIPCalculator.from_pretrained(self.model, device=self.device)

    @property
    def label(self) -> str:
        return f"MLIP:{self.checkpoint or self.model}"


class TBLiteSpec(CalculatorSpec):
    """Extended tight binding (GFN2-xTB / GFN1-xTB) through ``tblite``'s ASE calculator.

    Args:
        method: ``GFN2-xTB`` or ``GFN1-xTB``.
        charge: total charge of the cell (e).
        multiplicity: spin multiplicity (``None``: lowest).
        accuracy: tblite numerical accuracy.
        electronic_temperature: Fermi smearing temperature (K).
        max_iterations: SCF iterations.
        cutoff: range used for cell-size validation (Å).
    """

    def __init__(
        self,
        method: str = "GFN2-xTB",
        charge: int = 0,
        multiplicity: int | None = None,
        accuracy: float = 1.0,
        electronic_temperature: float = 300.0,
        max_iterations: int = 250,
        cutoff: float = 6.0,
    ) -> None:
        super().__init__(cutoff)
        if method not in ("GFN2-xTB", "GFN1-xTB", "IPEA1-xTB"):
            raise ValueError(f"Unknown tblite method {method!r}: use GFN2-xTB or GFN1-xTB.")
        if multiplicity is not None and multiplicity < 1:
            raise ValueError(f"multiplicity must be >= 1, got {multiplicity}.")
        self.method = method
        self.charge = int(charge)
        self.multiplicity = multiplicity
        self.accuracy = float(accuracy)
        self.electronic_temperature = float(electronic_temperature)
        self.max_iterations = int(max_iterations)

    def build(self) -> Calculator:
        try:
            from tblite.ase import TBLite
        except ImportError as err:
            raise ImportError(
                "TBLiteSpec needs tblite: run `uv sync --locked --extra ace` (tblite ships there; "
                "add the --extra flags you already use: uv sync removes extras it is not given)."
            ) from err
        return TBLite(
            method=self.method,
            charge=self.charge,
            multiplicity=self.multiplicity,
            accuracy=self.accuracy,
            electronic_temperature=self.electronic_temperature,
            max_iterations=self.max_iterations,
            verbosity=0,
        )

    @property
    def label(self) -> str:
        return f"tblite:{self.method}"


class ImportedCalculatorSpec(CalculatorSpec):
    """Any ASE calculator by import path and keyword arguments (e.g. a DFT code).

    Args:
        import_path: ``package.module.ClassName`` of an ASE ``Calculator`` (or a factory
            function returning one).
        kwargs: keyword arguments of that class.
        cutoff: interaction range used for cell-size validation (Å).
    """

    def __init__(
        self, import_path: str, kwargs: dict[str, Any] | None = None, cutoff: float = 6.0
    ) -> None:
        super().__init__(cutoff)
        if "." not in import_path:
            raise ValueError(f"import_path must be module.Name, got {import_path!r}.")
        self.import_path = import_path
        self.kwargs = dict(kwargs or {})

    def build(self) -> Calculator:
        module_name, _, name = self.import_path.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"Cannot import calculator {self.import_path!r}: {err}") from err
        calc = target(**self.kwargs)
        if not hasattr(calc, "get_potential_energy") and not hasattr(calc, "calculate"):
            raise TypeError(f"{self.import_path!r} did not return an ASE calculator.")
        return calc

    @property
    def label(self) -> str:
        return self.import_path


def as_spec(spec: CalculatorSpec | dict[str, Any]) -> CalculatorSpec:
    """A spec from an instance or a ``{class_path, init_args}`` dict."""
    return CalculatorSpec.from_dict(spec)


def cached_calculator(spec: CalculatorSpec) -> Calculator:
    """The calculator of ``spec``, built once per process and thread (late binding).

    Threads get their own instance: ASE calculators keep per-call state.
    """
    key = f"{threading.get_ident()}:{spec.key()}"
    if key not in _CACHE:
        _CACHE[key] = spec.build()
    return _CACHE[key]


def forget_calculator(spec: CalculatorSpec) -> None:
    """Drop this thread's calculator of ``spec``: one whose calculation raised may be left
    half-updated (e.g. ASE's EMT without its neighbour list), so the next call builds anew."""
    _CACHE.pop(f"{threading.get_ident()}:{spec.key()}", None)


def clear_calculator_cache() -> None:
    """Forget the calculators built in this process."""
    _CACHE.clear()
