"""Composition featurization: formula strings -> matminer descriptors."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from foundation_model.features.presets import FeaturizerSpec
from foundation_model.features.runner import RawFeatures, run_featurizers

if TYPE_CHECKING:
    from foundation_model.features.cache import ChunkStore

# adduct / hydrate separators of experimental tables: CuSO4·5H2O, CuSO4*5H2O, CuSO4•5H2O
_ZERO_AMOUNT = re.compile(r"([A-Z][a-z]?)0+(?:\.0*)?(?![\d.])")  # "Fe0O", "Mg0.00O"
_ADDUCT = re.compile(r"\s*[\u00b7\u2022\u2219\u22c5*]\s*")
_MULTIPLIER = re.compile(r"^(\d+(?:\.\d+)?)\s*(?=[A-Z(\[])")
# "CuSO4.5H2O": a full stop before a water count reads as a decimal amount (O4.5).
_DOTTED_HYDRATE = re.compile(r"[A-Za-z)\]]\d+\.\d+H2O")
# "H2O 2": a number after a space would be glued onto the previous element (H2O2).
_LOOSE_NUMBER = re.compile(r"\s\d")
# "Fe(III)2O3": pymatgen reads a Roman-numeral oxidation state as iodine and vanadium.
_ROMAN_NUMERAL = re.compile(r"\(([IVX]+)\)")
# "TIO2", "DY2O3": pymatgen reads a lone T or D as hydrogen (tritium, deuterium).
_ISOTOPE = re.compile(r"[DT](?![a-z])")
# element symbols as pymatgen tokenises them (a capital and its lower-case letters)
_ELEMENT_TOKEN = re.compile(r"[A-Z][a-z]*")
# amounts in scientific notation ("1e-3"), whose sign is not a charge
_SCIENTIFIC = re.compile(r"(?<=[\d.])[eE][-+]?\d+")
_EXPONENT_CAPITAL = re.compile(r"\dE[-+]?\d")
_EXPONENT_PLUS = re.compile(r"[\d.]e\+\d")
# charge signs and dashes (a charge, or a range such as 'Al2O3–ZrO2' or 'O3-δ')
_CHARGE = re.compile(r"[-+\u2010-\u2015\u2212\u00b1\uff0b\ufe62\uff0d\u207a\u207b]")
# ASCII marks a formula cannot hold: lists, mixtures, underscores for subscripts
_ASCII_ODD = re.compile(r"[,;/_&|\\:'\"!?#$%@~^=<>`]")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]")
_SUBSCRIPTS = set("\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089")
# non-ASCII characters a formula may hold: the adduct separators and non-breaking space
_OK = set("\u00b7\u2022\u2219\u22c5\u00a0")


@functools.lru_cache(maxsize=1)
def elements_without_data() -> frozenset[str]:
    """Elements with none of the Magpie elemental properties tabulated (Nh, Fl, Mc, Lv,
    Ts, Og). matminer fills such gaps with an average element, so a formula with one of
    them would silently get the descriptors of a made-up element."""
    import math

    from matminer.featurizers.composition import ElementProperty
    from matminer.utils.data import MagpieData

    props = MagpieData(impute_nan=False).all_elemental_props
    features = ElementProperty.from_preset("magpie").features
    missing = set()
    for symbol in set().union(*(props[f].keys() for f in features)):
        values = [props[f].get(symbol) for f in features]
        if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
            missing.add(symbol)
    return frozenset(missing)


def is_missing_formula(formula: object) -> bool:
    """Whether a formula cell is empty: None, NaN (an empty table cell) or blank text."""
    if isinstance(formula, str):
        return not formula.strip()
    return formula is None or (isinstance(formula, float) and formula != formula)


def parse_formula(formula: object) -> object:
    """Parse one formula into a pymatgen ``Composition``; raises with the reason.

    Elements with no tabulated properties at all (:func:`elements_without_data`) are
    refused, and so are Roman-numeral oxidation states (``Fe(III)2O3``, which pymatgen would
    read as iodine) and a lone ``D`` or ``T`` (read as hydrogen; ``TIO2`` is most likely
    ``TiO2`` typed in capitals). Adducts and hydrates written with a middle dot, bullet or
    ``*`` are summed with their leading multipliers: ``"CuSO4·5H2O"`` is CuSO4 + 5 H2O
    (CuH10SO9).

    Args:
        formula: a formula string such as ``"Fe2O3"``, ``"Fe0.7Ni0.3"`` or ``"CuSO4·5H2O"``.
    """
    from pymatgen.core import Composition, Element

    if is_missing_formula(formula):
        raise ValueError("empty or missing formula")
    if not isinstance(formula, str):
        raise ValueError(f"a formula is text (e.g. 'Fe2O3'), got {type(formula).__name__}")
    roman = _ROMAN_NUMERAL.search(formula)
    if roman:
        raise ValueError(
            f"formula {formula!r} has the oxidation state {roman.group(0)}, which would be "
            "read as iodine/vanadium atoms; leave oxidation states out (e.g. 'Fe2O3')"
        )
    isotope = _ISOTOPE.search(formula)
    if isotope:
        raise ValueError(
            f"formula {formula!r} has a lone {isotope.group(0)!r}, which would be read as "
            "hydrogen (deuterium/tritium); check the case ('Ti', 'Dy', ...) or write 'H'"
        )
    exponent = _exponent_problem(formula)
    if exponent:
        raise ValueError(exponent)
    if _DOTTED_HYDRATE.search(formula):
        raise ValueError(
            f"formula {formula!r} is ambiguous: the full stop reads as a decimal amount; "
            "write a hydrate with a middle dot or '*' (e.g. 'CuSO4*5H2O')"
        )
    parts = _ADDUCT.split(formula.strip())
    for part in parts:
        match = _MULTIPLIER.match(part)
        if _LOOSE_NUMBER.search(part[match.end() :] if match else part):
            raise ValueError(
                f"formula {formula!r} has a number after a space; write amounts right after "
                "their element (e.g. 'H2O2'), or a hydrate as 'CuSO4*5H2O'"
            )
    try:
        if len(parts) == 1:
            comp = Composition(parts[0])
        else:
            comp = Composition()
            for part in parts:
                match = _MULTIPLIER.match(part)
                body = part[match.end() :] if match else part
                if not body:
                    raise ValueError(f"formula {formula!r} has an empty part around a separator")
                factor = float(match.group(1)) if match else 1.0
                if factor == 0:
                    raise ValueError(
                        f"formula {formula!r} multiplies {body!r} by 0; drop that part"
                    )
                comp += Composition(body) * factor
    except (ValueError, OverflowError) as err:
        raise ValueError(_unparsable(formula) or str(err)) from None
    unknown = [
        getattr(el, "symbol", str(el)) for el in comp.elements if not isinstance(el, Element)
    ]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a chemical element")
    no_data = sorted(str(el) for el in comp.elements if str(el) in elements_without_data())
    if no_data:
        raise ValueError(
            f"{', '.join(no_data)} have no tabulated elemental properties (Magpie data), so "
            "the formula cannot be featurized"
        )
    if comp.num_atoms <= 0:
        raise ValueError(f"formula {formula!r} has no atoms")
    if any(amount < 0 for amount in comp.values()):
        raise ValueError(f"formula {formula!r} has negative amounts")
    if not all(np.isfinite(amount) for amount in comp.values()):
        raise ValueError(f"formula {formula!r} has an amount too large to be a number")
    zero = sorted(set(_ZERO_AMOUNT.findall(formula)))
    if zero:  # pymatgen drops an element written with amount 0 ("Fe0O" would be O)
        raise ValueError(
            f"formula {formula!r} gives {', '.join(zero)} an amount of 0; drop it or give "
            "its amount"
        )
    # any other way to an amount of 0 ("Fe.0O", "Fe2(SO4)0", "FeNi1e-9": pymatgen drops
    # amounts under 1e-8) would silently featurize another compound
    kept = {str(el) for el in comp.elements}
    dropped = sorted(
        {s for s in _ELEMENT_TOKEN.findall(formula) if s not in kept and Element.is_valid_symbol(s)}
    )
    if dropped:
        raise ValueError(
            f"formula {formula!r} gives {', '.join(dropped)} an amount of 0 (or below 1e-8, "
            "which is read as 0); drop it or give its amount"
        )
    return comp


def _unparsable(formula: str) -> str | None:
    """A clearer reason than pymatgen's for a formula it cannot read, where one is known:
    exponents it does not read, charges and ranges, unbalanced brackets, characters a
    formula does not hold, variable amounts."""
    import unicodedata

    from pymatgen.core import Element

    exponent = _exponent_problem(formula)
    if exponent:
        return exponent
    bare = _SCIENTIFIC.sub("", formula)
    if _CHARGE.search(bare):
        return (
            f"formula {formula!r} has a '+' or '-' (a charge, a range or an amount such as "
            "'O3-δ'); write the neutral formula with numeric amounts (e.g. 'Fe2O3', "
            "'La0.7Sr0.3MnO3', 'LaNiO2.9')"
        )
    depth = 0
    for c in formula:
        depth += (c in "([{") - (c in ")]}")
        if depth < 0:
            break
    if depth != 0:
        return f"formula {formula!r} has unbalanced brackets; close each '(' or '[' it opens"
    odd = sorted({c for c in formula if not (c.isascii() and c.isprintable()) and c not in _OK})
    if odd:
        names = ", ".join(f"{c!r} ({unicodedata.name(c, 'unnamed')})" for c in odd)
        hint = "use plain digits, e.g. 'Fe2O3'"
        categories = {unicodedata.category(c) for c in odd}
        if any(c in _SUBSCRIPTS for c in odd):
            hint = "write subscripts as plain digits, e.g. 'Fe2O3' for 'Fe₂O₃'"
        elif categories & {"Ll", "Lu", "Lo"}:  # δ, x as a Greek or other letter
            hint = "give variable amounts (x, y, δ) as numbers (e.g. 'LaNiO2.9')"
        elif categories & {"Sm", "Po"}:
            hint = "write a hydrate or adduct with '·' or '*', e.g. 'CuSO4*5H2O'"
        elif categories & {"Cf", "Zs", "Cc"}:
            hint = "remove the invisible character(s)"
        return f"formula {formula!r} has character(s) a formula cannot hold: {names}; {hint}"
    marks = sorted(set(_ASCII_ODD.findall(formula)))
    if marks:
        return (
            f"formula {formula!r} has {', '.join(map(repr, marks))}, which a formula cannot "
            "hold: give one compound per cell with numeric amounts (a solid solution as "
            "'Fe0.5Ni0.5O') and subscripts as plain digits ('Fe2O3')"
        )
    words = _WORD.findall(bare)
    letters = [w for w in words if not Element.is_valid_symbol(w)]
    if letters:
        return (
            f"formula {formula!r} has {', '.join(map(repr, sorted(set(letters))))}, not an "
            "element symbol; give variable amounts (x, y, δ) as numbers "
            "(e.g. 'La0.7Sr0.3MnO3') and start each element with a capital letter"
        )
    return None


def _exponent_problem(formula: str) -> str | None:
    """An amount in scientific notation that pymatgen misreads: a capital ``E`` (read as
    an element) or an explicit ``+`` (which it cannot read)."""
    if _EXPONENT_CAPITAL.search(formula):
        return (
            f"formula {formula!r} writes an exponent with a capital E, which reads as an "
            "element; use a lower-case e (e.g. 'Fe1e-3Ni')"
        )
    if _EXPONENT_PLUS.search(formula):
        return (
            f"formula {formula!r} writes an exponent with '+', which pymatgen cannot read; "
            "write it without the sign (e.g. 'Fe1e1O') or as a plain number"
        )
    return None


def featurize_formulas(
    formulas: Sequence[str],
    specs: list[FeaturizerSpec],
    n_jobs: int = 1,
    chunk_size: int = 256,
    progress: bool = True,
    chunks: ChunkStore | None = None,
) -> RawFeatures:
    """Featurize formulas; each distinct formula is computed once.

    Args:
        formulas: formula strings (duplicates allowed).
        specs: composition featurizer specs.
        n_jobs: worker processes.
        chunk_size: formulas per work unit.
        progress: show a tqdm bar.
        chunks: store of finished chunks, for resuming an interrupted run (None: none).
    """
    keys = [f.strip() if isinstance(f, str) else "" for f in formulas]  # missing -> ""
    unique: dict[str, int] = {}
    for key in keys:
        unique.setdefault(key, len(unique))
    raw = run_featurizers(
        list(unique), parse_formula, specs, n_jobs, chunk_size, progress, "formulas", chunks
    )
    back = np.array([unique[k] for k in keys], dtype=np.int64)
    errors = {i: raw.errors[int(u)] for i, u in enumerate(back) if int(u) in raw.errors}
    return RawFeatures(raw.values[back], raw.columns, errors)
