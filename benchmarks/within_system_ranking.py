"""Where does a classifier rank better: inside chemical systems or across them?

Usage (after a ``benchmarks/matbench_all.py`` run of a classification task, whose fold
store ``<runs>/<task>.folds/<key>/fold_<k>.npz`` holds each fold's test probabilities)::

    uv run python benchmarks/within_system_ranking.py --task matbench_glass \\
        --runs results/bench/transfer_bins16 --out results/bench/within_system

The probability ROC-AUC of an entry is the share of (positive, negative) test-row pairs it
orders correctly. This splits those pairs in two: pairs of rows from the same chemical
system (the same set of elements, e.g. Cu-Zr-Al at different fractions) and pairs from
different systems. A model that tells glass-forming windows apart inside a ternary scores
high on the first; one that knows which element combinations form glasses at all, on the
second. Test rows are also grouped by how many training rows of the fold share their system.

The fold store keeps the arrays of the entries the run plots: the fine-tuned ensemble
(``model_pretrained``) and the RF on Magpie (``rf_scm_magpie``). The store is not committed
(``git add -f`` keeps one while a run is unfinished), so reproducing a report means rerunning
the task first. The newest store folder holding all five folds is read. Writes
``<out>/within_system_<task>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SEEN_BINS = [-1, 0, 5, 20, 50, np.inf]  # training rows of the test row's system


def chemical_system(formula: str) -> str:
    """``"Al-Cu-Zr"`` for ``"Cu46Zr46Al8"``: the sorted element symbols."""
    from pymatgen.core import Composition

    return "-".join(sorted(el.symbol for el in Composition(formula).elements))


def pair_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> dict[str, tuple[float, int]]:
    """Share of (positive, negative) pairs ordered correctly (ties count half) and the pair
    count, over pairs whose two rows are in the same group (``within``) or not (``across``).
    """
    pos, neg = y == 1, y == 0
    right = (p[pos][:, None] > p[neg][None, :]) + 0.5 * (p[pos][:, None] == p[neg][None, :])
    in_group = groups[pos][:, None] == groups[neg][None, :]
    out: dict[str, tuple[float, int]] = {}
    for name, keep in (("within", in_group), ("across", ~in_group)):
        n = int(keep.sum())
        out[name] = (float(right[keep].sum() / n), n) if n else (float("nan"), 0)
    return out


def store_folder(runs: Path, task: str, folds: int) -> Path:
    """The newest ``<runs>/<task>.folds/<key>`` folder with every fold's arrays."""
    complete = [
        d
        for d in (runs / f"{task}.folds").glob("*")
        if all((d / f"fold_{k}.npz").is_file() for k in range(folds))
    ]
    if not complete:
        raise SystemExit(
            f"within_system_ranking: no fold store with {folds} folds under "
            f"{runs / (task + '.folds')}; run benchmarks/matbench_all.py --tasks {task} "
            f"--out {runs} first."
        )
    return max(complete, key=lambda d: d.stat().st_mtime)


def official_test_rows(task: str, data_dir: Path, runs: Path) -> tuple[pd.DataFrame, Path]:
    """Every official test row with its fold, system, training count and entry probabilities."""
    table = pd.read_csv(data_dir / f"{task}.csv").set_index("id")
    table["system"] = [chemical_system(f) for f in table["formula"]]
    folds = json.loads((data_dir / f"{task}_folds.json").read_text())
    folder = store_folder(runs, task, len(folds))
    parts = []
    for k in range(len(folds)):
        test = folds[f"fold_{k}"]
        seen = table.drop(index=test)["system"].value_counts()
        part = table.loc[test, ["formula", "target", "system"]].copy()
        part["fold"] = k
        part["seen"] = part["system"].map(seen).fillna(0).astype(int).to_numpy()
        with np.load(folder / f"fold_{k}.npz", allow_pickle=False) as npz:
            entries = sorted({n.split("/")[0] for n in npz.files if n.endswith("/proba")})
            for entry in entries:
                if not np.array_equal(npz[f"{entry}/y"], part["target"].to_numpy()):
                    raise SystemExit(
                        f"within_system_ranking: {folder}/fold_{k}.npz does not match the "
                        f"test ids of fold {k} in {data_dir / (task + '_folds.json')}."
                    )
                part[entry] = npz[f"{entry}/proba"]
        parts.append(part)
    return pd.concat(parts), folder


