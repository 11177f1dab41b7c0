"""``benchmarks/calibration_ceiling.py``: whether any σ map of a signal can meet the goal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark_scripts import load_benchmark


def _run(path: Path, errors: str, seed: int = 0, n: int = 800, val_shrink: float = 1.0) -> None:
    """Two folds. ``gaussian``: errors ~ N(0, spread²); ``distance``: errors ~ N(0, d²) with
    a spread that knows nothing of them; ``cauchy``: heavy-tailed errors, uninformative
    spread. Validation errors are ``val_shrink`` times the test ones."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {}
    for k in (0, 1):
        for prefix, scale in (("val_", val_shrink), ("", 1.0)):
            # scales over a wide range: a mixture of them is heavy-tailed
            spread, d = np.exp(rng.uniform(-3.0, 1.0, (2, n)))
            if errors == "gaussian":
                err = spread * rng.standard_normal(n)
            elif errors == "distance":
                err = d * rng.standard_normal(n)
            else:
                err = rng.standard_cauchy(n)
            mu = rng.normal(size=n)
            arrays = {"y": mu + scale * err, "values": mu, "spread": spread, "latent_distance": d}
            for key, value in arrays.items():
                out.setdefault(prefix + key, []).append(value)
            out.setdefault(prefix + "fold", []).append(np.full(n, k))
    out["std"] = out["spread"]
    np.savez(path, **{key: np.concatenate(v) for key, v in out.items()})


def test_the_ceiling_tells_a_fit_problem_from_a_signal_problem(tmp_path):
    mod = load_benchmark("calibration_ceiling")
    runs = {
        e: tmp_path / f"matbench_{e}_uncertainty.npz" for e in ("gaussian", "distance", "cauchy")
    }
    for errors, path in runs.items():
        _run(path, errors)
    out = tmp_path / "ceiling"
    assert mod.main([*map(str, runs.values()), "--out", str(out)]) == 0
    rows = {r["task"]: r for r in json.loads(out.with_suffix(".json").read_text())["runs"]}
    # a Gaussian error whose scale the spread knows: some map (a = 1, b = 0) meets the goal
    assert rows["matbench_gaussian"]["spread"]["reachable"]
    assert rows["matbench_gaussian"]["own_sigma"]["in_goal"]
    # the error follows the distance: the spread alone cannot, spread + distance can
    assert not rows["matbench_distance"]["spread"]["reachable"]
    assert rows["matbench_distance"]["spread+distance"]["reachable"]
    # Cauchy errors and no signal: nothing reaches the goal
    assert not rows["matbench_cauchy"]["spread"]["reachable"]
    assert not rows["matbench_cauchy"]["spread+distance"]["reachable"]
    text = out.with_suffix(".md").read_text()
    assert "on 1 of 3 tasks" in text and "on 2 of 3" in text


def test_the_oracle_rescaling_undoes_optimistic_validation_rows(tmp_path):
    mod = load_benchmark("calibration_ceiling")
    path = tmp_path / "matbench_g_uncertainty.npz"
    _run(path, "gaussian", val_shrink=0.5)  # validation errors half the test errors
    a = dict(np.load(path))
    a["std"] = 0.5 * a["spread"]  # a σ fitted on the optimistic validation rows
    np.savez(path, **a)
    row = mod.evaluate(path)
    assert not row["own_sigma"]["in_goal"] and row["own_sigma_rescaled"]["in_goal"]


def test_missing_runs_are_a_one_line_error(tmp_path, capsys):
    mod = load_benchmark("calibration_ceiling")
    assert mod.main([str(tmp_path / "none.npz"), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().out
    assert "not found" in err and err.count("\n") == 1
