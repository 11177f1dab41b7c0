"""``DatagenPipeline``: the orchestrator of generate -> explore -> sample -> store.

Each stage is injected (chosen by ``class_path`` in YAML) and writes its output into
``output_dir``::

    state.json                  finished stages and trajectories (resume)
    initial_structures.extxyz   validated seeds;  rejections.json: refused ones + reasons
    trajectories/<id>.extxyz    sampled MD frames of each trajectory (labelled)
    crashed/<id>.extxyz         structures that tripped an explosion guard
    samples.extxyz              the chosen frames;  sampling.json: which and why
    dataset.db                  ASE database with labels and provenance
    summary.json, summary.md, plots/

With ``resume=True`` finished stages and finished trajectories are read back, never redone.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import ase
import numpy as np

from foundation_model.workflows.datagen.executor import TaskExecutor, TaskResult
from foundation_model.workflows.datagen.explore.explorer import MDExplorer, run_trajectory
from foundation_model.workflows.datagen.generation import GenerationStage
from foundation_model.workflows.datagen.io import atomic_write_json, read_frames, write_frames
from foundation_model.workflows.datagen.samplers.base import Sampler
from foundation_model.workflows.datagen.state import RunState
from foundation_model.workflows.datagen.storage import AseDatabaseStorage


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("foundation_model")
    except PackageNotFoundError:
        return "unknown"


class DatagenPipeline:
    """Training-data generation for interatomic potentials.

    Args:
        generate: seed generation (generators, augmentation, validator).
        explore: the explorer (MD / hybrid MD-MC); carries the calculator spec.
        sample: the sampler (random, FPS, DIRECT).
        store: the database writer (optionally relabelling with a reference calculator).
        executor: where tasks run (local processes or Dask).
        output_dir: run directory.
        seed: base seed of every random choice.
        plots: draw the summary plots.
    """

    def __init__(
        self,
        generate: GenerationStage,
        explore: MDExplorer,
        sample: Sampler,
        store: AseDatabaseStorage | None = None,
        executor: TaskExecutor | None = None,
        output_dir: str = "results/datagen/run",
        seed: int = 0,
        plots: bool = True,
    ) -> None:
        self.generate = generate
        self.explore = explore
        self.sample = sample
        self.store = store or AseDatabaseStorage()
        self.executor = executor or TaskExecutor()
        self.output_dir = Path(output_dir)
        self.seed = int(seed)
        self.plots = plots
        self.timings: dict[str, float] = {}
        self.skipped: list[str] = []
        self.check()

    def check(self) -> None:
        """Cross-stage validation: every element is known to the calculator and descriptor."""
        elements = self.generate.elements
        self.explore.calculator.check_elements(elements)
        if self.store.relabel is not None:
            self.store.relabel.check_elements(elements)
        species = getattr(getattr(self.sample, "descriptor", None), "species", None)
        missing = sorted(set(elements) - set(species or elements))
        if missing:
            raise ValueError(
                f"sample descriptor species {species} miss {missing}, which the generators emit."
            )

    # ----------------------------------------------------------------- configuration
    def settings(self) -> dict[str, Any]:
        """Scientific settings (not the executor): their hash identifies the run."""
        return {
            "generate": self.generate.to_dict(),
            "explore": self.explore.to_dict(),
            "sample": self.sample.to_dict(),
            "store": self.store.to_dict(),
            "seed": self.seed,
        }

    def config_hash(self) -> str:
        """Hash of every scientific setting (stored on each database row)."""
        return self.stage_hashes()["store"]

    def stage_hashes(self) -> dict[str, str]:
        """Cumulative hash per stage: a stage's hash changes with its settings or upstream's."""
        cfg = self.settings()
        parts = {
            "generate": [cfg["generate"], cfg["seed"], self.explore.calculator.cutoff],
            "explore": [cfg["explore"]],
            "sample": [cfg["sample"]],
            "store": [cfg["store"]],
        }
        out, previous = {}, ""
        for stage, items in parts.items():
            text = previous + json.dumps(items, sort_keys=True, default=_to_jsonable)
            previous = out[stage] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return out

    def path(self, name: str) -> Path:
        return self.output_dir / name

    def _open_state(self, resume: bool) -> RunState:
        state_path = self.path("state.json")
        if state_path.is_file():
            if not resume:
                raise ValueError(
                    f"{self.output_dir} already holds a run: pass --resume to continue it "
                    "or choose another output_dir."
                )
            state = RunState.load(state_path, self.stage_hashes())
            if state.invalidated:
                self._log(f"settings changed: redoing {', '.join(state.invalidated)}")
            return state
        self._refuse_foreign_outputs()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        state = RunState(state_path, self.stage_hashes())
        state.save()
        return state

    def _refuse_foreign_outputs(self) -> None:
        """A new run never overwrites files it did not write: an existing database at the
        store's path, or run outputs in ``output_dir`` without the ``state.json`` that would
        make them resumable."""
        database = self.path(self.store.filename)
        if database.exists():
            raise ValueError(
                f"{database} already exists and this new run would overwrite it: choose "
                "another output_dir or store.init_args.filename, or move the file."
            )
        ours = ["initial_structures.extxyz", "samples.extxyz", "trajectories", "summary.json"]
        found = [name for name in ours if self.path(name).exists()]
        if found:
            raise ValueError(
                f"{self.output_dir} already holds {', '.join(found)} but no state.json, so "
                "it is not a run that --resume can continue: choose another output_dir."
            )

    # ------------------------------------------------------------------------ stages
    def run(self, resume: bool = False) -> dict[str, Any]:
        """Run (or resume) every stage; returns the run summary."""
        state = self._open_state(resume)
        try:
            seeds = self._stage(state, "generate", self._generate)
            frames = self._stage(state, "explore", lambda s: self._explore(s, seeds))
            samples = self._stage(state, "sample", lambda s: self._sample(s, frames))
            self._stage(state, "store", lambda s: self._store(s, samples))
        finally:
            self.executor.close()
        from foundation_model.workflows.datagen.report import write_report

        return write_report(self, state)

    def _stage(self, state: RunState, name: str, fn: Any) -> Any:
        loaders = {
            "generate": lambda: read_frames(self.path("initial_structures.extxyz")),
            "explore": lambda: self.load_frames(state),
            "sample": lambda: read_frames(self.path("samples.extxyz")),
            "store": lambda: None,
        }
        if state.done(name):
            self.skipped.append(name)
            self._log(f"{name}: finished in an earlier run, skipped")
            return loaders[name]()
        self._log(f"{name}: running")
        start = time.perf_counter()
        out = fn(state)
        self.timings[name] = time.perf_counter() - start
        self._log(f"{name}: {self.timings[name]:.1f} s")
        if state.done(name):
            state.data["stages"][name]["seconds"] = round(self.timings[name], 3)
            state.save()
        return out

    def _log(self, message: str) -> None:
        if self.executor.progress:
            print(f"[fm datagen] {message}", file=sys.stderr, flush=True)

    def _generate(self, state: RunState) -> list[ase.Atoms]:
        seeds, rejected = self.generate.run(self.seed, self.explore.calculator.cutoff)
        atomic_write_json(self.path("rejections.json"), [r.to_dict() for r in rejected])
        if not seeds:
            reasons = sorted({f"{r.reason} ({r.detail})" for r in rejected})
            raise ValueError(f"Every generated structure was rejected: {reasons[:3]}.")
        write_frames(self.path("initial_structures.extxyz"), seeds)
        state.finish("generate", n_seeds=len(seeds), n_rejected=len(rejected))
        return read_frames(self.path("initial_structures.extxyz"))

    def trajectory_tasks(self, seeds: list[ase.Atoms]) -> list:
        return self.explore.tasks(seeds, self.seed)

    def _explore(self, state: RunState, seeds: list[ase.Atoms]) -> list[ase.Atoms]:
        tasks = self.trajectory_tasks(seeds)
        pending = [t for t in tasks if not state.trajectory_done(t.traj_id)]
        self.skipped += [f"trajectory:{t.traj_id}" for t in tasks if t not in pending]
        self._log(f"explore: {len(pending)} of {len(tasks)} trajectories to run")

        def save(result: TaskResult) -> None:
            task = pending[result.index]
            if not result.ok:
                state.fail_trajectory(task.traj_id, result.error)
                return
            traj = result.value
            if traj.frames:  # a trajectory stopped before its first kept frame has no file
                write_frames(self.path(f"trajectories/{traj.traj_id}.extxyz"), traj.frames)
            if traj.crashed is not None:
                write_frames(self.path(f"crashed/{traj.traj_id}.extxyz"), [traj.crashed])
            state.finish_trajectory(traj.traj_id, _trajectory_info(traj, task.atoms))

        self.executor.map(run_trajectory, pending, description="explore", on_result=save)
        failed = state.data["failed"]
        if failed and len(failed) == len(tasks):
            first = next(iter(failed.items()))
            raise RuntimeError(f"Every trajectory failed, e.g. {first[0]}: {first[1]}")
        if failed:  # shown with or without progress output: the run still goes on
            first_id, first_error = next(iter(failed.items()))
            print(
                f"[fm datagen] warning: {len(failed)} of {len(tasks)} trajectories failed "
                f"(e.g. {first_id}: {_first_line(first_error)}); the run goes on without "
                "them, their errors are in state.json and summary.md, and --resume retries "
                "them.",
                file=sys.stderr,
                flush=True,
            )
        else:
            state.finish("explore", n_trajectories=len(tasks))
        return self.load_frames(state)

    def load_frames(self, state: RunState) -> list[ase.Atoms]:
        """The frames of every finished trajectory of this run, in trajectory-id order."""
        frames = []
        for traj_id in sorted(state.data["trajectories"]):
            frames.extend(read_frames(self.path(f"trajectories/{traj_id}.extxyz")))
        return frames

    def _sample(self, state: RunState, frames: list[ase.Atoms]) -> list[ase.Atoms]:
        if not frames:
            raise RuntimeError("Exploration produced no frame to sample from.")
        chosen = self.sample.select(frames, self.seed)
        samples = [frames[i] for i in chosen]
        if len(samples) < self.sample.n_samples:
            print(  # shown with or without progress output
                f"[fm datagen] warning: n_samples={self.sample.n_samples} but exploration "
                f"gave {len(frames)} frames; kept {len(samples)} (more steps or "
                "temperatures give more frames)",
                file=sys.stderr,
                flush=True,
            )
        for rank, atoms in enumerate(samples):
            atoms.info["pick_rank"] = rank
        write_frames(self.path("samples.extxyz"), samples)
        if self.sample.features is not None:
            np.save(self.path("descriptors.npy"), self.sample.features)
        atomic_write_json(
            self.path("sampling.json"),
            {
                "sampler": self.sample.to_dict(),
                "n_frames": len(frames),
                "chosen": chosen,
                "ids": [f"{a.info.get('traj_id')}:{a.info.get('md_step')}" for a in samples],
            },
        )
        state.finish("sample", n_frames=len(frames), n_samples=len(samples))
        return samples

    def _store(self, state: RunState, samples: list[ase.Atoms]) -> None:
        if self.store.relabel is not None:
            samples = self._relabel(samples)
        provenance = {
            "sampler": type(self.sample).__name__,
            "explorer": type(self.explore).__name__,
            "labels_from": (self.store.relabel or self.explore.calculator).label,
            "explore_calculator": self.explore.calculator.label,
            "explorer_settings": json.dumps(
                {k: v for k, v in self.explore.init_args().items() if k != "calculator"},
                sort_keys=True,
                default=_to_jsonable,
            ),
            "config_hash": self.config_hash(),
            "package_version": _package_version(),
            "run_seed": self.seed,
        }
        n = self.store.write(self.path(self.store.filename), samples, provenance)
        state.finish("store", n_rows=n)

    def _relabel(self, samples: list[ase.Atoms]) -> list[ase.Atoms]:
        from foundation_model.workflows.datagen.labelling import LabelTask, label_structure

        tasks = [LabelTask(a, self.store.relabel) for a in samples]
        results = self.executor.map(label_structure, tasks, description="relabel")
        bad = [r for r in results if not r.ok]
        if bad:
            raise RuntimeError(f"Relabelling failed for {len(bad)} frames: {bad[0].error}")
        return [r.value for r in results]  # info (provenance) travels with the copies


def _trajectory_info(traj: Any, seed: ase.Atoms) -> dict[str, Any]:
    return {
        "seed_id": seed.info.get("seed_id"),
        "n_frames": len(traj.frames),
        "steps": traj.steps,
        "ensemble": traj.ensemble,
        "dynamics": traj.dynamics,
        "stopped": traj.stopped,
        "mc_attempted": traj.mc_attempted,
        "mc_accepted": traj.mc_accepted,
        "seconds": round(traj.seconds, 3),
    }


def _to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _first_line(text: str, limit: int = 200) -> str:
    """The first line of an error, cut to ``limit`` characters."""
    line = (str(text).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."
