"""OQMD, AFLOW and Materials Project property tables of the crabnet 2.0.8 wheel.

Each ``crabnet/data/benchmark_data/<dataset>/{train,val,test}.csv`` holds ``formula,target``;
the three files are one dataset split three ways, so they are read together. Total DFT
energies (``OQMD_Energy_per_atom``, ``aflow__energy_atom``) are left out: they depend on each
code's energy reference. ``mp_mu_b`` is left out: a cell's total magnetisation is not a
property of a formula (it scales with the cell size).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from foundation_model.data.corpus.aggregate import (
    Aggregation,
    PropertyReport,
    aggregate,
    clean_rows,
)
from foundation_model.data.corpus.provenance import wheel_csv
from foundation_model.data.matbench_sources import CRABNET

BENCHMARK_DIR = "crabnet/data/benchmark_data"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TableProperty:
    """One property column of the corpus read from one crabnet benchmark dataset.

    Attributes:
        column: corpus column name.
        source: corpus source it is reported under (``oqmd``, ``aflow``, ``materials_project``).
        dataset: folder under ``crabnet/data/benchmark_data``.
        unit: unit of the values.
        how: aggregation of duplicate reduced formulas.
    """

    column: str
    source: str
    dataset: str
    unit: str
    how: Aggregation = "median"


PROPERTIES: tuple[TableProperty, ...] = (
    TableProperty("oqmd_formation_enthalpy", "oqmd", "OQMD_Formation_Enthalpy", "eV/atom", "min"),
    TableProperty("oqmd_band_gap", "oqmd", "OQMD_Bandgap", "eV"),
    TableProperty("oqmd_volume_per_atom", "oqmd", "OQMD_Volume_per_atom", "Å^3/atom"),
    TableProperty("aflow_band_gap", "aflow", "aflow__Egap", "eV"),
    TableProperty("aflow_bulk_modulus_vrh", "aflow", "aflow__ael_bulk_modulus_vrh", "GPa"),
    TableProperty("aflow_shear_modulus_vrh", "aflow", "aflow__ael_shear_modulus_vrh", "GPa"),
    TableProperty("aflow_debye_temperature", "aflow", "aflow__ael_debye_temperature", "K"),
    TableProperty(
        "aflow_thermal_conductivity_300K",
        "aflow",
        "aflow__agl_thermal_conductivity_300K",
        "W/(m K)",
    ),
    TableProperty(
        "aflow_thermal_expansion_300K", "aflow", "aflow__agl_thermal_expansion_300K", "1/K"
    ),
    TableProperty("mp_formation_energy", "materials_project", "CritExam__Ef", "eV/atom", "min"),
    TableProperty("mp_decomposition_energy", "materials_project", "CritExam__Ed", "eV/atom", "min"),
    TableProperty("mp_e_above_hull", "materials_project", "mp_e_hull", "eV/atom", "min"),
    TableProperty("mp_bulk_modulus", "materials_project", "mp_bulk_modulus", "GPa"),
    TableProperty("mp_shear_modulus", "materials_project", "mp_shear_modulus", "GPa"),
    TableProperty(
        "mp_elastic_anisotropy", "materials_project", "mp_elastic_anisotropy", "dimensionless"
    ),
)


def read_property(
    prop: TableProperty, cache_dir: Path, leaked: frozenset[str]
) -> tuple[pd.Series, dict[str, object]]:
    """One corpus column (index: reduced formula) and its ``corpus.json`` record.

    Args:
        prop: which dataset and how to aggregate it.
        cache_dir: wheel cache folder.
        leaked: reduced formulas excluded by the leakage rule.
    """
    frames, files = [], []
    for split in SPLITS:
        member = f"{BENCHMARK_DIR}/{prop.dataset}/{split}.csv"
        table, record = wheel_csv(*CRABNET, member, cache_dir)
        if list(table.columns[:2]) != ["formula", "target"]:
            raise ValueError(
                f"{member}: expected columns formula,target, got {list(table.columns)}."
            )
        frames.append(table.rename(columns={"target": "value"})[["formula", "value"]])
        files.append(record)
    report = PropertyReport(unit=prop.unit)
    rows = clean_rows(pd.concat(frames, ignore_index=True), leaked, report)
    series = aggregate(rows, prop.how, report).rename(prop.column)
    return series, {"files": files, **report.as_dict()}
