"""The run state file: which stages and trajectories are finished (for ``--resume``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundation_model.workflows.datagen.io import atomic_write_json
from foundation_model.workflows.run_state_file import read_state

STAGES = ("generate", "explore", "sample", "store")


class RunState:
    """``state.json`` of a run directory, rewritten atomically on every change.

    Args:
        path: the state file.
        stage_hashes: cumulative hash of each stage's settings (see
            ``DatagenPipeline.stage_hashes``); the last one is the run's config hash.
    """

    def __init__(self, path: str | Path, stage_hashes: dict[str, str]) -> None:
        self.path = Path(path)
        self.invalidated: list[str] = []
        self.data: dict[str, Any] = {
            "workflow": "datagen",
            "config_hash": stage_hashes[STAGES[-1]],
            "stage_hashes": dict(stage_hashes),
            "stages": {s: {"done": False} for s in STAGES},
            "trajectories": {},
            "failed": {},
        }

    @classmethod
    def load(cls, path: str | Path, stage_hashes: dict[str, str]) -> RunState:
        """Read a state file. From the first stage whose settings (or upstream settings)
        changed on, stages are marked unfinished (``invalidated``); earlier work is kept."""
        state = cls(path, stage_hashes)
        data = {"workflow": "datagen", **read_state(path, "datagen")}
        old = data.get("stage_hashes", {})
        changed = [s for s in STAGES if old.get(s) != stage_hashes[s]]
        if changed:
            state.invalidated = list(STAGES[STAGES.index(changed[0]) :])
            for stage in state.invalidated:
                data["stages"][stage] = {"done": False}
            if "generate" in state.invalidated or "explore" in state.invalidated:
                data["trajectories"], data["failed"] = {}, {}
        data["stage_hashes"] = dict(stage_hashes)
        data["config_hash"] = stage_hashes[STAGES[-1]]
        state.data = data
        state.save()
        return state

    def save(self) -> None:
        atomic_write_json(self.path, self.data)

    def done(self, stage: str) -> bool:
        return bool(self.data["stages"][stage]["done"])

    def finish(self, stage: str, **info: Any) -> None:
        self.data["stages"][stage] = {"done": True, **info}
        self.save()

    def trajectory_done(self, traj_id: str) -> bool:
        return traj_id in self.data["trajectories"]

    def finish_trajectory(self, traj_id: str, info: dict[str, Any]) -> None:
        self.data["trajectories"][traj_id] = info
        self.data["failed"].pop(traj_id, None)
        self.save()

    def fail_trajectory(self, traj_id: str, error: str) -> None:
        self.data["failed"][traj_id] = error
        self.save()
