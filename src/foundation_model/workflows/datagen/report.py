"""Run summary (JSON + Markdown) and plots of a ``fm datagen`` run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from foundation_model.utils.atomic import write_text
from foundation_model.workflows.datagen.io import atomic_write_json, read_frames


def _rejections(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    return dict(Counter(r["reason"] for r in json.loads(path.read_text())))


def summarize(pipeline: Any, state: Any) -> dict[str, Any]:
    """Counts, rejections by reason, ensembles, MC acceptance and timings of a run."""
    stages = state.data["stages"]
    trajs = state.data["trajectories"]
    attempted = sum(t["mc_attempted"] for t in trajs.values())
    accepted = sum(t["mc_accepted"] for t in trajs.values())
    return {
        "output_dir": str(pipeline.output_dir),
        "config_hash": state.data["config_hash"],
        "n_seeds": stages["generate"].get("n_seeds", 0),
        "rejections": _rejections(pipeline.path("rejections.json")),
        "n_trajectories": len(trajs),
        "failed_trajectories": dict(state.data["failed"]),
        "stopped_trajectories": {k: t["stopped"] for k, t in trajs.items() if t["stopped"]},
        "ensembles": dict(Counter(f"{t['ensemble']}:{t['dynamics']}" for t in trajs.values())),
        "mc_acceptance": accepted / attempted if attempted else None,
        "n_frames": stages["sample"].get("n_frames", 0),
        "n_samples": stages["sample"].get("n_samples", 0),
        "n_rows": stages["store"].get("n_rows", 0),
        "database": str(pipeline.path(pipeline.store.filename)),
        "stage_seconds": {k: v.get("seconds") for k, v in stages.items()},
        "this_run_seconds": {k: round(v, 3) for k, v in pipeline.timings.items()},
        "skipped_this_run": list(pipeline.skipped),
        "complete": all(v["done"] for v in stages.values()),
    }


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a Markdown page."""
    lines = [
        f"# fm datagen run `{summary['output_dir']}`",
        "",
        f"- config hash: `{summary['config_hash']}`; complete: {summary['complete']}",
        f"- seeds: {summary['n_seeds']}; rejected: {summary['rejections'] or 'none'}",
        f"- trajectories: {summary['n_trajectories']} ({summary['ensembles']}); "
        f"failed: {len(summary['failed_trajectories'])}; "
        f"stopped by a guard: {len(summary['stopped_trajectories'])}",
        "- MC swap acceptance: "
        + (
            "no swap attempted"
            if summary["mc_acceptance"] is None
            else f"{summary['mc_acceptance']:.1%}"
        ),
        f"- frames: {summary['n_frames']} -> samples: {summary['n_samples']} -> "
        f"database rows: {summary['n_rows']} (`{summary['database']}`)",
        "",
        "| stage | seconds (when run) | this invocation |",
        "|---|---|---|",
    ]
    for stage, sec in summary["stage_seconds"].items():
        now = summary["this_run_seconds"].get(stage, "skipped")
        lines.append(f"| {stage} | {sec} | {now} |")
    if summary["stopped_trajectories"]:
        lines += ["", "Stopped trajectories (crashed structures in `crashed/`):", ""]
        lines += [f"- {k}: {v}" for k, v in summary["stopped_trajectories"].items()]
    return "\n".join(lines) + "\n"


def plot_traces(pipeline: Any, path: Path) -> Path | None:
    """Energy per atom and instantaneous temperature against MD step, per trajectory."""
    from foundation_model.plotting._figure import new_figure, save

    files = sorted(pipeline.path("trajectories").glob("*.extxyz"))
    if not files:
        return None
    fig, (ax_e, ax_t) = new_figure(2)
    for f in files[:20]:
        frames = read_frames(f)
        if not frames:
            continue
        steps = [a.info["md_step"] for a in frames]
        ax_e.plot(
            steps, [a.info["energy"] / len(a) for a in frames], marker=".", lw=1, label=f.stem
        )
        ax_t.plot(steps, [a.info["instant_temperature_K"] for a in frames], marker=".", lw=1)
    ax_e.set(xlabel="MD step", ylabel="energy (eV/atom)", title="energy traces")
    ax_e.legend(fontsize=6, ncol=2)
    ax_t.set(xlabel="MD step", ylabel="temperature (K)", title="temperature traces")
    return save(fig, path)


def plot_descriptor_map(pipeline: Any, path: Path) -> Path | None:
    """First two principal components of every frame's descriptor; sampled frames marked."""
    from foundation_model.plotting._figure import new_figure, save

    desc, info = pipeline.path("descriptors.npy"), pipeline.path("sampling.json")
    if not desc.is_file() or not info.is_file():
        return None
    x = np.load(desc)
    chosen = json.loads(info.read_text())["chosen"]
    z = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    xy = z @ vt[:2].T if vt.shape[0] >= 2 else np.c_[z @ vt[:1].T, np.zeros(len(z))]
    fig, (ax,) = new_figure(1, (5.0, 4.5))
    ax.scatter(xy[:, 0], xy[:, 1], s=8, c="0.7", label=f"all frames ({len(x)})")
    ax.scatter(xy[chosen, 0], xy[chosen, 1], s=18, c="C3", label=f"sampled ({len(chosen)})")
    ax.set(xlabel="PC 1", ylabel="PC 2", title="descriptor space")
    ax.legend(fontsize=8)
    return save(fig, path)


def write_report(pipeline: Any, state: Any) -> dict[str, Any]:
    """Write ``summary.json``, ``summary.md`` and the plots; returns the summary."""
    summary = summarize(pipeline, state)
    if pipeline.plots:
        plots = [
            plot_traces(pipeline, pipeline.path("plots/traces.png")),
            plot_descriptor_map(pipeline, pipeline.path("plots/descriptor_map.png")),
        ]
        summary["plots"] = [str(p) for p in plots if p is not None]
    atomic_write_json(pipeline.path("summary.json"), summary)
    write_text(markdown(summary), pipeline.path("summary.md"))
    return summary
