"""All 13 Matbench v0.1 tasks, composition only: the pretrained model fine-tuned with one recipe.

For every task this runs ``fm bench matbench --task T --pretrained CKPT`` (the official
5 folds; per fold the same network from scratch, the pretrained encoder fine-tuned with
the recipe of ``samples/generated_configs/finetune_from_base.yaml``, RF on Magpie, RF on
the model's own descriptors and a Dummy) and collects the results beside the published
leaderboard figures (their source is named in the table).

One recipe for every task: the recipe YAML is fixed; batch size, epochs and patience follow
the number of training rows only; every fold averages the networks of the recipe's four
fine-tuning modes (``--combine pick`` instead keeps the mode with the lowest
inner-validation error of each fold). Tasks with >= 50k training rows run their forests
with 100 trees instead of 500, marked as a reduced budget in the table; their networks
follow the recipe's step rule like every other task's since 2026-12-07 (before, 8 epochs,
marked too).

Resumable: a task whose ``<out>/<task>.json`` exists for the same checkpoint is read, not
rerun (``--force`` reruns); ``--report-only`` runs nothing and rebuilds the summary from the
task JSONs in ``--out``. Structure tasks are scored on their formulas only, so their
numbers are not comparable to structure models on the leaderboard.

    uv run python benchmarks/matbench_all.py --pretrained results/pretrained/fm-base/model.ckpt
    uv run python benchmarks/matbench_all.py --pretrained CKPT --tasks steels expt_gap
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from foundation_model.data.matbench import CRABNET_STEMS, canonical_name  # noqa: E402
from foundation_model.workflows.bench_report import (  # noqa: E402
    ANCHORS,
    ENTRY_LABELS,
    LEADERBOARD_SOURCE,
    entry_cost,
    paired_comparison,
)
from foundation_model.workflows.fold_store import file_sha256  # noqa: E402

ENTRIES = ("model_pretrained", "model_scratch", "rf_scm_magpie", "rf_same_features", "dummy")
LARGE_ROWS = 50_000


def run_task(task: str, ckpt: Path, out: Path, args: argparse.Namespace) -> dict:
    """One task's transfer comparison (read from ``out`` when already done for ``ckpt``)."""
    from foundation_model.workflows.matbench_bench import BenchOptions, run_matbench

    path = out / f"{task}.json"
    digest = file_sha256(ckpt)
    if path.exists() and not args.force:
        done = json.loads(path.read_text())
        recipe = done.get("recipe") or {}
        same_seeds = recipe.get("seeds", 1) == args.seeds
        same_seeds &= args.combine is None or recipe.get("combine", "pick") == args.combine
        same_folds = done.get("folds_run") == (args.folds or list(range(5)))
        fresh = not done.get("failed_folds") and same_seeds and same_folds
        if done.get("pretrained_sha256") == digest and fresh:
            print(f"{task}: done before, read {path}")
            return done
    folds_file = args.data_dir / f"{task}_folds.json"
    if not folds_file.is_file():
        from foundation_model.data.matbench import write_matbench

        write_matbench(args.data_dir, [task])
    folds = json.loads(folds_file.read_text())
    n_train = sum(len(ids) for ids in folds.values()) - len(folds["fold_0"])
    large = n_train >= LARGE_ROWS
    opts = BenchOptions(
        task=task,
        out_dir=out,
        pretrained=ckpt,
        config=args.recipe,
        data_dir=args.data_dir,
        rf_estimators=100 if large else 500,
        n_jobs=2,
        seeds=args.seeds,
        combine=args.combine,
        progress=not args.quiet,
        folds=args.folds,
        resume=args.resume,
        workers=args.workers,
    )
    result = run_matbench(opts)
    result["pretrained_sha256"] = digest
    result["rf_estimators"] = opts.rf_estimators
    path.write_text(json.dumps(result, indent=2))
    return result


