"""``benchmarks/matbench_all.py`` resumes from finished tasks and writes the summary table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmark_scripts import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
CKPT = ROOT / "results" / "pretrained" / "fm-base" / "model.ckpt"
DONE = ROOT / "results" / "bench" / "transfer_v1"


def _module():
    return load_benchmark("matbench_all")


def test_finished_tasks_are_read_not_rerun_and_summarised(tmp_path, monkeypatch):
    bench = _module()
    digest = bench.file_sha256(CKPT)
    out = tmp_path / "transfer"
    out.mkdir()
    for task in ("matbench_steels", "matbench_expt_gap"):
        done = json.loads((DONE / f"{task}.json").read_text())
        assert done["pretrained_sha256"] == digest  # shipped results belong to the shipped model
        shutil.copy(DONE / f"{task}.json", out)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished task was run again")

    monkeypatch.setattr("foundation_model.workflows.matbench_bench.run_matbench", refuse)
    argv = ["--pretrained", str(CKPT), "--tasks", "steels", "expt_gap", "--out", str(out)]
    argv += ["--results", str(tmp_path), "--data-dir", str(tmp_path / "no-data")]
    assert bench.main(argv) == 0
    summary = json.loads((tmp_path / "matbench_all.json").read_text())
    assert set(summary["tasks"]) == {"matbench_steels", "matbench_expt_gap"}
    assert len(summary["tasks_missing"]) == 11
    steels = summary["tasks"]["matbench_steels"]
    assert steels["beats_scratch"] == (steels["model_pretrained"] < steels["model_scratch"])
    text = (tmp_path / "matbench_all.md").read_text()
    assert "commit bb3eebf" in text and "| steels | mae |" in text
    assert steels["candidate_modes"] == ["probe", "partial", "full"] and "(3 modes)" in text
    assert (tmp_path / "matbench_all.png").stat().st_size > 1000


def test_report_only_runs_nothing_and_adds_the_paired_table(tmp_path, monkeypatch):
    bench = _module()
    out = tmp_path / "transfer"
    out.mkdir()
    shutil.copy(DONE / "matbench_steels.json", out)

    def refuse(*args, **kwargs):
        raise AssertionError("--report-only ran a task")

    monkeypatch.setattr(bench, "run_task", refuse)
    argv = ["--pretrained", str(CKPT), "--tasks", "glass", "--out", str(out), "--report-only"]
    assert bench.main([*argv, "--results", str(tmp_path)]) == 0  # glass is not run
    summary = json.loads((tmp_path / "matbench_all.json").read_text())
    assert list(summary["tasks"]) == ["matbench_steels"]
    paired = summary["tasks"]["matbench_steels"]["paired"]
    assert set(paired) == {"model_scratch", "rf_scm_magpie", "rf_same_features"}
    assert all(p["ci_low"] < p["mean_gain"] < p["ci_high"] for p in paired.values())
    assert "| steels | " in (tmp_path / "matbench_all.md").read_text().split("Fold by fold")[1]


def test_across_tasks_counts_wins_and_tests_them():
    bench = _module()
    rows = {}
    for i in range(9):  # nine MAE tasks the pretrained model wins by 10 %
        rows[f"t{i}"] = {
            "metric": "mae",
            "model_pretrained": 0.9,
            "model_scratch": 1.0,
            "rf_scm_magpie": 1.0,
            "rf_same_features": 0.8,
        }
    rows["auc"] = {  # one ROC-AUC task it loses: 0.8 vs 0.9, error 0.1 -> gain -100 %
        "metric": "roc_auc",
        "model_pretrained": 0.8,
        "model_scratch": 0.9,
        "rf_scm_magpie": 0.9,
        "rf_same_features": None,  # a control not run is left out
    }
    out = bench.across_tasks(rows)
    s = out["model_scratch"]
    assert (s["tasks"], s["tasks_better"]) == (10, 9)
    assert s["sign_test_p"] == 22 / 1024  # two-sided binomial: 2 * (1 + 10) / 2**10
    assert abs(s["median_relative_gain"] - 0.1) < 1e-9
    same = out["rf_same_features"]
    assert (same["tasks"], same["tasks_better"]) == (9, 0) and same["sign_test_p"] < 0.01
    text = "\n".join(bench._across_lines(out))
    assert "| scratch | 9 of 10 | +10.0% | 0.0215 |" in text


def test_averaged_modes_read_as_one_phrase_in_the_modes_column(tmp_path):
    bench = _module()
    averaged = json.loads((ROOT / "results/bench/transfer_all/matbench_steels.json").read_text())
    picked = json.loads((DONE / "matbench_steels.json").read_text())
    rows = bench.summarize({"matbench_steels": averaged})
    assert bench._modes(rows["matbench_steels"]) == "all 4 averaged"
    rows = bench.summarize({"matbench_steels": picked})
    assert bench._modes(rows["matbench_steels"]) == ", ".join(f["mode"] for f in picked["folds"])


def test_the_budget_column_names_a_reduced_runs_epochs_trees_and_seeds():
    bench = _module()
    reduced = json.loads((ROOT / "results/bench/transfer/matbench_mp_gap.json").read_text())
    full = json.loads((ROOT / "results/bench/transfer_all/matbench_steels.json").read_text())
    rows = bench.summarize({"matbench_mp_gap": reduced, "matbench_steels": full})
    text = bench.markdown(rows, CKPT, "0" * 64, 1.0)
    mp_gap = next(line for line in text.splitlines() if line.startswith("| mp_gap |"))
    assert mp_gap.endswith("| reduced (8 epochs, 100-tree RFs), 1 seed |")
    steels = next(line for line in text.splitlines() if line.startswith("| steels |"))
    assert steels.endswith(f"| full, {full['recipe']['seeds']} seeds |")
    # networks at the full budget, forests with 100 trees: only the trees are reduced
    reduced["recipe"] = {**reduced["recipe"], "reduced_budget": False}
    text = bench.markdown(bench.summarize({"matbench_mp_gap": reduced}), CKPT, "0" * 64, 1.0)
    assert "| reduced (100-tree RFs), 1 seed |" in text


def test_the_time_column_adds_the_whole_fine_tuned_entry_where_recorded():
    bench = _module()
    run = json.loads((ROOT / "results/bench/transfer_all/matbench_steels.json").read_text())
    assert bench._seconds(bench.summarize({"s": run})["s"]).endswith("(4 modes)")  # not recorded
    for i, fold in enumerate(run["folds"]):  # 8 networks, 2 workers: half the summed time
        fold["network_seconds"] = {"model_pretrained": 100.0 + 20 * i, "model_scratch": 50.0}
        fold["networks_trained"] = {"model_pretrained": 8, "model_scratch": 8}
        fold["workers"] = 2
    row = bench.summarize({"s": run})["s"]
    assert row["finetune_entry_seconds_per_fold_median"] == 70.0  # median of 50..90
    assert bench._seconds(row).endswith("(4 modes); whole entry ~70")
