"""Reduced formulas (pymatgen's ``Composition.reduced_formula``) with a per-string cache."""

from __future__ import annotations

import warnings
from functools import cache

import pandas as pd


@cache
def reduced_formula(text: str) -> str | None:
    """pymatgen's reduced formula of ``text``, or None when it does not parse.

    Formulas with dummy species (pymatgen reads ``Xx9`` as a dummy ``Xx``) count as
    unparsable: they are not chemical formulas.

    Args:
        text: a chemical formula such as ``Co12Mn5Nd2`` or ``Sr(AlH)2``.
    """
    from pymatgen.core import Composition, Element

    with warnings.catch_warnings():  # e.g. "No Pauling electronegativity for Ar"
        warnings.simplefilter("ignore")
        try:
            comp = Composition(str(text).strip())
            if comp.num_atoms <= 0 or not all(isinstance(e, Element) for e in comp.elements):
                return None
            return comp.reduced_formula
        except Exception:  # pymatgen raises several types (ValueError, CompositionError, ...)
            return None


@cache
def atoms_in(text: str) -> float:
    """Number of atoms in the formula ``text`` as written (``Al2O3`` -> 5).

    Args:
        text: a parseable chemical formula.
    """
    from pymatgen.core import Composition

    return float(Composition(text).num_atoms)


def reduce_formulas(formulas: pd.Series) -> pd.Series:
    """Reduced formula of every entry (None where it does not parse), same index.

    Args:
        formulas: raw formula strings.
    """
    return formulas.astype(str).map(reduced_formula)