def _better(metric: str, a: float | None, b: float | None) -> bool | None:
    if a is None or b is None:
        return None
    return a < b if metric == "mae" else a > b


def summarize(results: dict[str, dict]) -> dict:
    """Per task: every entry's mean, whether the pretrained model beats the three others."""
    rows = {}
    for task, r in results.items():
        metric = r["metric"]
        means = {k: r[k]["mean"] for k in ENTRIES}
        pre = means["model_pretrained"]
        cost = entry_cost(r.get("folds") or [])  # None for runs that did not record it
        rows[task] = {
            "metric": metric,
            "unit": r.get("unit"),
            "n_rows": r["n_rows"],
            "folds_run": r["folds_run"],
            "reduced_budget": bool(r["recipe"].get("reduced_budget")),
            "max_epochs": (r["recipe"].get("sizes") or {}).get("max_epochs"),
            "seeds": r["recipe"].get("seeds", 1),
            "rf_estimators": r.get("rf_estimators"),
            **{k: means[k] for k in ENTRIES},
            **{f"{k}_std": r[k]["std"] for k in ENTRIES},
            "beats_scratch": _better(metric, pre, means["model_scratch"]),
            "beats_rf_magpie": _better(metric, pre, means["rf_scm_magpie"]),
            "beats_rf_same_features": _better(metric, pre, means["rf_same_features"]),
            "modes": [f["mode"] for f in r.get("folds") or []],
            "candidate_modes": list(r["recipe"].get("modes") or []),
            "finetune_seconds_per_fold_median": float(
                np.median([f["seconds_finetune_all_modes"] for f in r["folds"]])
            )
            if r.get("folds")
            else None,
            "finetune_entry_seconds_per_fold_median": cost and cost["wall"],
            "published": {name: value for name, value in ANCHORS.get(task, [])},
            "paired": r.get("paired") or paired_comparison(r),
        }
    return rows


