"""Settings of a running app, read from the environment that ``fm ui`` sets.

``FM_UI_PROJECT_DIR`` (default: the working directory), ``FM_UI_DATA_DIR`` (optional) and
``FM_UI_MAX_UPLOAD_MB`` (default 50).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from foundation_model.ui.paths import PathGuard

DEFAULT_MAX_UPLOAD_MB = 50


@dataclass(frozen=True)
class AppSettings:
    """Folders and limits of the app.

    Args:
        project_dir: the project folder (relative paths are taken from here).
        data_dir: the user's extra folder, or None.
        max_upload_mb: largest accepted upload.
    """

    project_dir: Path
    data_dir: Path | None = None
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AppSettings:
        """Settings from ``FM_UI_*`` variables (``os.environ`` by default)."""
        env = dict(os.environ if env is None else env)
        project = Path(env.get("FM_UI_PROJECT_DIR") or Path.cwd()).resolve()
        data = env.get("FM_UI_DATA_DIR")
        try:
            upload = int(env.get("FM_UI_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))
        except ValueError:
            upload = DEFAULT_MAX_UPLOAD_MB
        return cls(project, Path(data).resolve() if data else None, max(1, upload))

    @property
    def guard(self) -> PathGuard:
        """The path guard over the project folder and the data folder."""
        return PathGuard.from_roots([self.project_dir, self.data_dir])

    @property
    def jobs_dir(self) -> Path:
        """Where background runs live: ``<data-dir>/ui_jobs`` or ``results/ui/jobs``."""
        if self.data_dir is not None:
            return self.data_dir / "ui_jobs"
        return self.project_dir / "results" / "ui" / "jobs"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def port_problem(host: str, port: int) -> str | None:
    """Why ``fm ui`` cannot serve on ``host:port`` (one line), or None when it can.

    The port is bound for a moment the way the server binds it (``SO_REUSEADDR``, so a
    port left in TIME_WAIT by a stopped server counts as free) and released at once.
    """
    if not 1 <= port <= 65535:
        return f"fm ui: --port {port} is not a port number; give one between 1 and 65535."
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return f"fm ui: cannot serve on {host}:{port} ({reason}); choose another --port."
    return None
