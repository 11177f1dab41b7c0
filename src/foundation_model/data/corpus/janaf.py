"""NIST-JANAF heat capacity and entropy curves from the ``janaf`` PyPI wheel (pinned).

The wheel holds ``janaf/janaf.json`` (display names such as ``Al2O3, Aluminum Oxide, Alpha
(cr)`` with table ids) and one tab-separated table per id in ``janaf/data/<id>.txt``
(columns ``T(K) Cp S -[G-H(Tr)]/T H-H(Tr) ...``; Cp and S in J/(K mol) per formula as
written). Only crystalline tables (phase ``cr``) are used. Values are divided by the atoms
in the written formula, so curves are per mole of atoms and comparable across formulas.
The 0 K row (Cp = S = 0 by definition) is dropped; at a repeated temperature (a phase
transition row) the first row is kept. When several ``cr`` tables share a reduced formula
(polymorphs), the one with the most temperature points is kept (ties: smallest table id).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.data import matbench_sources as wheels
from foundation_model.data.corpus.formulas import atoms_in, reduced_formula
from foundation_model.data.corpus.provenance import sha256_bytes, wheel_info

JANAF = ("janaf", "1.4.0")
INDEX_MEMBER = "janaf/janaf.json"
DISPLAY = re.compile(r"^(?P<formula>[^,]+), (?P<name>.+) \((?P<phase>[^)]+)\)$")
UNIT = "J/(K mol of atoms)"


@dataclass
class JanafCurve:
    """One JANAF table reduced to Cp(T) and S(T) per mole of atoms.

    Attributes:
        table_id: JANAF table id (e.g. ``Al-002``).
        formula: formula as written by JANAF.
        reduced: pymatgen reduced formula (None when unparsable).
        name: compound name.
        temperature: ``(L,)`` temperatures in K, strictly increasing.
        cp: ``(L,)`` heat capacity per mole of atoms.
        entropy: ``(L,)`` entropy per mole of atoms.
    """

    table_id: str
    formula: str
    reduced: str | None
    name: str
    temperature: np.ndarray
    cp: np.ndarray
    entropy: np.ndarray


def parse_table(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temperatures, Cp and S of one JANAF table text (rules in the module docstring).

    Args:
        text: the tab-separated table (two header lines).
    """
    temps: list[float] = []
    cps: list[float] = []
    ss: list[float] = []
    for line in text.splitlines()[2:]:
        cells = line.split("\t")
        try:
            t, cp, s = (float(c) for c in cells[:3])
        except ValueError:
            continue
        if t <= 0 or not (np.isfinite(cp) and np.isfinite(s)) or (temps and t <= temps[-1]):
            continue
        temps.append(t)
        cps.append(cp)
        ss.append(s)
    return np.array(temps), np.array(cps), np.array(ss)


def read_curves(cache_dir: Path, phase: str = "cr") -> tuple[list[JanafCurve], dict[str, object]]:
    """All JANAF tables of ``phase`` as curves, and the provenance record.

    Args:
        cache_dir: wheel cache folder (the janaf wheel is downloaded once when missing).
        phase: JANAF phase label (``cr`` = crystal).
    """
    wheel = wheels.wheel_path(*JANAF, cache_dir)
    index_raw = wheels.read_wheel_member(wheel, INDEX_MEMBER)
    index = json.loads(index_raw)
    curves, tables = [], {}
    for display, table_id in zip(index["display"], index["index"], strict=True):
        match = DISPLAY.match(display)
        if match is None or match["phase"] != phase:
            continue
        member = f"janaf/data/{table_id}.txt"
        raw = wheels.read_wheel_member(wheel, member)
        tables[member] = sha256_bytes(raw)
        t, cp, s = parse_table(raw.decode("utf-8", errors="replace"))
        reduced = reduced_formula(match["formula"])
        if reduced is not None and len(t):
            per_atom = atoms_in(match["formula"])
            cp, s = cp / per_atom, s / per_atom
        curves.append(JanafCurve(table_id, match["formula"], reduced, match["name"], t, cp, s))
    record = {
        **wheel_info(*JANAF, cache_dir),
        "file": INDEX_MEMBER,
        "file_sha256": sha256_bytes(index_raw),
        "tables": f"janaf/data/<id>.txt, phase '{phase}'",
        "tables_sha256": sha256_bytes(json.dumps(tables, sort_keys=True).encode()),
    }
    return curves, record


def one_per_formula(curves: list[JanafCurve]) -> list[JanafCurve]:
    """One curve per reduced formula: most temperature points, then smallest table id.

    Args:
        curves: parsed curves with a reduced formula and at least one point.
    """
    best: dict[str, JanafCurve] = {}
    for c in sorted(curves, key=lambda c: (-len(c.temperature), c.table_id)):
        best.setdefault(str(c.reduced), c)
    return [best[k] for k in sorted(best)]


def read_janaf(cache_dir: Path, leaked: frozenset[str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """``cp_T``, ``cp``, ``s_T``, ``s`` list columns (index: reduced formula) and the record.

    Args:
        cache_dir: wheel cache folder.
        leaked: reduced formulas excluded by the leakage rule.
    """
    curves, record = read_curves(cache_dir)
    usable = [c for c in curves if c.reduced is not None and len(c.temperature) >= 2]
    kept_rows = [c for c in usable if c.reduced not in leaked]
    chosen = one_per_formula(kept_rows)
    frame = pd.DataFrame(
        {
            "cp_T": [c.temperature.tolist() for c in chosen],
            "cp": [c.cp.tolist() for c in chosen],
            "s_T": [c.temperature.tolist() for c in chosen],
            "s": [c.entropy.tolist() for c in chosen],
        },
        index=pd.Index([c.reduced for c in chosen], name="formula"),
    )
    lengths = [len(c.temperature) for c in chosen]
    counts = {
        "rows_read": len(curves),
        "rows_unparsable": sum(c.reduced is None for c in curves),
        "rows_too_short": sum(c.reduced is not None and len(c.temperature) < 2 for c in curves),
        "rows_leakage_removed": len(usable) - len(kept_rows),
        "formulas_with_duplicates": int(
            (pd.Series([c.reduced for c in kept_rows]).value_counts() > 1).sum()
        ),
        "rows_merged": len(kept_rows) - len(chosen),
        "duplicates_how": "one table per reduced formula: most temperature points, "
        "then smallest JANAF table id (polymorphs are not averaged)",
        "rows_kept": len(chosen),
        "points_per_curve": [min(lengths, default=0), max(lengths, default=0)],
        "unit": {"cp_T": "K", "s_T": "K", "cp": UNIT, "s": UNIT},
    }
    return frame, {**record, "properties": {"cp": counts, "s": counts}}
