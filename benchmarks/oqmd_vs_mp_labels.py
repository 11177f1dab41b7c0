"""Why is fm-base off on known compounds: the databases, or the model?

fm-base's ``oqmd_formation_enthalpy`` head is off by a median −0.31 eV/atom against the
Materials Project formation energies of ``matbench_mp_e_form``
(``benchmarks/fm_base_uncertainty.py``). Two causes were left unseparated there: MP and OQMD
use different references and corrections, and the corpus's leakage rule removed every
Matbench formula, so the head never saw a known MP compound.

This script separates them on the formulas that OQMD (the crabnet wheel's
``OQMD_Formation_Enthalpy``, read without the leakage rule) and MP both hold, each reduced
formula taken at its lowest formation energy, as in the corpus and in
``fm_base_uncertainty.py``:

* ``MP − OQMD``: the two databases' labels for the same formula (no model involved);
* ``OQMD − head``: the head against its own database, on formulas the leakage rule kept
  out of its training, so a pure model error;
* ``MP − head``: the error ``fm_base_uncertainty.py`` reports, on the same formulas.

Writes ``<out>/oqmd_vs_mp_labels.{json,md}``::

    uv run python benchmarks/oqmd_vs_mp_labels.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

HEAD = "oqmd_formation_enthalpy"


def ground_states(formulas: pd.Series, values: pd.Series) -> pd.Series:
    """Lowest value per reduced formula (unparsable formulas dropped).

    Args:
        formulas: raw formula strings.
        values: one value per formula, same index.
    """
    from foundation_model.data.corpus.formulas import reduce_formulas

    reduced = reduce_formulas(formulas)
    keep = reduced.notna() & values.notna()
    return values[keep].groupby(reduced[keep].to_numpy()).min()


def compare(columns: dict[str, pd.Series], n_elements: pd.Series) -> dict[str, dict]:
    """Median difference and MAE of each named difference, overall and by element count.

    Args:
        columns: name -> per-formula differences (same index).
        n_elements: number of elements per formula (same index).
    """
    out: dict[str, dict] = {}
    for name, diff in columns.items():
        rows = {"all": diff}
        rows |= {str(int(n)): diff[n_elements == n] for n in sorted(n_elements.unique())}
        out[name] = {
            k: {
                "rows": int(v.size),
                "median": float(v.median()),
                "mae": float(v.abs().mean()),
                "within_0.1": float((v.abs() <= 0.1).mean()),
            }
            for k, v in rows.items()
            if v.size
        }
    return out


def markdown(report: dict) -> str:
    """The tables of the three differences, overall and by element count."""
    lines = [
        "# fm-base on known compounds: database offset or model error?",
        "",
        f"{report['formulas']} reduced formulas held by both OQMD (crabnet wheel, without "
        "the leakage rule) and Matbench mp_e_form (MP), each at its lowest formation energy; "
        f"head: `{HEAD}` of `{report['checkpoint']}` (none of these formulas is in its "
        f"corpus). eV/atom. {report['seconds']:.0f} s. Written by "
        "`benchmarks/oqmd_vs_mp_labels.py`.",
        "",
        "| elements | formulas | MP − OQMD median / MAE | OQMD − head median / MAE "
        "| MP − head median / MAE |",
        "|---|---|---|---|---|",
    ]
    comp = report["differences"]
    for key, row in comp["MP - OQMD"].items():
        cells = [
            f"{comp[name][key]['median']:+.3f} / {comp[name][key]['mae']:.3f}"
            if key in comp[name]
            else "—"
            for name in ("MP - OQMD", "OQMD - head", "MP - head")
        ]
        lines.append(f"| {key} | {row['rows']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Reading: where `MP − OQMD` is near 0 and `OQMD − head` is not, the error on known "
        "compounds is the model's (it never saw them: the leakage rule), not a difference "
        "between the databases.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Compare and write the JSON and Markdown reports."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", type=Path, default=Path("results/pretrained/fm-base/model.ckpt"))
    p.add_argument("--cache-dir", type=Path, default=Path("data/cache/wheels"))
    p.add_argument("--out", type=Path, default=Path("results/bench/fm_base_uncertainty"))
    args = p.parse_args(argv)
    if not args.ckpt.is_file():
        p.error(f"--ckpt {args.ckpt} not found")
    import foundation_model
    from foundation_model.data.corpus.crabnet_tables import PROPERTIES, read_property
    from foundation_model.data.matbench_sources import crabnet_table
    from foundation_model.utils.atomic import write_json, write_text

    start = time.perf_counter()
    prop = next(q for q in PROPERTIES if q.column == HEAD)
    oqmd, _ = read_property(prop, args.cache_dir, frozenset())  # no leakage rule here
    mp_rows = crabnet_table("mp_e_form", args.cache_dir)
    mp = ground_states(mp_rows["formula"], mp_rows["target"].astype(float))
    shared = oqmd.index.intersection(mp.index).sort_values()
    pred = foundation_model.load(args.ckpt).predict(list(shared))
    head = pd.Series(pred[f"{HEAD}_value"].to_numpy(), index=pred["formula"].to_numpy())
    shared = shared.intersection(head.index)
    from pymatgen.core import Composition

    n_el = pd.Series([len(Composition(f).elements) for f in shared], index=shared)
    diffs = {
        "MP - OQMD": mp[shared] - oqmd[shared],
        "OQMD - head": oqmd[shared] - head[shared],
        "MP - head": mp[shared] - head[shared],
    }
    report = {
        "checkpoint": str(args.ckpt),
        "formulas": int(len(shared)),
        "differences": compare(diffs, n_el),
        "seconds": time.perf_counter() - start,
    }
    write_json(report, args.out / "oqmd_vs_mp_labels.json")
    write_text(markdown(report), args.out / "oqmd_vs_mp_labels.md")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
