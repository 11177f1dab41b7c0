"""Path guard: every file the web app reads or writes must lie under an allowed root.

The allowed roots are the project folder (where ``fm ui`` was started) and the user's
``--data-dir``. A path typed on a page is resolved (symlinks and ``..`` followed) and then
checked; anything that lands outside the roots is refused with a message, never opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


class UnsafePathError(ValueError):
    """A path given on a page points outside the folders the app may touch."""


@dataclass(frozen=True)
class PathGuard:
    """Confines file access to a few root folders.

    Args:
        roots: allowed folders; each is resolved once. The first is the default base for
            relative paths.
    """

    roots: tuple[Path, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("PathGuard needs at least one root folder")
        object.__setattr__(self, "roots", tuple(Path(r).expanduser().resolve() for r in self.roots))

    @classmethod
    def from_roots(cls, roots: Iterable[str | Path | None]) -> PathGuard:
        """Build a guard from roots, skipping ``None`` and duplicates."""
        unique: list[Path] = []
        for root in roots:
            if root is None:
                continue
            resolved = Path(root).expanduser().resolve()
            if resolved not in unique:
                unique.append(resolved)
        return cls(tuple(unique))

    @property
    def base(self) -> Path:
        """Folder that relative paths are taken from (the project folder)."""
        return self.roots[0]

    def allows(self, path: str | Path) -> bool:
        """Whether ``path`` (already resolved or not) lies under one of the roots."""
        try:
            self.resolve(path)
        except UnsafePathError:
            return False
        return True

    def resolve(self, path: str | Path, must_exist: bool = False) -> Path:
        """Resolve ``path`` against the base folder and check it stays inside a root.

        Args:
            path: absolute, or relative to the project folder; ``~`` is expanded.
            must_exist: also refuse a path that does not exist.

        Returns:
            The resolved absolute path.

        Raises:
            UnsafePathError: the path is empty, escapes every root (for example through
                ``..`` or a symlink), or is missing while ``must_exist`` is set.
        """
        text = str(path).strip()
        if not text:
            raise UnsafePathError("No path given.")
        if "\x00" in text:
            raise UnsafePathError("The path contains a NUL character.")
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = self.base / candidate
        resolved = candidate.resolve()
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.roots):
            allowed = ", ".join(str(r) for r in self.roots)
            raise UnsafePathError(
                f"{text!r} resolves to {resolved}, outside the folders this app may use "
                f"({allowed}). Start `fm ui --data-dir DIR` to allow another folder."
            )
        if must_exist and not resolved.exists():
            raise UnsafePathError(f"{text!r} does not exist ({resolved}).")
        return resolved

    def display(self, path: Path) -> str:
        """Short form of ``path``: relative to the first root that holds it."""
        resolved = Path(path).resolve()
        for root in self.roots:
            if resolved.is_relative_to(root):
                rel = resolved.relative_to(root)
                return str(rel) if root == self.base else str(resolved)
        return str(resolved)
