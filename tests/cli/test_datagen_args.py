"""``fm datagen run`` argument forms."""

from __future__ import annotations


def test_resume_flag_forms_of_fm_datagen() -> None:
    """``--resume``, ``--resume true`` (after --config too) and ``--resume false``."""
    from foundation_model.cli.datagen import _normalise

    assert _normalise(["--config", "a.yaml", "--resume"]) == ["--config", "a.yaml", "--resume=true"]
    assert _normalise(["--config", "a.yaml", "--resume", "true"])[-1] == "--resume=true"
    assert _normalise(["--resume", "False", "--x=1"]) == ["--resume=false", "--x=1"]
    assert _normalise(["--resume", "--config", "a"]) == ["--resume=true", "--config", "a"]
