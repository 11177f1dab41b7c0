"""The state file of a distillation run: which step is done, under which config hash, with
which artifacts (and their SHA-256), so ``--resume`` can verify earlier steps and continue
at the first step that is not done."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foundation_model.utils.atomic import write_json
from foundation_model.workflows.run_state_file import read_state


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file (of every file below it, in name order, for a folder)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        digest.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
        with open(p, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def config_digest(settings: Any) -> str:
    """Short SHA-256 of a JSON-serialisable settings object."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class StepRecord:
    """State of one step.

    Attributes:
        status: ``pending``, ``running``, ``done`` or ``failed``.
        config_hash: hash of the step's settings and of every earlier step's hash.
        directory: artifact folder (relative to the run folder).
        artifacts: artifact name -> SHA-256 (relative paths inside ``directory``).
        info: small results of the step (counts, timings, oracle calls).
        error: the exception of a failed attempt.
        runs: how many times the step was started.
        seconds: wall time of the last successful run.
    """

    status: str = "pending"
    config_hash: str = ""
    directory: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    runs: int = 0
    seconds: float = 0.0


@dataclass
class DistillState:
    """Every step's record, saved as JSON after each change (atomically)."""

    path: Path
    steps: dict[str, StepRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> DistillState:
        path = Path(path)
        if not path.is_file():
            return cls(path)
        data = read_state(path, "distill")
        steps = {name: StepRecord(**record) for name, record in data.get("steps", {}).items()}
        return cls(path, steps)

    def save(self) -> None:
        data = {
            "workflow": "distill",
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "steps": {name: asdict(r) for name, r in self.steps.items()},
        }
        write_json(data, self.path)

    def record(self, name: str) -> StepRecord:
        return self.steps.setdefault(name, StepRecord())

    def verified(self, name: str, config_hash: str, run_dir: Path) -> tuple[bool, str]:
        """Whether step ``name`` is done under ``config_hash`` with intact artifacts."""
        record = self.steps.get(name)
        if record is None or record.status != "done":
            return False, "not done"
        if record.config_hash != config_hash:
            return False, "configuration changed"
        for artifact, digest in record.artifacts.items():
            path = run_dir / record.directory / artifact
            if not path.exists():
                return False, f"artifact {artifact} missing"
            if file_digest(path) != digest:
                return False, f"artifact {artifact} modified"
        return True, "verified"
