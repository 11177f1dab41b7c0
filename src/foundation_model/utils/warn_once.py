"""Data warnings shown once per process per distinct message.

``fm bench`` sets up the same table for every network of a fold, and Lightning's warning
filters reset Python's registry, so each repeat would be printed again.
"""

from __future__ import annotations

import warnings

#: messages this process has shown
_SHOWN: set[str] = set()


def warn_once(message: str, category: type[Warning] = UserWarning, stacklevel: int = 2) -> None:
    """``warnings.warn(message, category)`` unless this process already showed ``message``.

    Args:
        message: the warning's text (the key for "already shown").
        category: the warning class.
        stacklevel: as for :func:`warnings.warn`, counted from the caller.
    """
    if message in _SHOWN:
        return
    _SHOWN.add(message)
    warnings.warn(message, category, stacklevel=stacklevel + 1)
