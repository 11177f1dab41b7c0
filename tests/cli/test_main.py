"""``fm``'s dispatcher: Ctrl-C in a tool command is one line saying what is kept."""

from __future__ import annotations

import pytest

from foundation_model.cli.main import main


@pytest.mark.parametrize(
    ("command", "kept"),
    [
        ("featurize", "no table was written; the chunks of inputs already featurized are kept"),
        ("bench", "finished folds are kept under --out"),
        ("calibrate", "files already written are kept"),
    ],
)
def test_ctrl_c_in_a_tool_command_is_one_line(monkeypatch, capsys, command, kept):
    import importlib

    from foundation_model.cli.main import TOOL_COMMANDS

    def interrupted(argv):
        raise KeyboardInterrupt

    module = importlib.import_module(TOOL_COMMANDS[command][0])
    monkeypatch.setattr(module, "main", interrupted)
    assert main([command, "--whatever"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fm {command}: interrupted; {kept}")


def test_fm_warnings_are_one_line_and_other_libraries_keep_their_format():
    import warnings

    import foundation_model.features.cache as ours
    from foundation_model.cli.main import one_line_warning

    line = one_line_warning("cache not written", UserWarning, ours.__file__, 3, "code()")
    assert line == "fm: warning: cache not written\n"
    other = one_line_warning("deprecated", FutureWarning, warnings.__file__, 7, "x = 1")
    assert "FutureWarning: deprecated" in other and other != "fm: warning: deprecated\n"
