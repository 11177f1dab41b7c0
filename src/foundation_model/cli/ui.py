"""``fm ui``: serve the local web app (Streamlit) on 127.0.0.1.

Example::

    fm ui                          # http://127.0.0.1:8501
    fm ui --port 8600 --data-dir /scratch/me/fm-data
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

DEFAULT_MAX_UPLOAD_MB = 50


def build_parser() -> argparse.ArgumentParser:
    """The ``fm ui`` argument parser."""
    p = argparse.ArgumentParser(
        prog="fm ui", description="Serve the web app: predict, generate data, view results."
    )
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: only this machine can connect)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="a folder the app may read and write besides the project folder; "
        "background runs are kept there (default: results/ui/jobs)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=int,
        default=DEFAULT_MAX_UPLOAD_MB,
        help=f"largest accepted upload in MB (default {DEFAULT_MAX_UPLOAD_MB})",
    )
    return p


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` argv for the parsed ``fm ui`` arguments."""
    spec = importlib.util.find_spec("foundation_model.ui.app")
    app_file = Path(spec.origin).resolve()
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_file),
        "--server.port",
        str(args.port),
        "--server.address",
        args.host,
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(args.max_upload_mb),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "false",
    ]


def app_environment(args: argparse.Namespace, project_dir: Path) -> dict[str, str]:
    """Environment of the server: the app reads its folders and limits from it."""
    env = dict(os.environ)
    env["FM_UI_PROJECT_DIR"] = str(project_dir.resolve())
    env["FM_UI_MAX_UPLOAD_MB"] = str(args.max_upload_mb)
    if args.data_dir is not None:
        env["FM_UI_DATA_DIR"] = str(args.data_dir.expanduser().resolve())
    else:
        env.pop("FM_UI_DATA_DIR", None)
    return env


def main(argv: list[str] | None = None) -> int:
    """Run ``fm ui``; returns the server's exit code."""
    args = build_parser().parse_args(argv)
    try:
        import streamlit  # noqa: F401
    except ImportError:
        print("fm ui needs the web-app extra: uv sync --locked --extra ui", file=sys.stderr)
        return 1
    if args.data_dir is not None:
        args.data_dir.expanduser().mkdir(parents=True, exist_ok=True)
    if args.max_upload_mb < 1:
        print("fm ui: --max-upload-mb must be at least 1", file=sys.stderr)
        return 2
    from foundation_model.ui.settings import port_problem

    problem = port_problem(args.host, args.port)
    if problem:  # before "serving on": a busy port is one line, not a promise then a failure
        print(problem, file=sys.stderr)
        return 2
    url_host = "127.0.0.1" if args.host in ("127.0.0.1", "localhost") else args.host
    print(f"fm ui: serving on http://{url_host}:{args.port}  (Ctrl+C stops it)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"fm ui: bound to {args.host}: other machines on the network can reach this app.",
            flush=True,
        )
    command = streamlit_command(args)
    # the server replaces this process: signals (Ctrl+C, SIGTERM) reach Streamlit directly
    os.execve(command[0], command, app_environment(args, Path.cwd()))
    return 0  # not reached
