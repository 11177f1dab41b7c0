"""One-line errors for the workflow subcommands (``fm datagen``, ``fm distill``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from foundation_model.cli.parse_errors import parse_error_line

INPUT_ERRORS = (
    FileExistsError,  # a run folder that already holds a run (pass --resume)
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


def run_reporting_errors(
    command: str, body: Callable[[], Any], argv: list[str] | None = None
) -> tuple[int, Any]:
    """Run ``body``; a bad config or input prints ``fm <command>: error: ...`` (one line;
    ``FM_DEBUG=1`` shows the traceback), Ctrl-C one line saying the finished work is kept.
    Returns ``(exit code, body's result or None)``.

    Args:
        command: the subcommand (``datagen``, ``distill``).
        body: the work.
        argv: its arguments (a parse error then names the config file).
    """
    try:
        return 0, body()
    except argparse.ArgumentError as err:
        if os.environ.get("FM_DEBUG"):
            raise
        line = parse_error_line(str(err), list(argv or []), f"{command} run")
        print(f"fm {command}: error: {line}", file=sys.stderr)
        return 2, None
    except INPUT_ERRORS as err:
        if os.environ.get("FM_DEBUG"):
            raise
        text = str(err)
        if "Union subtypes" in text:  # a class's own refusal, wrapped in jsonargparse's dump
            line = parse_error_line(text, list(argv or []), f"{command} run")
        else:
            line = one_line(err)
        print(f"fm {command}: error: {line}", file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print(
            f"fm {command}: interrupted; the finished work is kept: run the same command "
            "with --resume to continue.",
            file=sys.stderr,
        )
        return 130, None
    except SystemExit as err:  # jsonargparse --help / --print_config
        return int(err.code or 0), None
