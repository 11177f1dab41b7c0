"""``fm datagen run`` end to end (EMT): database content, resume after a kill, Dask, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.db import connect

from foundation_model.cli.main import main
from foundation_model.workflows.datagen.io import read_frames

# the sample configs sample with SOAP descriptors
pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "datagen" / "cu_al_alloy.yaml"
SMALL = [
    "--explore.steps=20",
    "--explore.temperatures=[800]",
    "--executor.progress=false",
    "--plots=false",
]
RANDOM = [
    "--sample=foundation_model.workflows.datagen.samplers.RandomSampler",
    "--sample.n_samples=4",
]


@pytest.fixture(scope="module")
def emt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("datagen") / "run"
    argv = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={out}", *SMALL]
    assert main([*argv, "--sample.n_samples=6", "--plots=true"]) == 0
    return out


def test_end_to_end_database_differs_from_seeds_with_labels_and_provenance(emt_run: Path) -> None:
    seeds = {a.info["seed_id"]: a for a in read_frames(emt_run / "initial_structures.extxyz")}
    assert len(seeds) == 6  # 2 alloys + 1 slab, each with one strained copy
    with connect(emt_run / "dataset.db") as db:
        rows = list(db.select())
    assert len(rows) == 6
    for row in rows:
        atoms = row.toatoms()
        seed = seeds[row.seed_id]
        assert len(atoms) == len(seed)
        assert np.abs(atoms.positions - seed.positions).max() > 0.01  # MD moved the atoms
        assert row.energy != pytest.approx(float(seed.info.get("energy", np.nan)))
        assert row.forces.shape == (len(atoms), 3)
        assert row.md_step in (10, 20) and row.temperature_K == 800.0
        for key in ("generator", "traj_id", "ensemble", "dynamics", "sampler", "labels_from"):
            assert key in row.key_value_pairs, key
        assert (
            row.labels_from == "EMT"
            and row.explore_calculator == "EMT"
            and len(row.config_hash) == 16
        )
        assert row.package_version and row.sampler == "FPSSampler"
        assert json.loads(row.explorer_settings)["steps"] == 20
        if row.ensemble == "npt":
            assert row.stress.shape == (6,) and np.abs(row.stress).max() < 1.0  # eV/Å³
    summary = json.loads((emt_run / "summary.json").read_text())
    assert summary["complete"] and summary["n_rows"] == 6
    assert set(summary["ensembles"]) == {"npt:LangevinBAOAB", "nvt:Langevin"}
    assert (emt_run / "plots" / "traces.png").is_file()
    assert (emt_run / "plots" / "descriptor_map.png").is_file()
    assert "database rows: 6" in (emt_run / "summary.md").read_text()


def test_datagen_database_reads_with_the_mlip_reader(emt_run: Path) -> None:
    """``MLIPDataModule(train_path=<db>)`` reads via ``read_structures`` + ``extract_labels``."""
    from foundation_model.backbones.data import extract_labels, read_structures
    from foundation_model.backbones.properties import (
        EnergyProperty,
        ForcesProperty,
        StressProperty,
    )

    structures = read_structures(emt_run / "dataset.db")
    assert len(structures) == 6
    for atoms in structures:
        props = [EnergyProperty(), ForcesProperty()]
        props += [StressProperty()] if atoms.info["ensemble"] == "npt" else []
        labels = extract_labels(atoms, props)
        assert labels["forces"].shape == (len(atoms), 3)
        assert labels["energy"] == pytest.approx(atoms.get_potential_energy())
        assert atoms.info["traj_id"]  # provenance travels into the training set


@pytest.mark.slow
def test_datagen_database_feeds_fm_fit(emt_run: Path, tmp_path: Path) -> None:
    """One epoch of ``fm fit`` (MLIPDataModule + tiny SchNet) on the datagen database."""
    import yaml

    from foundation_model.backbones import MLIPDataModule

    dm = MLIPDataModule(train_path=str(emt_run / "dataset.db"), split_fractions=[0.5, 0.5, 0.0])
    assert sum(len(v) for v in dm.load().values()) == 6
    cfg = yaml.safe_load(
        (ROOT / "samples/generated_configs/mlip_sevennet_finetune.yaml").read_text()
    )
    init = cfg["model"]["init_args"]
    init["backbone"] = {
        "class_path": "foundation_model.backbones.SchNetBackbone",
        "init_args": {"cutoff": 4.0, "hidden": 16, "num_interactions": 2, "num_rbf": 12},
    }
    init["properties"] = init["properties"][:2]  # slabs carry no stress: energy + forces
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump(cfg))
    args = [
        "fit",
        "--config",
        str(config),
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--data.init_args.train_path={emt_run / 'dataset.db'}",
        "--data.init_args.split_fractions=[0.5,0.5,0.0]",
        "--data.init_args.batch_size=2",
    ]
    assert main(args) == 0
    assert sorted(tmp_path.glob("**/checkpoints/last.ckpt"))


def test_finished_run_resumes_without_redoing_anything(
    emt_run: Path, tmp_path: Path, capsys
) -> None:
    db_mtime = (emt_run / "dataset.db").stat().st_mtime_ns
    argv = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={emt_run}", *SMALL]
    assert main([*argv, "--sample.n_samples=6", "--plots=true", "--resume"]) == 0
    summary = json.loads((emt_run / "summary.json").read_text())
    assert set(summary["skipped_this_run"]) == {"generate", "explore", "sample", "store"}
    assert summary["this_run_seconds"] == {}
    assert (emt_run / "dataset.db").stat().st_mtime_ns == db_mtime
    assert main(argv + ["--sample.n_samples=6", "--plots=true"]) == 2  # no --resume
    assert "already holds a run" in capsys.readouterr().err
    # a new sampler setting (on a copy): generation and exploration kept, sample + store redone
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(emt_run, copy)
    argv = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={copy}", *SMALL]
    assert main([*argv, "--sample.n_samples=7", "--plots=true", "--resume"]) == 0
    summary = json.loads((copy / "summary.json").read_text())
    assert set(summary["skipped_this_run"]) == {"generate", "explore"}
    assert summary["n_rows"] == 7 and summary["n_frames"] == 12


def test_resume_after_kill_redoes_nothing_finished(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    args = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={out}", *SMALL, *RANDOM]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    code = "import sys; from foundation_model.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = out / "state.json"
    deadline = time.time() + 120
    done: dict = {}
    while time.time() < deadline and proc.poll() is None:
        if state.is_file():
            done = json.loads(state.read_text())["trajectories"]
            if len(done) >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads(state.read_text())["trajectories"]
    assert 2 <= len(done) < 6, "the run was not interrupted mid-exploration"
    stamps = {k: (out / f"trajectories/{k}.extxyz").stat().st_mtime_ns for k in done}
    seeds_mtime = (out / "initial_structures.extxyz").stat().st_mtime_ns
    assert main([*args, "--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "generate" in summary["skipped_this_run"]
    skipped = {s.split(":", 1)[1] for s in summary["skipped_this_run"] if ":" in s}
    assert skipped >= set(done)
    assert {k: (out / f"trajectories/{k}.extxyz").stat().st_mtime_ns for k in done} == stamps
    assert (out / "initial_structures.extxyz").stat().st_mtime_ns == seeds_mtime
    assert summary["n_trajectories"] == 6 and summary["n_rows"] == 4


FLAKY = """
from ase.calculators.emt import EMT


