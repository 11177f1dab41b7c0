"""Wall time of one transfer fold with its networks trained in 1 vs N worker processes.

Usage (from the repository root)::

    uv run python benchmarks/finetune_workers.py                     # expt_gap + steels, fold 0
    uv run python benchmarks/finetune_workers.py --tasks steels --repeats 1 --out /tmp/fw

Each round runs ``fm bench matbench --pretrained CKPT --folds F --no-resume`` once per
``--workers`` setting, alternating the order between rounds, and reads from the fold's
record: ``seconds_finetune_all_modes`` (wall time until every fine-tuning mode finished:
the issue's "fine-tuning one fold"), the scratch network's own seconds and the fold's
whole wall time (RFs included). The chosen mode and the validation errors are kept too,
to show that the worker count does not change what is learnt. Ratios are taken within
a round and quoted as medians over rounds. Results go to ``<out>/finetune_workers.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from foundation_model.data.matbench import canonical_name
from foundation_model.features.table_io import write_json, write_text
from foundation_model.workflows.matbench_bench import BenchOptions, run_matbench

DEFAULT_CKPT = Path("results/pretrained/fm-base/model.ckpt")


def one_run(task: str, workers: int, args: argparse.Namespace, out: Path) -> dict:
    """One fold of ``task`` with ``workers`` processes; the numbers this study reads."""
    t0 = time.perf_counter()
    result = run_matbench(
        BenchOptions(
            task=task,
            out_dir=out,
            pretrained=args.pretrained,
            folds=[args.fold],
            data_dir=args.data_dir,
            seeds=args.seeds,
            workers=workers,
            resume=False,
            progress=False,
        )
    )
    wall = time.perf_counter() - t0
    if result["failed_folds"]:
        raise RuntimeError(f"{task} fold {args.fold} failed: {result['failed_folds'][0]}")
    fold = result["folds"][0]
    return {
        "workers": workers,
        "seconds_finetune_all_modes": fold["seconds_finetune_all_modes"],
        "seconds_scratch_network": fold["seconds_scratch"],
        "seconds_extra_seeds": fold["seconds_extra_seeds"],
        "seconds_fold": wall,
        "mode": fold["mode"],
        "val_task_error": fold["val_task_error"],
        "score_pretrained": result["model_pretrained"]["mean"],
        "score_scratch": result["model_scratch"]["mean"],
    }


def markdown(report: dict) -> str:
    """The report as Markdown."""
    settings = report["workers"]
    lines = [
        "# Transfer fold wall time by worker processes",
        "",
        f"`fm bench matbench --pretrained {report['pretrained']} --folds {report['fold']} "
        f"--seeds {report['seeds']} --workers N`; {report['repeats']} rounds, order "
        f"alternated; {report['cpus']} CPUs, torch threads shared among the workers. "
        "Medians over rounds; ratios are taken within a round. `fine-tune` is the wall time "
        "until every fine-tuning mode finished (the scratch network queued behind them); "
        "`fold` is the whole fold (RFs included).",
        "",
        "| task | workers | fine-tune (s) | fold (s) | fine-tune vs 1 worker | fold vs 1 worker "
        "| modes chosen | pretrained score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, t in report["tasks"].items():
        for w in settings:
            s = t["summary"][str(w)]
            lines.append(
                f"| {task} | {w} | {s['finetune_median']:.1f} | {s['fold_median']:.1f} | "
                f"{s['finetune_ratio_median']:.2f} | {s['fold_ratio_median']:.2f} | "
                f"{', '.join(s['modes'])} | {', '.join(f'{v:.4g}' for v in s['scores'])} |"
            )
    lines += ["", f"Made by `benchmarks/finetune_workers.py` in {report['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and write the report."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=["expt_gap", "steels"])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="settings compared")
    p.add_argument("--repeats", type=int, default=3, help="rounds")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1, help="networks per model entry")
    p.add_argument("--pretrained", type=Path, default=DEFAULT_CKPT)
    p.add_argument("--data-dir", type=Path, default=Path("data/matbench"))
    p.add_argument("--out", type=Path, default=Path("results/bench"))
    args = p.parse_args(argv)
    if not args.pretrained.is_file():
        print(f"finetune_workers: error: {args.pretrained} not found.", file=sys.stderr)
        return 2
    if 1 not in args.workers:
        print("finetune_workers: error: --workers must include 1 (the reference).", file=sys.stderr)
        return 2
    start = time.perf_counter()
    report: dict = {
        "pretrained": str(args.pretrained),
        "fold": args.fold,
        "seeds": args.seeds,
        "repeats": args.repeats,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "tasks": {},
    }
    with tempfile.TemporaryDirectory(prefix="fm-workers-") as tmp:
        for task in (canonical_name(t) for t in args.tasks):
            rounds = []
            for r in range(args.repeats):
                order = args.workers if r % 2 == 0 else list(reversed(args.workers))
                runs = {w: one_run(task, w, args, Path(tmp)) for w in order}
                rounds.append({str(w): runs[w] for w in args.workers})
                print(
                    f"{task} round {r}: "
                    + ", ".join(
                        f"{w} workers {runs[w]['seconds_finetune_all_modes']:.0f} s"
                        for w in args.workers
                    ),
                    flush=True,
                )
            summary = {}
            for w in args.workers:
                runs = [rd[str(w)] for rd in rounds]
                refs = [rd["1"] for rd in rounds]
                summary[str(w)] = {
                    "finetune_median": statistics.median(
                        x["seconds_finetune_all_modes"] for x in runs
                    ),
                    "fold_median": statistics.median(x["seconds_fold"] for x in runs),
                    "finetune_ratio_median": statistics.median(
                        x["seconds_finetune_all_modes"] / ref["seconds_finetune_all_modes"]
                        for x, ref in zip(runs, refs, strict=True)
                    ),
                    "fold_ratio_median": statistics.median(
                        x["seconds_fold"] / ref["seconds_fold"]
                        for x, ref in zip(runs, refs, strict=True)
                    ),
                    "modes": sorted({x["mode"] for x in runs}),
                    "scores": sorted({round(x["score_pretrained"], 6) for x in runs}),
                }
            report["tasks"][task] = {"rounds": rounds, "summary": summary}
    report["seconds"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(report, args.out / "finetune_workers.json")
    write_text(markdown(report), args.out / "finetune_workers.md")
    print(markdown(report))
    print(json.dumps({t: v["summary"] for t, v in report["tasks"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
