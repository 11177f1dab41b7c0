"""One-line errors for the workflow subcommands (``fm datagen``, ``fm distill``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

INPUT_ERRORS = (
    ValueError,
    TypeError,
    RuntimeError,
    FileNotFoundError,
    ImportError,
    argparse.ArgumentError,
)


def one_line(err: BaseException) -> str:
    """The error as one line (jsonargparse nests messages over several indented lines)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text or type(err).__name__


def run_reporting_errors(command: str, body: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``body``; a bad config or input prints ``fm <command>: error: ...`` (one line;
    ``FM_DEBUG=1`` shows the traceback). Returns ``(exit code, body's result or None)``."""
    try:
        return 0, body()
    except INPUT_ERRORS as err:
        if os.environ.get("FM_DEBUG"):
            raise
        print(f"fm {command}: error: {one_line(err)}", file=sys.stderr)
        return 2, None
    except SystemExit as err:  # jsonargparse --help / --print_config
        return int(err.code or 0), None
