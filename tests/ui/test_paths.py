"""PathGuard: paths resolve inside the project and data folders, escapes are refused."""

from __future__ import annotations

import pytest

from foundation_model.ui.paths import PathGuard, UnsafePathError


@pytest.fixture
def guard(tmp_path):
    project = tmp_path / "project"
    data = tmp_path / "data"
    (project / "results").mkdir(parents=True)
    data.mkdir()
    return PathGuard.from_roots([project, data, None, project])


def test_roots_deduplicated_and_relative_paths_use_project(guard, tmp_path):
    assert guard.roots == ((tmp_path / "project").resolve(), (tmp_path / "data").resolve())
    assert guard.resolve("results") == (tmp_path / "project" / "results").resolve()
    assert guard.resolve(str(tmp_path / "data" / "x.db")) == (tmp_path / "data" / "x.db").resolve()


@pytest.mark.parametrize("bad", ["../outside.db", "results/../../outside.db", "/etc/passwd", "~"])
def test_escapes_are_refused_with_a_message(guard, bad):
    with pytest.raises(UnsafePathError, match="outside the folders"):
        guard.resolve(bad)
    assert not guard.allows(bad)


def test_symlink_out_of_root_is_refused(guard, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (tmp_path / "project" / "link").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        guard.resolve("link/file.txt")


def test_empty_nul_and_missing(guard):
    with pytest.raises(UnsafePathError, match="No path"):
        guard.resolve("  ")
    with pytest.raises(UnsafePathError, match="NUL"):
        guard.resolve("a\x00b")
    with pytest.raises(UnsafePathError, match="does not exist"):
        guard.resolve("results/none.db", must_exist=True)
    assert guard.resolve("results", must_exist=True).is_dir()


def test_display_is_relative_to_project(guard, tmp_path):
    assert guard.display(tmp_path / "project" / "results" / "a.db") == "results/a.db"
    assert guard.display(tmp_path / "data" / "b.db") == str((tmp_path / "data" / "b.db").resolve())


def test_needs_a_root():
    with pytest.raises(ValueError):
        PathGuard.from_roots([None])
