"""Write a small synthetic multi-task dataset with a known ground truth.

Usage::

    python samples/helper_tools/make_fake_data.py --out samples/fake_data --n 2000 --seed 0

Three CSV tables are written, each with the row id (``fake-00000`` ...) in the first column:

``formula_descriptors.csv``
    32 numeric columns ``f00`` ... ``f31``. Row ``i`` has 16 latent standard-normal
    composition factors ``z[i, 0..15]``; like real composition descriptors the 32 columns
    are correlated: ``x = sqrt(2) * z @ Q + 0.05 * noise`` with ``Q`` (16, 32) a random
    matrix with orthonormal rows (about unit variance per column), then stored as
    ``f_j = offset_j + scale_j * x_j`` with offsets in [-5, 5] and scales in [0.1, 10], so
    the model's feature scaler has work to do.

``structure_descriptors.csv``
    16 columns ``s00`` ... ``s15`` for about 70 % of the rows (the others have no
    structure). They carry 4 structure-only latent factors ``u[i, 0..3]`` (standard normal,
    independent of ``z``) mixed by a fixed random matrix, plus a little of ``z[:, :4]`` and
    noise: ``s = u @ A + 0.3 * z[:, :4] @ B + 0.05 * noise``.

``attributes.csv`` — the targets (``eps`` is standard-normal noise per row):

* ``y_easy = 1.5 z0 - 1.0 z1 + 0.5 z2 + 0.1 eps`` — near linear; R² close to 1 is reachable.
* ``y_nonlinear = 2 sin(1.5 z3) z4 + 0.8 z5**2 - 0.5 z6 + 0.1 eps`` — an interaction and a
  square: hard with ~1,000 labels (gradient boosting reaches R² ~ 0.3).
* ``y_structure = 1.2 u0 - 0.8 u1 + 0.5 u0 u2 + 0.4 z0 + 0.1 eps`` — mostly explained by the
  structure-only factors: formula descriptors alone explain almost nothing (R² < 0.1),
  with the structure descriptors a gradient-boosting baseline reaches R² ~ 0.94 on rows
  that have a structure.
* ``is_metal`` — ``"metal"`` if ``1.5 z0 - 1.0 z1 + 0.5 z2 + 0.8 z7 + 0.1 eps > 0.3`` else
  ``"insulator"``: a linear rule sharing a direction with ``y_easy`` (>= 0.95 accuracy
  is reachable).
* ``crystal_system`` — ``argmax`` of ``(z9 + z10, z11 - z9, -z10 - z11 + 0.5)`` mapped to
  ``"cubic"``, ``"hexagonal"``, ``"tetragonal"`` (3 classes).
* ``temperatures`` / ``cp_values`` — a heat-capacity-like curve per row, given at 8–20
  sorted temperatures drawn uniformly in [50, 1000] K (JSON list strings)::

      cp(T) = c_sat * (1 - exp(-T / theta)) + slope * T / 1000 + 0.05 eps
      c_sat = 25 + 3 z12,  theta = 200 * exp(0.3 z13),  slope = 4 + 2 tanh(z14)

  ``temperatures`` is given for every row (so every row can be predicted); ``cp_values``
  is missing for some rows.
* ``split`` — ``train``/``val``/``test`` (80/10/10 %, seeded) for ``PredefinedSplitter``.

Each target column (``cp_values`` for the curve) is blanked at random for a fixed fraction
of the rows between 30 % and 50 % (see ``MISSING_FRACTIONS``). Everything is drawn from
one ``numpy.random.default_rng(seed)``: the same ``--seed`` and ``--n`` give identical files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

N_FORMULA = 32
N_FORMULA_LATENT = 16
N_STRUCTURE = 16
N_STRUCTURE_LATENT = 4
STRUCTURE_FRACTION = 0.7
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
MISSING_FRACTIONS = {
    "y_easy": 0.30,
    "y_nonlinear": 0.40,
    "y_structure": 0.35,
    "is_metal": 0.35,
    "crystal_system": 0.45,
    "cp_values": 0.50,
}
CRYSTAL_SYSTEMS = ("cubic", "hexagonal", "tetragonal")


def _curve_column(values: list[np.ndarray], decimals: int) -> list[str]:
    """Format per-row arrays as JSON list strings (compact, rounded)."""
    return [json.dumps(np.round(v, decimals).tolist(), separators=(",", ":")) for v in values]


def _heat_capacity(
    z: np.ndarray, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-row temperature grids and ``cp(T)`` curves whose shape follows ``z[:, 12:15]``."""
    c_sat = 25.0 + 3.0 * z[:, 12]
    theta = 200.0 * np.exp(0.3 * z[:, 13])
    slope = 4.0 + 2.0 * np.tanh(z[:, 14])
    lengths = rng.integers(8, 21, size=len(z))  # 8..20 points
    temps, cps = [], []
    for i, n_pts in enumerate(lengths):
        t = np.sort(rng.uniform(50.0, 1000.0, size=n_pts))
        cp = c_sat[i] * (1.0 - np.exp(-t / theta[i])) + slope[i] * t / 1000.0
        temps.append(t)
        cps.append(cp + 0.05 * rng.standard_normal(n_pts))
    return temps, cps


