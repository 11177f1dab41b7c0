"""matminer's bundled electronic transport table (Ricci et al., Sci. Data 4, 170085, 2017).

``matminer/utils/data_files/mp_transport/transport_database.tar.xz`` holds one CSV
(``mp_id,pretty_formula`` + 10 properties for holes ``_p`` and electrons ``_n``). The file
states no units; the Seebeck coefficients are kept as they are (signed, µV/K scale) and the
strictly positive quantities, which span many orders of magnitude, as ``log10``.
"""

from __future__ import annotations

import io
import math
import tarfile
from importlib import metadata, resources

import numpy as np
import pandas as pd

from foundation_model.data.corpus.aggregate import PropertyReport, aggregate, clean_rows
from foundation_model.data.corpus.provenance import sha256_bytes

PACKAGE = "matminer"
MEMBER_DIR = "utils/data_files/mp_transport"
ARCHIVE = "transport_database.tar.xz"
CSV_NAME = "transport_database.csv"
UNIT_NOTE = "units as in the file (not stated there; see Ricci et al. 2017)"

# corpus column -> (file column, log10?)
COLUMNS: dict[str, tuple[str, bool]] = {
    "transport_log10_sigma_p": ("sigma_p", True),
    "transport_log10_sigma_n": ("sigma_n", True),
    "transport_seebeck_p": ("S_p", False),
    "transport_seebeck_n": ("S_n", False),
    "transport_log10_kappa_p": ("kappa_p", True),
    "transport_log10_kappa_n": ("kappa_n", True),
    "transport_log10_pf_p": ("PF_p", True),
    "transport_log10_pf_n": ("PF_n", True),
    "transport_log10_m_p": ("m_p", True),
    "transport_log10_m_n": ("m_n", True),
}


def read_archive() -> tuple[pd.DataFrame, dict[str, object]]:
    """The transport CSV from the installed matminer and its provenance record."""
    try:
        version = metadata.version(PACKAGE)
        archive = resources.files(PACKAGE).joinpath(MEMBER_DIR, ARCHIVE).read_bytes()
    except (metadata.PackageNotFoundError, ModuleNotFoundError, FileNotFoundError) as err:
        raise FileNotFoundError(
            f"matminer's {MEMBER_DIR}/{ARCHIVE} is missing: install matminer (uv sync)."
        ) from err
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:xz") as tar:
        member = tar.extractfile(CSV_NAME)
        if member is None:
            raise FileNotFoundError(f"{CSV_NAME} not found in matminer's {ARCHIVE}.")
        raw = member.read()
    table = pd.read_csv(io.BytesIO(raw))
    record = {
        "package": PACKAGE,
        "version": version,
        "file": f"{PACKAGE}/{MEMBER_DIR}/{ARCHIVE}",
        "sha256": sha256_bytes(archive),
        "member": CSV_NAME,
        "member_sha256": sha256_bytes(raw),
        "rows": len(table),
    }
    return table, record


def read_transport(leaked: frozenset[str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """Transport columns (index: reduced formula) and their ``corpus.json`` record.

    Args:
        leaked: reduced formulas excluded by the leakage rule.
    """
    table, record = read_archive()
    missing = [c for c, _ in COLUMNS.values() if c not in table.columns]
    if "pretty_formula" not in table.columns or missing:
        raise ValueError(f"{CSV_NAME}: expected columns missing: {missing or ['pretty_formula']}.")
    columns, reports = [], {}
    for name, (source, log) in COLUMNS.items():
        values = pd.to_numeric(table[source], errors="coerce").to_numpy(np.float64)
        if log:
            # libm's log10 per value, not numpy's: numpy dispatches log10 to SVML on AVX-512
            # CPUs, whose last bits differ, and the corpus bytes would then depend on the CPU
            values = np.array([math.log10(v) if v > 0 else math.nan for v in values])
        report = PropertyReport(unit=(f"log10 of {source}; " if log else "") + UNIT_NOTE)
        raw = pd.DataFrame({"formula": table["pretty_formula"], "value": values})
        rows = clean_rows(raw, leaked, report)
        columns.append(aggregate(rows, "median", report).rename(name))
        reports[name] = report.as_dict()
    return pd.concat(columns, axis=1), {**record, "properties": reports}