def markdown(rows: dict[str, dict], ckpt: Path, digest: str, seconds: float) -> str:
    """The Markdown table of all tasks."""
    lines = [
        "# Matbench v0.1, composition only: fm-base fine-tuned with one recipe",
        "",
        f"Checkpoint `{ckpt}` (sha256 `{digest[:16]}…`). Official 5-fold protocol, one run "
        "per task, all entries on the same folds. Lower is better for MAE, higher for ROC-AUC "
        f"(on hard labels, as the leaderboard's RF was scored; Matbench also scores "
        f"submitted probabilities, so a published entry may be either; each task's report "
        f"gives the probability ROC-AUC too). Total wall time {seconds / 60:.0f} min on this "
        "machine (2 CPU cores; a task resumed from its fold store counts only the resumed "
        "part). Fine-tuning s/fold: median wall time of training the first "
        "network of every mode on one fold (scratch and the RFs not included), measured while "
        "other benchmark jobs may have shared the 2 cores; runs since 2026-12-07 add the "
        "whole fine-tuned entry (every network of every mode, their summed training time "
        "divided by the workers).",
        "",
        "| task | metric | pretrained | scratch | RF Magpie | RF same feats | Dummy | "
        "beats all 3 | published RF-SCM/Magpie | published MODNet v0.1.12 | published best | "
        "modes | fine-tuning s/fold | budget |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, r in rows.items():
        pub = r["published"]
        best = next(((n, v) for n, v in pub.items() if n.startswith("best")), None)
        beats = (r["beats_scratch"], r["beats_rf_magpie"], r["beats_rf_same_features"])
        flag = "—" if None in beats else ("yes" if all(beats) else "no")
        folds = "" if r["folds_run"] == [0, 1, 2, 3, 4] else f", folds {r['folds_run']}"
        n_seeds = r.get("seeds", 1)
        seeds = f", {n_seeds} seed" + ("s" if n_seeds > 1 else "")
        parts = [f"{r['max_epochs']} epochs"] if r["reduced_budget"] and r["max_epochs"] else []
        trees = r.get("rf_estimators")
        parts += [f"{trees}-tree RFs"] if trees and (r["reduced_budget"] or trees < 500) else []
        reduced = r["reduced_budget"] or bool(parts)
        budget = "reduced" + (f" ({', '.join(parts)})" if parts else "") if reduced else "full"
        budget += folds + seeds
        lines.append(
            f"| {task.removeprefix('matbench_')} | {r['metric']} | "
            + " | ".join(_f(r[k]) for k in ENTRIES)
            + f" | {flag} | {_f(pub.get('RF-SCM/Magpie'))} | {_f(pub.get('MODNet v0.1.12'))} | "
            + (f"{best[1]:.4g} ({best[0].removeprefix('best: ')})" if best else "—")
            + f" | {_modes(r)} | {_seconds(r)} | {budget} |"
        )
    lines += _paired_table(rows)
    lines += _across_lines(across_tasks(rows))
    lines += [
        "",
        f"Entries: {', '.join(f'{k} = {ENTRY_LABELS[k]}' for k in ENTRIES)}.",
        "",
        f"Published figures: {LEADERBOARD_SOURCE}. They use structures where a task has them; "
        "the numbers here see compositions only.",
        "",
        "How the recipe was chosen: the recipe YAML was written before any transfer result; "
        "its only data-dependent choices are the size rules (batch size, epochs, patience from "
        "the number of training rows) and, until change (9), the fine-tuning mode, picked per "
        "fold by the lowest inner-validation error on that fold's training ids. No setting was "
        "chosen by a test fold's score. Eleven changes were made along the way, all disclosed: "
        "(1) the epoch cap went from 300 to 500 and the step target from 3,000 to 4,000 "
        "because the scratch model on steels fold 0 was still improving at the cap (a trial "
        "with an early pretraining checkpoint, whose fold-0 test scores were seen too); (2) "
        "the candidate mode `full_uniform` (encoder at the head's learning rate) was added "
        "after the first recipe (`results/bench/transfer_v1/`) lost to scratch on 4 of 5 "
        "tasks. The change was chosen on training ids only: on an inner split of fold 0's "
        "training ids (20 % inner test), the encoder at 1e-3 instead of 1e-4 gave 106.4 vs "
        "209.8 MPa on steels (scratch 123.1) and 57.2 vs 79.2 cm⁻¹ on phonons (scratch 74.7). "
        "The tasks of `transfer_v1` had been seen on their test folds before this change; "
        "tasks run only after it are clean hold-outs of the recipe. (3) The point-mass rule (a "
        "regression target whose training minimum holds at least 10 % of the training rows "
        "gets `RegressionTask(point_mass=...)`, in scratch and fine-tuned alike; only expt_gap "
        "and mp_gap qualify) was added after expt_gap and mp_gap fold 0 had been run without "
        "it; it was judged on 3 inner folds of expt_gap fold 0's training ids only "
        "(`results/bench/point_mass_inner_expt_gap.md`), and those two tasks were rerun with "
        "it. (4) The candidate modes went from probe / partial / full / full_uniform to full / "
        "full_uniform, on counts of inner-validation choices only (88 choices among the four "
        "at seeds 0 and 100: full_uniform 66, full 20, probe 1, partial 1); it halves the "
        "fine-tuning time per fold. Each mode trains on its own with the fold's seed and no "
        "fold here had chosen probe or partial, so no score changes; the six tasks under 5k "
        "rows were rerun with two modes and gave the same scores. (5) On 2026-12-05 the "
        "candidates became full / full_uniform / full_task / full_uniform_task (the `*_task` "
        "modes refit the encoder's descriptor scalers on the task) by a rule fixed before its "
        "deciding numbers were seen, on inner folds of fold 0's training ids only "
        "(`results/bench/input_scaling_inner_<task>.md`): the validation pick among four beat "
        "the pick among two on steels, glass and expt_gap, not on phonons or log_gvrh. The "
        "`modes` column counts each task's candidates: tasks with 2 ran before this change. "
        "(6) Also on 2026-12-05, classification labels: the networks and the RF on the same "
        "features label `p >=` the fold's training positive rate, the labels that maximise "
        "balanced accuracy (label-based ROC-AUC), instead of `p >= 0.5`; the RF on Magpie "
        "keeps 0.5 as the leaderboard's did. The rule follows from the metric; its one check "
        "before the official folds used out-of-bag RF probabilities on glass fold 0's training "
        "ids (0.845 at 0.5, 0.875 at the rate). glass and expt_is_metal were rerun with it. "
        "(7) Also on 2026-12-05, a classification task's `val_task_error` (the checkpoint, "
        "early-stopping and mode-choice monitor) breaks ties of its error rate by the log "
        "loss, instead of keeping the first of tied epochs; found by an audit on a 30-row "
        "table whose networks stayed at epoch 0, adopted by that argument with no Matbench "
        "score seen. glass and expt_is_metal were rerun with it (labels 0.8573 -> 0.8557 and "
        "0.9278 -> 0.9276 fine-tuned). (8) On 2026-12-06 the recipe (scratch and every mode "
        "alike) encodes each descriptor in 8 quantile bins (`formula_bins: 8`), adopted on "
        "inner folds of fold 0's training ids only "
        "(`results/bench/formula_bins_inner_<task>.md`). (9) Later that day the recipe stopped "
        "choosing a mode and averages all four (`combine: all`; scratch gets as many "
        "networks), adopted by a rule fixed before the study ran, on inner folds only "
        "(`results/bench/mode_ensemble_inner_<task>.md`). A task's `modes` column reads "
        "`all 4 averaged` for runs made with it. (10) Also on 2026-12-06, 16 quantile bins "
        "instead of 8 (`formula_bins: 16`), adopted by a rule fixed before any fold ran, on "
        "inner folds of fold 0's training ids only (`results/bench/bins16_inner/`). On "
        "2026-12-07 two changes of implementation followed, with the same model: the bin "
        "branch encodes and trains only its valid (descriptor, bin) columns, and the optimizer "
        "is `AdamW(fused=True)`; they change results by rounding only, and every task was "
        "rerun with them (`results/bench/transfer_bins16/`). (11) Later on 2026-12-07, 32 "
        "quantile bins instead of 16 (`formula_bins: 32`), adopted by a rule fixed before any "
        "fold ran, with a time clause, on inner folds of fold 0's training ids only "
        "(`results/bench/bins32_inner/`); every task was rerun with it "
        "(`results/bench/transfer_bins32/`). On the official folds 32 bins were better than 16 "
        "on 4 tasks and worse on 5, by rounding-sized amounts, so the inner-fold gain was not "
        "confirmed; the recipe was not changed back, since that would choose on test folds.",
    ]
    return "\n".join(lines) + "\n"


def _modes(row: dict) -> str:
    """The modes column: each fold's pick, or one phrase when every fold averaged them all."""
    if row["modes"] and set(row["modes"]) == {"all"}:
        return f"all {len(row['candidate_modes'])} averaged"
    return ", ".join(row["modes"])


def across_tasks(rows: dict[str, dict]) -> dict[str, dict]:
    """Does the pretrained model beat each control across tasks, not just on one?

    Per control, over the tasks run: how many the pretrained model wins on the mean, the
    two-sided sign test of that count, and the Wilcoxon signed-rank test of the relative
    gains (gain over the control's error: its MAE, or 1 - ROC-AUC), the two tests Demšar
    (2006, JMLR 7:1) recommends for comparing two methods over several data sets.

    Args:
        rows: :func:`summarize`'s rows.
    """
    from scipy import stats

    out = {}
    for key in ("model_scratch", "rf_scm_magpie", "rf_same_features"):
        rel = []
        for r in rows.values():
            pre, ctl = r["model_pretrained"], r[key]
            if pre is None or ctl is None:
                continue
            gain, err = (ctl - pre, ctl) if r["metric"] == "mae" else (pre - ctl, 1.0 - ctl)
            rel.append(gain / abs(err) if err else 0.0)
        wins = sum(g > 0 for g in rel)
        out[key] = {
            "tasks": len(rel),
            "tasks_better": int(wins),
            "median_relative_gain": float(np.median(rel)) if rel else None,
            "sign_test_p": float(stats.binomtest(wins, len(rel)).pvalue) if rel else None,
            "wilcoxon_p": float(stats.wilcoxon(rel).pvalue) if len(rel) >= 2 else None,
        }
    return out


def _across_lines(across: dict[str, dict]) -> list[str]:
    names = {"model_scratch": "scratch", "rf_scm_magpie": "RF Magpie"}
    names["rf_same_features"] = "RF same feats"
    lines = [
        "",
        "Across tasks (each task one pair of means; relative gain = gain / the control's "
        "error, MAE or 1 − ROC-AUC; two-sided sign test and Wilcoxon signed-rank test of the "
        "relative gains, as Demšar 2006 recommends for two methods over several data sets):",
        "",
        "| control | tasks better | median relative gain | sign test p | Wilcoxon p |",
        "|---|---|---|---|---|",
    ]
    for key, a in across.items():
        if not a["tasks"]:
            continue
        wil = "—" if a["wilcoxon_p"] is None else f"{a['wilcoxon_p']:.3g}"
        lines.append(
            f"| {names[key]} | {a['tasks_better']} of {a['tasks']} | "
            f"{a['median_relative_gain']:+.1%} | {a['sign_test_p']:.3g} | {wil} |"
        )
    return lines


def _paired_table(rows: dict[str, dict]) -> list[str]:
    """Fold-by-fold gains of the pretrained model over each control, with their intervals."""
    controls = ("model_scratch", "rf_scm_magpie", "rf_same_features")
    lines = [
        "",
        "Fold by fold: the mean gain of the fine-tuned model over each control (positive: "
        "fine-tuned better, in the task's metric), the folds it wins, and the 95 % interval "
        "of the mean gain from the corrected resampled t-test (Nadeau & Bengio 2003: the "
        "variance of the 5 fold gains is scaled by 1/5 + n_test/n_train, since folds share "
        "training rows). **better** / **worse**: the interval excludes 0; otherwise these "
        "folds do not separate the two.",
        "",
        "| task | vs scratch | vs RF Magpie | vs RF same feats |",
        "|---|---|---|---|",
    ]
    for task, r in rows.items():
        paired = r.get("paired") or {}
        cells = []
        for key in controls:
            p = paired.get(key)
            if p is None:
                cells.append("—")
                continue
            verdict = " **better**" if p["ci_low"] > 0 else " **worse**" if p["ci_high"] < 0 else ""
            cells.append(
                f"{p['mean_gain']:+.3g} [{p['ci_low']:+.3g}, {p['ci_high']:+.3g}], "
                f"{p['folds_better']}/{p['folds']}{verdict}"
            )
        lines.append(f"| {task.removeprefix('matbench_')} | " + " | ".join(cells) + " |")
    return lines


def _seconds(row: dict) -> str:
    """Median fine-tuning seconds per fold and how many candidate modes that covers."""
    secs = row.get("finetune_seconds_per_fold_median")
    if secs is None:
        return "—"
    text = f"{secs:.0f} ({len(row.get('candidate_modes') or [])} modes)"
    entry = row.get("finetune_entry_seconds_per_fold_median")
    return text if entry is None else f"{text}; whole entry ~{entry:.0f}"


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def plot(rows: dict[str, dict], path: Path) -> None:
    """Error of each entry relative to the in-run RF on Magpie (1 = RF; lower is better).

    Regression: MAE / MAE(RF). Classification: (1 - AUC) / (1 - AUC(RF)).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(rows)
    keys = ("model_pretrained", "model_scratch", "rf_same_features")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(tasks) + 2), 4.2))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        vals = []
        for t in tasks:
            r, rf = rows[t][key], rows[t]["rf_scm_magpie"]
            if r is None or rf is None:
                vals.append(np.nan)
            elif rows[t]["metric"] == "mae":
                vals.append(r / rf)
            else:
                vals.append((1 - r) / max(1e-9, 1 - rf))
        ax.bar(np.arange(len(tasks)) + i * width, vals, width, label=ENTRY_LABELS[key])
    ax.axhline(1.0, color="k", lw=1, ls="--", label="RF on Magpie")
    ax.set_xticks(np.arange(len(tasks)) + width)
    ax.set_xticklabels([t.removeprefix("matbench_") for t in tasks], rotation=30, ha="right")
    ax.set_ylabel("error relative to RF on Magpie")
    ax.set_title("Matbench v0.1 (composition only), official folds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the tasks, then write ``<results>/matbench_all.{json,md,png}``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", type=Path, required=True, help="pretrained checkpoint")
    p.add_argument("--tasks", nargs="+", default=None, help="subset (default: all 13)")
    p.add_argument("--recipe", type=Path, default=None, help="recipe YAML (default: shipped)")
    p.add_argument("--data-dir", type=Path, default=Path("data/matbench"))
    p.add_argument("--out", type=Path, default=Path("results/bench/transfer"), help="per task")
    p.add_argument("--results", type=Path, default=Path("results/bench"), help="summary folder")
    p.add_argument("--folds", type=int, nargs="+", default=None, help="subset of folds")
    p.add_argument("--seeds", type=int, default=1, help="networks per model entry (seed ensemble)")
    p.add_argument(
        "--combine",
        default=None,
        help="pick (the mode with the lowest inner-validation error) or all (every mode's "
        "networks averaged); default: the recipe's",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="processes training a fold's networks at once"
    )
    p.add_argument(
        "--force", action="store_true", help="rerun tasks already done (finished folds are read)"
    )
    p.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="train every fold again (default: read the folds a run with the same settings "
        "finished, from <out>/<task>.folds/)",
    )
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: rebuild the summary from the task JSONs already in --out",
    )
    args = p.parse_args(argv)
    if not args.pretrained.is_file():
        print(f"matbench_all: error: {args.pretrained} not found.", file=sys.stderr)
        return 2
    tasks = [canonical_name(t) for t in (args.tasks or list(CRABNET_STEMS))]
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = {}
    for task in [] if args.report_only else tasks:
        results[task] = run_task(task, args.pretrained, args.out, args)
    # the summary holds every task done so far with this checkpoint, in the canonical order
    digest = file_sha256(args.pretrained)
    for task in CRABNET_STEMS:
        path = args.out / f"{task}.json"
        if task not in results and path.exists():
            done = json.loads(path.read_text())
            if done.get("pretrained_sha256") == digest:
                results[task] = done
    ordered = {t: results[t] for t in CRABNET_STEMS if t in results}
    rows = summarize(ordered)
    seconds = sum(r["seconds"] for r in ordered.values())
    summary = {
        "pretrained": str(args.pretrained),
        "pretrained_sha256": digest,
        "leaderboard_source": LEADERBOARD_SOURCE,
        "tasks_missing": [t for t in CRABNET_STEMS if t not in ordered],
        "tasks": rows,
        "across_tasks": across_tasks(rows),
        "seconds_total": seconds,
        "seconds_this_call": time.perf_counter() - start,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "matbench_all.json").write_text(json.dumps(summary, indent=2))
    text = markdown(rows, args.pretrained, digest, seconds)
    if summary["tasks_missing"]:
        missing = ", ".join(t.removeprefix("matbench_") for t in summary["tasks_missing"])
        text += f"\nNot run yet: {missing}.\n"
    (args.results / "matbench_all.md").write_text(text)
    plot(rows, args.results / "matbench_all.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
