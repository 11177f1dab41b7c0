"""Interactive 3D view of an ``ase.Atoms`` as HTML (py3Dmol / 3Dmol.js).

3Dmol.js itself is a JavaScript file. It is inlined from a local copy when one is found
(``$FM_UI_3DMOL_JS``, or ``data/vendor/3Dmol-min.js`` in the project folder or in the
repository the app runs from: fetch it with ``samples/helper_tools/fetch_3dmol.sh``), so
the view works offline; otherwise the page loads it from the CDN that py3Dmol names.
"""

from __future__ import annotations

import base64
import io
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

LOCAL_JS = Path("data") / "vendor" / "3Dmol-min.js"
#: the checkout this package runs from (src/foundation_model/ui -> repository root)
REPOSITORY = Path(__file__).resolve().parents[3]


def local_3dmol_js(project_dir: Path) -> Path | None:
    """The local 3Dmol.js copy, if there is one: ``$FM_UI_3DMOL_JS``, the project folder's
    ``data/vendor/``, then the repository's (an app started from another folder)."""
    env = os.environ.get("FM_UI_3DMOL_JS")
    candidates = (Path(env) if env else None, Path(project_dir) / LOCAL_JS, REPOSITORY / LOCAL_JS)
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=2)
def _data_uri(path: str, mtime: float) -> str:
    del mtime  # part of the cache key only
    payload = base64.b64encode(Path(path).read_bytes()).decode()
    return f"data:text/javascript;base64,{payload}"


def atoms_to_xyz(atoms) -> str:
    """Plain XYZ text of ``atoms`` (what 3Dmol.js parses)."""
    from ase.io import write

    buffer = io.StringIO()
    write(buffer, atoms, format="xyz")
    return buffer.getvalue()


def cell_edges(cell: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 12 edges of the parallelepiped spanned by the rows of ``cell`` (3, 3)."""
    a, b, c = np.asarray(cell, dtype=float)
    origin = np.zeros(3)
    corners = [origin, a, b, c, a + b, a + c, b + c, a + b + c]
    edges = []
    for i, p in enumerate(corners):
        for q in corners[i + 1 :]:
            diff = q - p
            if any(np.allclose(diff, v) for v in (a, b, c)):
                edges.append((p, q))
    return edges


def structure_html(atoms, project_dir: Path, width: int = 560, height: int = 420) -> str:
    """HTML of an interactive view: spheres and sticks, the unit cell as lines.

    Args:
        atoms: the structure.
        project_dir: where to look for a local copy of 3Dmol.js.
        width: pixel width of the view.
        height: pixel height of the view.
    """
    try:
        import py3Dmol
    except ImportError as exc:
        raise ImportError("The structure view needs py3Dmol: uv sync --locked --extra ui") from exc
    local = local_3dmol_js(project_dir)
    kwargs = {"js": _data_uri(str(local), local.stat().st_mtime)} if local else {}
    view = py3Dmol.view(width=width, height=height, **kwargs)
    view.addModel(atoms_to_xyz(atoms), "xyz")
    view.setStyle({"sphere": {"scale": 0.35}, "stick": {"radius": 0.12}})
    if atoms.cell.rank == 3:
        for start, end in cell_edges(atoms.cell.array):
            view.addLine(
                {
                    "start": dict(zip("xyz", map(float, start), strict=True)),
                    "end": dict(zip("xyz", map(float, end), strict=True)),
                    "color": "#555555",
                }
            )
    view.zoomTo()
    return view.write_html()