class SlabFails(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if atoms is not None and not atoms.pbc.all():
            raise RuntimeError("injected failure for a slab")
        kwargs = {} if system_changes is None else {"system_changes": system_changes}
        super().calculate(atoms, properties, **kwargs)
"""


def test_failed_trajectories_are_said_on_the_console(tmp_path, monkeypatch, capsys) -> None:
    """A run whose slab trajectories fail goes on, and says so (it ended with a summary
    line that did not mention them)."""
    (tmp_path / "flaky_calc.py").write_text(FLAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    calc = json.dumps(
        {
            "class_path": "foundation_model.workflows.datagen.calculators.ImportedCalculatorSpec",
            "init_args": {"import_path": "flaky_calc.SlabFails", "cutoff": 5.0},
        }
    )
    out = tmp_path / "run"
    args = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={out}", *SMALL, *RANDOM]
    assert main([*args, f"--explore.init_args.calculator={calc}"]) == 0
    err = capsys.readouterr().err
    assert "[fm datagen] warning: 2 of 6 trajectories failed (e.g. " in err
    assert "RuntimeError: injected failure for a slab); the run goes on" in err
    assert len(json.loads((out / "state.json").read_text())["failed"]) == 2


def test_dask_local_cluster_run(tmp_path: Path) -> None:
    """The pipeline on a Dask LocalCluster (one per session).

    ``local_cluster_processes=false``: the two workers are threads of this process. Worker
    processes took ~45 s to start and run here (2 shared cores), threads ~10 s; the
    scheduler path (``Client.submit`` / ``as_completed`` / failure capture) is the same, and
    pickling of tasks is covered by the process-pool test of the executor.
    """
    out = tmp_path / "dask"
    args = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={out}", *SMALL, *RANDOM]
    dask = [
        "--executor.backend=dask",
        "--executor.n_workers=2",
        "--executor.local_cluster_processes=false",
    ]
    assert main([*args, *dask]) == 0
    state = json.loads((out / "state.json").read_text())
    assert len(state["trajectories"]) == 6 and not state["failed"]
    with connect(out / "dataset.db") as db:
        assert db.count() == 4


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--explore.temperatures=[300,-10]", "temperatures must be > 0"),
        ("--generate.validator.min_width_factor=0", "min_width_factor must be > 0"),
        ("--sample.n_samples=0", "n_samples must be >= 1"),
        ("--explore.no_such_key=1", "MDExplorer has no parameter 'no_such_key'"),
        ("--sample.descriptor.species=[Cu]", "miss ['Al']"),
        (
            "--generate.generators.elements=[Cu,Fe]",
            "EMT (ASE's effective-medium potential) has no parameters for ['Fe']",
        ),
    ],
)
def test_config_errors_are_one_line(override: str, message: str, tmp_path: Path, capsys) -> None:
    argv = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={tmp_path}", override]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_new_run_never_overwrites_files_it_did_not_write(tmp_path: Path, capsys) -> None:
    """An existing database at the store's path, or run outputs without a state.json, are
    refused before any work; the files stay as they were."""
    db = tmp_path / "mine.db"
    db.write_bytes(b"precious")
    out = tmp_path / "run"
    argv = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={out}", *SMALL]
    assert main([*argv, f"--store.filename={db}"]) == 2
    assert "mine.db already exists" in capsys.readouterr().err
    assert db.read_bytes() == b"precious" and not (out / "state.json").exists()
    out.mkdir()
    (out / "samples.extxyz").write_text("kept")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "already holds samples.extxyz but no state.json" in err
    assert (out / "samples.extxyz").read_text() == "kept"


def test_a_bad_override_is_blamed_on_the_command_line_a_bad_file_on_the_file(
    tmp_path: Path, capsys
) -> None:
    argv = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={tmp_path / 'o'}"]
    assert main([*argv, "--explore.init_args.steps=abc"]) == 2
    err = capsys.readouterr().err
    assert "Got value: abc (command-line argument)" in err and "cu_al_alloy.yaml" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(SAMPLE.read_text().replace("steps: 60", "steps: abc"))
    assert main(["datagen", "run", "--config", str(bad), f"--output_dir={tmp_path / 'o'}"]) == 2
    assert f"(config {bad})" in capsys.readouterr().err
    # a misspelt key: on the command line, or in the file
    assert main([*argv, "--explore.init_args.temperature=300"]) == 2
    err = capsys.readouterr().err
    assert "no parameter 'temperature'" in err and "(command-line argument)" in err
    bad.write_text(SAMPLE.read_text().replace("temperatures:", "temperature:"))
    assert main(["datagen", "run", "--config", str(bad), f"--output_dir={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err
    assert "no parameter 'temperature'" in err and f"(config {bad})" in err


def test_unreachable_dask_scheduler_is_one_line_and_keeps_the_run(tmp_path: Path, capsys) -> None:
    """Nothing listens at the address: one line naming the key and the fix, at once (not
    after Dask's 30 s connect timeout), and the finished stages stay for --resume."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "run"
    args = ["datagen", "run", "--config", str(SAMPLE), f"--output_dir={out}", *SMALL, *RANDOM]
    dask = ["--executor.backend=dask", f"--executor.scheduler_address=tcp://127.0.0.1:{port}"]
    start = time.perf_counter()
    assert main([*args, *dask]) == 2
    assert time.perf_counter() - start < 25
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("fm datagen: error: executor.init_args.scheduler_address: could not")
    assert f"tcp://127.0.0.1:{port}" in err and "`dask scheduler`" in err
    assert "dask-jobqueue" in err and "fix the address" in err
    seeds = out / "initial_structures.extxyz"
    stamp = seeds.stat().st_mtime_ns
    assert main([*args, *dask, "--resume", f"--executor.scheduler_address=127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "could not connect to a Dask scheduler at 127.0.0.1:" in err
    state = json.loads((out / "state.json").read_text())
    assert state["stages"]["generate"]["done"] and seeds.stat().st_mtime_ns == stamp
    assert main([*args, "--resume"]) == 0  # the same run finishes in-process