def run(args: argparse.Namespace) -> dict:
    """The report as a JSON-ready dict."""
    from sklearn.metrics import roc_auc_score

    rows, folder = official_test_rows(args.task, args.data_dir, args.runs)
    entries = [c for c in rows.columns if c not in {"formula", "target", "system", "fold", "seen"}]
    result: dict = {"task": args.task, "store": str(folder), "rows": len(rows), "entries": {}}
    for entry in entries:
        # pairs are counted within each fold (a fold's test rows against each other)
        by_fold = [
            pair_auc(
                part["target"].to_numpy(),
                part[entry].to_numpy(),
                pd.factorize(part["system"])[0],
            )
            for _, part in rows.groupby("fold")
        ]
        within = _pooled([f["within"] for f in by_fold])
        across = _pooled([f["across"] for f in by_fold])
        seen = {}
        for label, part in rows.groupby(pd.cut(rows["seen"], SEEN_BINS), observed=True):
            if part["target"].nunique() == 2:
                seen[str(label)] = {
                    "rows": len(part),
                    "roc_auc_proba": float(roc_auc_score(part["target"], part[entry])),
                }
        result["entries"][entry] = {
            "roc_auc_proba_per_fold_mean": float(
                np.mean([roc_auc_score(p["target"], p[entry]) for _, p in rows.groupby("fold")])
            ),
            "within_system": {"pair_auc": within[0], "pairs": within[1]},
            "across_systems": {"pair_auc": across[0], "pairs": across[1]},
            "by_training_rows_of_the_system": seen,
        }
    return result


def _pooled(parts: list[tuple[float, int]]) -> tuple[float, int]:
    """Pair-weighted mean of per-fold pair AUCs, and the total pair count."""
    n = sum(c for _, c in parts)
    if n == 0:
        return float("nan"), 0
    return float(sum(a * c for a, c in parts if c) / n), n


def markdown(result: dict) -> str:
    """Tables of the pair ROC-AUCs per entry."""
    lines = [
        f"# Ranking inside and across chemical systems, {result['task']}",
        "",
        f"Official test folds, {result['rows']} rows; probabilities from the fold store "
        f"`{result['store']}`. Pair ROC-AUC: the share of (positive, negative) test-row pairs "
        "of one fold ordered correctly (ties half), pooled over folds; `within`: both rows "
        "have the same set of elements; `across`: different sets. Written by "
        "`benchmarks/within_system_ranking.py`.",
        "",
        "| entry | ROC-AUC (probabilities, fold mean) | within systems | pairs | across systems "
        "| pairs |",
        "|---|---|---|---|---|---|",
    ]
    for entry, r in result["entries"].items():
        w, a = r["within_system"], r["across_systems"]
        lines.append(
            f"| {entry} | {r['roc_auc_proba_per_fold_mean']:.4f} | {w['pair_auc']:.4f} | "
            f"{w['pairs']} | {a['pair_auc']:.4f} | {a['pairs']} |"
        )
    lines += [
        "",
        "By the number of the fold's training rows in the test row's system (ROC-AUC on "
        "probabilities over the test rows of that group, all folds pooled):",
        "",
        "| training rows of the system | rows | " + " | ".join(result["entries"]) + " |",
        "|---|---|" + "---|" * len(result["entries"]),
    ]
    groups = next(iter(result["entries"].values()))["by_training_rows_of_the_system"]
    for label, g in groups.items():
        cells = [
            f"{r['by_training_rows_of_the_system'][label]['roc_auc_proba']:.4f}"
            for r in result["entries"].values()
        ]
        lines.append(f"| {label} | {g['rows']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, write the JSON and Markdown reports."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="matbench_glass")
    parser.add_argument("--runs", type=Path, default=Path("results/bench/transfer_bins16"))
    parser.add_argument("--data-dir", type=Path, default=Path("data/matbench"))
    parser.add_argument("--out", type=Path, default=Path("results/bench/within_system"))
    args = parser.parse_args(argv)
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"within_system_{args.task}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
