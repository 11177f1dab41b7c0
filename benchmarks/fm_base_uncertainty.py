"""Would a latent-distance σ make fm-base's predictions trustworthy on new formulas?

fm-base ships with one head per task and no σ. ``fm calibrate`` can add one to a copy (its
weights unchanged): the latent distance to 4096 kept corpus training rows, with each
regression task's map ``sqrt((a · w · d)² + b²)`` fitted on the corpus validation split.
This benchmark does that in a temporary folder (or takes a calibrated ``--ckpt``) and
scores the σ twice:

* **in distribution** — the corpus's held-out 5 % test split (the rows ``fm calibrate``
  never fitted on), for the OQMD tasks;
* **out of distribution** — the Materials Project formation energies of Matbench's
  ``matbench_mp_e_form``. The corpus's leakage rule removed every Matbench formula, so
  none of these formulas was seen in training. Per reduced formula the lowest formation
  energy over its polymorphs (the ground state, as in the corpus's tables) is compared with
  the ``oqmd_formation_enthalpy`` head. MP and OQMD differ in their references and
  corrections, so part of this error is a database offset no σ fitted on OQMD rows can
  know about: the rank of the errors (Spearman) and the coverage by distance bin say more
  than the overall coverage.

Writes ``<out>/fm_base_uncertainty.{json,md,png}``::

    uv run python benchmarks/fm_base_uncertainty.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

OQMD_TASKS = ("oqmd_formation_enthalpy", "oqmd_band_gap", "oqmd_volume_per_atom")
BINS = 5


def by_distance_bin(
    y: np.ndarray, pred: np.ndarray, std: np.ndarray, dist: np.ndarray
) -> list[dict[str, float]]:
    """Rows split into ``BINS`` quantile bins of the latent distance: mean distance, mean σ,
    RMSE and ±1σ coverage of each."""
    m = np.isfinite(y) & np.isfinite(pred) & np.isfinite(std) & np.isfinite(dist)
    y, pred, std, dist = y[m], pred[m], std[m], dist[m]
    edges = np.quantile(dist, np.linspace(0, 1, BINS + 1))
    which = np.clip(np.searchsorted(edges, dist, side="right") - 1, 0, BINS - 1)
    out = []
    for b in range(BINS):
        sel = which == b
        if not sel.any():
            continue
        err = np.abs(y[sel] - pred[sel])
        out.append(
            {
                "distance": float(dist[sel].mean()),
                "sigma": float(std[sel].mean()),
                "rmse": float(np.sqrt((err**2).mean())),
                "mae": float(err.mean()),
                "coverage_1sigma": float((err <= std[sel]).mean()),
                "rows": int(sel.sum()),
            }
        )
    return out


def distance_rank(y: np.ndarray, pred: np.ndarray, dist: np.ndarray) -> float:
    """Spearman correlation of the latent distance with the absolute error."""
    from scipy.stats import spearmanr

    m = np.isfinite(y) & np.isfinite(pred) & np.isfinite(dist)
    return float(spearmanr(dist[m], np.abs(y[m] - pred[m])).statistic)


def in_distribution(predictor: Any, config: Path) -> dict[str, Any]:
    """The OQMD tasks on the corpus test split of ``config``."""
    from foundation_model.workflows.calibrate_checkpoint import (
        calibration_scores,
        load_datamodule,
    )

    dm = load_datamodule(config)
    ids = dm.ids[dm.splits.test]
    x = pd.read_parquet(dm.formula_desc_source).loc[ids]
    attrs = pd.read_parquet(dm.attributes_source)  # fm data corpus: indexed by formula
    attrs = (attrs.set_index("formula") if "formula" in attrs.columns else attrs).loc[ids]
    pred = predictor.predict(x)
    out = {}
    for task in OQMD_TASKS:
        y = attrs[task].to_numpy(dtype=float)
        v, s = pred[f"{task}_value"].to_numpy(), pred[f"{task}_std"].to_numpy()
        d = pred["latent_distance"].to_numpy()
        out[task] = (calibration_scores(y, v, s) or {}) | {
            "spearman_error_distance": distance_rank(y, v, d),
            "bins": by_distance_bin(y, v, s, d),
        }
    out["latent_distance_median"] = float(np.median(pred["latent_distance"]))
    return out


def out_of_distribution(predictor: Any, table: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """``oqmd_formation_enthalpy`` vs the lowest MP formation energy per reduced formula."""
    from pymatgen.core import Composition

    from foundation_model.workflows.calibrate_checkpoint import calibration_scores

    df = pd.read_csv(table)
    df["reduced"] = [Composition(f).reduced_formula for f in df["formula"]]
    ground = df.groupby("reduced")["target"].min()
    pred = predictor.predict(list(ground.index))
    ground = ground.loc[pred["formula"]]
    y = ground.to_numpy(dtype=float)
    v = pred["oqmd_formation_enthalpy_value"].to_numpy()
    s = pred["oqmd_formation_enthalpy_std"].to_numpy()
    d = pred["latent_distance"].to_numpy()
    out = (calibration_scores(y, v, s) or {}) | {
        "spearman_error_distance": distance_rank(y, v, d),
        "bins": by_distance_bin(y, v, s, d),
    }
    out["median_offset"] = float(np.median(y - v))
    n_el = np.array([len(Composition(f).elements) for f in ground.index])
    out["by_elements"] = {
        int(n): {
            "rows": int((n_el == n).sum()),
            "median_offset": float(np.median((y - v)[n_el == n])),
            "mae": float(np.abs(y - v)[n_el == n].mean()),
        }
        for n in np.unique(n_el)
    }
    out["latent_distance_median"] = float(np.median(pred["latent_distance"]))
    out["formulas"] = int(len(ground))
    return out, pd.DataFrame({"y": y, "pred": v, "std": s, "distance": d}, index=ground.index)


def plot(report: dict[str, Any], path: Path) -> None:
    """±1σ coverage per latent-distance quintile, in and out of distribution (a calibrated
    σ stays at 68.3 % in every bin)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    series = {
        "corpus test (OQMD ΔH)": report["in_distribution"]["oqmd_formation_enthalpy"]["bins"],
        "Matbench mp_e_form formulas (MP ΔH)": report["out_of_distribution"]["bins"],
    }
    for label, bins in series.items():
        ax.plot(
            [b["distance"] for b in bins], [b["coverage_1sigma"] for b in bins], "o-", label=label
        )
    ax.axhline(0.683, color="k", ls="--", lw=1, label="nominal 68.3 %")
    ax.set_ylim(0, 1)
    ax.set_xlabel("latent distance to the kept training rows (quintile means)")
    ax.set_ylabel("share of rows within ±1σ")
    ax.set_title("fm-base formation enthalpy with fm calibrate's σ", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    ind, ood = report["in_distribution"], report["out_of_distribution"]
    lines = [
        "# fm-base's σ: held-out corpus rows and unseen Matbench formulas",
        "",
        f"Checkpoint `{report['checkpoint']}` with `fm calibrate`'s σ: the latent distance to "
        f"{report['rows_kept']} kept training rows, map fitted on the corpus validation split "
        f"(`--sigma-fit {report.get('sigma_fit', 'matched')}`). "
        f"Written by `benchmarks/fm_base_uncertainty.py` ({report['seconds']:.0f} s).",
        "",
        "Fitted maps (w, a, b): "
        + ", ".join(
            f"{t} ({report['calibration'][t]['w']:.3g}, {report['calibration'][t]['a']:.3g}, "
            f"{report['calibration'][t]['b']:.3g})"
            for t in OQMD_TASKS
            if t in report["calibration"]
        )
        + ". With a = 0 the σ of a task is one constant.",
        "",
        "| rows | task | MAE | ±1σ | ±2σ | area | Spearman(σ, abs err) | "
        "Spearman(distance, abs err) | rows |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task in OQMD_TASKS:
        t = ind[task]
        lines.append(
            f"| corpus test | {task} | {t['mae']:.4g} | {t['coverage_1sigma']:.3f} | "
            f"{t['coverage_2sigma']:.3f} | {t['miscalibration_area']:.3f} | "
            f"{t['spearman_error_sigma']:.2f} | {t['spearman_error_distance']:.2f} | "
            f"{t['rows']} |"
        )
    lines.append(
        f"| mp_e_form formulas | oqmd_formation_enthalpy vs MP | {ood['mae']:.4g} | "
        f"{ood['coverage_1sigma']:.3f} | {ood['coverage_2sigma']:.3f} | "
        f"{ood['miscalibration_area']:.3f} | {ood['spearman_error_sigma']:.2f} | "
        f"{ood['spearman_error_distance']:.2f} | {ood['rows']} |"
    )
    lines += [
        "",
        f"Median latent distance: corpus test {ind['latent_distance_median']:.3f}, "
        f"Matbench formulas {ood['latent_distance_median']:.3f}. Median MP − OQMD-head "
        f"offset {ood['median_offset']:+.3f} eV/atom.",
        "",
        "MP minus OQMD-head by number of elements (median offset / MAE, eV/atom): "
        + ", ".join(
            f"{n}: {b['median_offset']:+.3f} / {b['mae']:.3f} ({b['rows']})"
            for n, b in ood["by_elements"].items()
        )
        + ".",
        "",
        "By latent-distance quintile (formation enthalpy):",
        "",
        "| rows | mean distance | mean σ | RMSE | MAE | ±1σ coverage | rows in bin |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, bins in (
        ("corpus test", ind["oqmd_formation_enthalpy"]["bins"]),
        ("mp_e_form", ood["bins"]),
    ):
        for b in bins:
            lines.append(
                f"| {label} | {b['distance']:.2f} | {b['sigma']:.3f} | {b['rmse']:.3f} | "
                f"{b['mae']:.3f} | {b['coverage_1sigma']:.3f} | {b['rows']} |"
            )
    lines += ["", "![error vs sigma](fm_base_uncertainty.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", type=Path, default=ROOT / "results/pretrained/fm-base/model.ckpt")
    p.add_argument(
        "--config", type=Path, default=ROOT / "samples/generated_configs/pretrain_base.yaml"
    )
    p.add_argument(
        "--ood",
        type=Path,
        default=ROOT / "data/matbench/matbench_mp_e_form.csv",
        help="fm data matbench's mp_e_form table (formula, target)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/fm_base_uncertainty")
    p.add_argument(
        "--sigma-fit",
        default=None,
        help="fm calibrate's --sigma-fit (default: the checkpoint's own, matched)",
    )
    args = p.parse_args(argv)

    import foundation_model
    from foundation_model.utils.atomic import write_json, write_text
    from foundation_model.utils.checkpoint import load_checkpoint
    from foundation_model.workflows.calibrate_checkpoint import (
        CalibrationOptions,
        calibrate_checkpoint,
    )

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fm-calibrate-") as tmp:
        ckpt = args.ckpt
        calibration = load_checkpoint(ckpt).get("fm_calibration")
        if not calibration:  # fm-base ships without σ: add it to a copy, weights unchanged
            ckpt = Path(tmp) / "calibrated.ckpt"
            calibration = calibrate_checkpoint(
                CalibrationOptions(args.ckpt, args.config, ckpt, sigma_fit=args.sigma_fit)
            )
        predictor = foundation_model.load(ckpt)
    report: dict[str, Any] = {
        "calibration": calibration["tasks"],
        "checkpoint": str(
            args.ckpt.relative_to(ROOT) if args.ckpt.is_relative_to(ROOT) else args.ckpt
        ),
        "rows_kept": calibration["rows_kept"],
        "sigma_fit": calibration.get("sigma_fit", "matched"),
        "in_distribution": in_distribution(predictor, args.config),
    }
    report["out_of_distribution"], _ = out_of_distribution(predictor, args.ood)
    report["seconds"] = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(report, args.out / "fm_base_uncertainty.json")
    plot(report, args.out / "fm_base_uncertainty.png")
    write_text(markdown(report), args.out / "fm_base_uncertainty.md")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
