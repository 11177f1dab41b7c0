"""The run state file: which stages and trajectories are finished (for ``--resume``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from foundation_model.workflows.datagen.io import atomic_write_json

STAGES = ("generate", "explore", "sample", "store")


class RunState:
    """``state.json`` of a run directory, rewritten atomically on every change.

    Args:
        path: the state file.
        config_hash: hash of the run's scientific settings.
    """

    def __init__(self, path: str | Path, config_hash: str) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = {
            "config_hash": config_hash,
            "stages": {s: {"done": False} for s in STAGES},
            "trajectories": {},
            "failed": {},
        }

    @classmethod
    def load(cls, path: str | Path, config_hash: str) -> RunState:
        """Read a state file; a changed config hash is an error."""
        state = cls(path, config_hash)
        data = json.loads(Path(path).read_text())
        if data.get("config_hash") != config_hash:
            raise ValueError(
                f"{path}: the configuration changed since this run started "
                f"(hash {data.get('config_hash')} != {config_hash}); "
                "use a new output_dir or restore the config."
            )
        state.data = data
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
