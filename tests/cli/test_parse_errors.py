"""``parse_error_line``: jsonargparse's multi-line errors as the one line fm prints."""

from __future__ import annotations

from foundation_model.cli.parse_errors import parse_error_line


def test_a_missing_optional_package_is_the_whole_message():
    """A sampler whose package is absent fails inside a Union's list of subtype errors;
    the line is the install hint alone, not the dump of every subtype."""
    message = (
        "Does not validate against any of the Union subtypes\nSubtypes: [<class 'A'>, "
        "<class 'NoneType'>]\nErrors:\n  - Problem with given class_path 'x.SOAPDescriptor':"
        "\n    SOAPDescriptor needs dscribe: run `uv sync --locked --extra datagen` (with the "
        "--extra flags you already use: uv sync\n    removes extras it is not given).\n  - "
        "Expected a <class 'NoneType'>\nGiven value type: <class 'jsonargparse.Namespace'>"
    )
    line = parse_error_line(message, ["--config", "run.yaml"], "datagen run")
    assert line == (
        "SOAPDescriptor needs dscribe: run `uv sync --locked --extra datagen` (with the "
        "--extra flags you already use: uv sync removes extras it is not given)."
    )


def test_other_errors_keep_their_text_and_name_the_config():
    line = parse_error_line('Parser key "seed": Expected an int', ["--config", "a.yaml"], "fit")
    assert line.startswith("seed: Expected an int") and "(config a.yaml)" in line


def test_a_misspelt_key_is_blamed_on_where_its_whole_path_was_given():
    message = (
        'Parser key "data":\n  Does not validate against any of the Union subtypes\n  Errors:\n'
        "    - Problem with given class_path 'foundation_model.data.CompoundDataModule':\n"
        "        Option 'seed' is not accepted\n  Given value type: <class 'dict'>"
    )
    in_file = ["--config", "a.yaml", "--data.init_args.splitter.init_args.seed=3"]
    line = parse_error_line(message, in_file, "fit")  # another 'seed' was set on the line
    assert "no parameter 'seed'" in line and "(config a.yaml)" in line
    typed = ["--config", "a.yaml", "--data.init_args.seed=3"]
    assert "(command-line argument)" in parse_error_line(message, typed, "fit")
