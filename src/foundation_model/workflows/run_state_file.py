"""Reading a workflow's ``state.json``: the resume record of an ``fm datagen`` or
``fm distill`` run folder.

Both workflows keep their record under the same name, so a record is checked to be the
calling workflow's before anything is written next to it: resuming a distillation in a
datagen folder would otherwise replace the datagen record and mix the two runs' files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# the key that holds each workflow's progress (records written before the "workflow" key)
PROGRESS_KEYS = {"datagen": "stages", "distill": "steps"}


def read_state(path: str | Path, workflow: str) -> dict[str, Any]:
    """The state record at ``path``, checked to be ``workflow``'s.

    Args:
        path: the ``state.json`` file.
        workflow: ``datagen`` or ``distill``.

    Raises:
        ValueError: one line, for unreadable JSON or another workflow's record.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} (the run's resume record) is not valid JSON ({err}); restore it, or "
            "start the run in a new output_dir"
        ) from err
    kind = data.get("workflow") if isinstance(data, dict) else None
    if kind is None and isinstance(data, dict):
        kind = next((w for w, key in PROGRESS_KEYS.items() if key in data), None)
    if kind != workflow:
        what = f"an fm {kind} run" if kind else "no run record fm can read"
        raise ValueError(
            f"{path.parent} holds {what}, not an fm {workflow} run; choose another output_dir "
            "(nothing was changed)"
        )
    return data