def make_tables(n: int = 2000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Build the three tables (index = row id) from one seeded generator.

    Args:
        n: number of rows (compounds).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        ``{"formula_descriptors", "structure_descriptors", "attributes"}`` DataFrames.
    """
    if n < 20:
        raise ValueError(f"n must be at least 20 to fill every split, got {n}.")
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"fake-{i:05d}" for i in range(n)], name="id")

    z = rng.standard_normal((n, N_FORMULA_LATENT))  # (N, 16) latent composition factors
    mix = np.linalg.qr(rng.standard_normal((N_FORMULA, N_FORMULA_LATENT)))[0].T  # (16, 32)
    x = np.sqrt(N_FORMULA / N_FORMULA_LATENT) * z @ mix  # (N, 32), unit variance per column
    x += 0.05 * rng.standard_normal((n, N_FORMULA))
    offsets = rng.uniform(-5.0, 5.0, N_FORMULA)
    scales = np.exp(rng.uniform(np.log(0.1), np.log(10.0), N_FORMULA))
    formula = pd.DataFrame(
        offsets + scales * x, index=ids, columns=[f"f{j:02d}" for j in range(N_FORMULA)]
    )

    u = rng.standard_normal((n, N_STRUCTURE_LATENT))  # (N, 4) structure-only factors
    mix_u = rng.standard_normal((N_STRUCTURE_LATENT, N_STRUCTURE))
    mix_z = rng.standard_normal((4, N_STRUCTURE))
    s = u @ mix_u + 0.3 * z[:, :4] @ mix_z + 0.05 * rng.standard_normal((n, N_STRUCTURE))
    has_structure = rng.random(n) < STRUCTURE_FRACTION
    structure = pd.DataFrame(
        s[has_structure],
        index=ids[has_structure],
        columns=[f"s{j:02d}" for j in range(N_STRUCTURE)],
    )

    def eps() -> np.ndarray:
        return rng.standard_normal(n)

    attrs = pd.DataFrame(index=ids)
    attrs["y_nonlinear"] = (
        2.0 * np.sin(1.5 * z[:, 3]) * z[:, 4] + 0.8 * z[:, 5] ** 2 - 0.5 * z[:, 6] + 0.1 * eps()
    )
    attrs["y_structure"] = (
        1.2 * u[:, 0] - 0.8 * u[:, 1] + 0.5 * u[:, 0] * u[:, 2] + 0.4 * z[:, 0] + 0.1 * eps()
    )
    easy = 1.5 * z[:, 0] - 1.0 * z[:, 1] + 0.5 * z[:, 2]
    attrs["y_easy"] = easy + 0.1 * eps()
    metal_score = easy + 0.8 * z[:, 7] + 0.1 * eps()  # shares a direction with y_easy
    attrs["is_metal"] = np.where(metal_score > 0.3, "metal", "insulator")
    logits = np.stack([z[:, 9] + z[:, 10], z[:, 11] - z[:, 9], -z[:, 10] - z[:, 11] + 0.5], axis=1)
    attrs["crystal_system"] = np.asarray(CRYSTAL_SYSTEMS)[logits.argmax(axis=1)]
    temps, cps = _heat_capacity(z, rng)
    attrs["temperatures"] = _curve_column(temps, 1)
    attrs["cp_values"] = _curve_column(cps, 3)

    for column, fraction in MISSING_FRACTIONS.items():
        blank = np.zeros(n, dtype=bool)
        blank[rng.choice(n, size=round(fraction * n), replace=False)] = True
        attrs[column] = attrs[column].mask(blank)  # NaN: an empty CSV cell

    order = rng.permutation(n)
    n_train = round(SPLIT_FRACTIONS["train"] * n)
    n_val = round(SPLIT_FRACTIONS["val"] * n)
    split = np.empty(n, dtype=object)
    split[order[:n_train]] = "train"
    split[order[n_train : n_train + n_val]] = "val"
    split[order[n_train + n_val :]] = "test"
    attrs["split"] = split
    return {"formula_descriptors": formula, "structure_descriptors": structure, "attributes": attrs}


def write_tables(out: Path, n: int = 2000, seed: int = 0) -> dict[str, Path]:
    """Generate the tables and write them as ``<out>/<name>.csv``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, table in make_tables(n, seed).items():
        path = out / f"{name}.csv"
        table.to_csv(path, float_format="%.5g", lineterminator="\n")
        paths[name] = path
    return paths


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("samples/fake_data"), help="output folder")
    parser.add_argument("--n", type=int, default=2000, help="number of rows")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write the fake dataset and print the files written."""
    args = parse_args(argv)
    for path in write_tables(args.out, args.n, args.seed).values():
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
