"""FPS on SOAP: time to pick 1 % of 10,000 vectors, and covering radius FPS vs random.

Writes ``results/bench/datagen_fps.json`` and ``.md``. Run from the repository root::

    OMP_NUM_THREADS=1 uv run python benchmarks/datagen_fps.py [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def soap_vectors(n: int, seed: int) -> tuple[np.ndarray, float]:
    """Structure-averaged SOAP of ``n`` random Cu-Al fcc cells (4 atoms, strained, rattled)."""
    from ase.build import bulk

    from foundation_model.workflows.datagen.samplers import SOAPDescriptor

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True)
        atoms.symbols[rng.random(4) < rng.random()] = "Al"
        eps = rng.uniform(-0.04, 0.04, (3, 3))
        atoms.set_cell(atoms.cell @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        frames.append(atoms)
    start = time.perf_counter()
    x = SOAPDescriptor(r_cut=4.5, n_max=6, l_max=4, species=["Al", "Cu"]).structures(frames)
    return x, time.perf_counter() - start


def main() -> None:
    """Time FPS and compare covering radii."""
    from foundation_model.workflows.datagen.samplers import covering_radius, farthest_point_sampling

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--fraction", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/bench/datagen_fps"))
    args = p.parse_args()
    x, soap_seconds = soap_vectors(args.n, args.seed)
    k = int(round(args.fraction * args.n))
    start = time.perf_counter()
    chosen = farthest_point_sampling(x, k, first=0)
    fps_seconds = time.perf_counter() - start
    fps_radius = covering_radius(x, chosen)
    rng = np.random.default_rng(args.seed)
    random_radii = [covering_radius(x, rng.choice(len(x), k, replace=False)) for _ in range(5)]
    result = {
        "n_vectors": int(x.shape[0]),
        "dimension": int(x.shape[1]),
        "k": k,
        "soap_seconds": round(soap_seconds, 2),
        "fps_seconds": round(fps_seconds, 3),
        "covering_radius_fps": fps_radius,
        "covering_radius_random_mean": float(np.mean(random_radii)),
        "covering_radius_random_min": float(np.min(random_radii)),
        "random_seeds": 5,
        "load_average": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# FPS on SOAP (fm datagen)",
        "",
        f"{result['n_vectors']} structure-averaged SOAP vectors (D = {result['dimension']}; "
        "random strained/rattled Cu-Al fcc cells), pick k = "
        f"{k} (1 %). Command: `OMP_NUM_THREADS=1 uv run python benchmarks/datagen_fps.py`.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| FPS time (greedy, numpy) | {result['fps_seconds']} s |",
        f"| SOAP time for all vectors | {result['soap_seconds']} s |",
        f"| covering radius, FPS | {fps_radius:.4f} |",
        f"| covering radius, random (mean of 5 seeds) | {np.mean(random_radii):.4f} |",
        f"| covering radius, random (best of 5 seeds) | {np.min(random_radii):.4f} |",
        "",
        f"Machine load average during the run: {result['load_average']} (2 shared cores).",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
