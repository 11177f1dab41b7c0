"""Objects that serialise to the ``{class_path, init_args}`` dicts used in YAML configs.

Task specs, MLIP backbones and MLIP property configs store themselves this way in
checkpoints, so a checkpoint rebuilds them without the config that created them.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Self


class ClassPathSerializable:
    """Mixin: constructor arguments are kept as attributes of the same name."""

    def init_args(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this object."""
        params = inspect.signature(type(self).__init__).parameters
        return {p: getattr(self, p) for p in params if p != "self" and hasattr(self, p)}

    def to_dict(self) -> dict[str, Any]:
        """``{"class_path", "init_args"}``, the same shape as in a YAML config."""
        cls = type(self)
        return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": self.init_args()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Self) -> Self:
        """Rebuild from :meth:`to_dict` output; instances of ``cls`` pass through unchanged."""
        if isinstance(data, cls):
            return data
        target = cls.resolve_class(data)
        return target(**dict(data.get("init_args") or {}))

    @classmethod
    def resolve_class(cls, data: dict[str, Any]) -> type[Self]:
        """The subclass of ``cls`` named by ``data["class_path"]``."""
        if not isinstance(data, dict) or "class_path" not in data:
            raise ValueError(
                f"A {cls.__name__} must be given as {{class_path: ..., init_args: {{...}}}}, "
                f"got {data!r}."
            )
        module_name, _, cls_name = str(data["class_path"]).rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError, ValueError) as err:
            raise ValueError(f"Unknown {cls.__name__} class {data['class_path']!r}: {err}") from err
        if not (isinstance(target, type) and issubclass(target, cls)):
            raise ValueError(f"{data['class_path']!r} is not a {cls.__name__} subclass.")
        return target

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.init_args().items())
        return f"{type(self).__name__}({args})"
