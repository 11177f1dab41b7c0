"""A run folder's ``state.json`` is read only by the workflow that wrote it."""

from __future__ import annotations

import json

import pytest

from foundation_model.workflows.datagen.state import STAGES, RunState
from foundation_model.workflows.distill.state import DistillState
from foundation_model.workflows.run_state_file import read_state

HASHES = {s: f"h{i}" for i, s in enumerate(STAGES)}


def test_each_workflow_refuses_the_others_record_and_changes_nothing(tmp_path):
    datagen = tmp_path / "datagen" / "state.json"
    datagen.parent.mkdir()
    RunState(datagen, HASHES).save()
    before = datagen.read_bytes()
    with pytest.raises(ValueError, match="holds an fm datagen run, not an fm distill run"):
        DistillState.load(datagen)
    assert datagen.read_bytes() == before
    distill = tmp_path / "distill" / "state.json"
    distill.parent.mkdir()
    DistillState(distill).save()
    with pytest.raises(ValueError, match="holds an fm distill run, not an fm datagen run"):
        RunState.load(distill, HASHES)
    assert json.loads(distill.read_text())["workflow"] == "distill"
    # each still reads its own, including records written before the "workflow" key
    assert RunState.load(datagen, HASHES).data["workflow"] == "datagen"
    old = json.loads(datagen.read_text())
    del old["workflow"]
    datagen.write_text(json.dumps(old))
    assert not RunState.load(datagen, HASHES).done("generate")


@pytest.mark.parametrize("text", ["{", "{}", "[1, 2]"])
def test_an_unreadable_record_is_one_line_naming_the_file(tmp_path, text):
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        read_state(path, "datagen")
    assert str(path.parent) in str(err.value) and "\n" not in str(err.value)
    assert path.read_text() == text
