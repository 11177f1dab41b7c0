"""Parquet/CSV round trips, atomic writes and structure featurization."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from ase.io import write as ase_write
from matminer.featurizers.structure import DensityFeatures
from pymatgen.io.ase import AseAtomsAdaptor

from foundation_model.features.pipeline import featurize_table
from foundation_model.features.structure import parse_structure
from foundation_model.features.table_io import read_table, write_table


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_table_round_trip(tmp_path, suffix):
    df = pd.DataFrame(
        {"MagpieData mean Number": [1.5, 2.0], "x": [np.nan, 3.0]},
        index=pd.Index(["mb-1", "mb-2"], name="id"),
    )
    path = write_table(df, tmp_path / f"t{suffix}")
    back = read_table(path)
    back.index = back.index.astype(str)
    pd.testing.assert_frame_equal(back, df)
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_unsupported_suffix_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="use one of"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")


def _cells() -> list[str]:
    import io

    cu = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.6))
    nacl = AseAtomsAdaptor.get_structure(bulk("NaCl", "rocksalt", a=5.64))
    buf = io.StringIO()
    ase_write(buf, bulk("Si", "diamond", a=5.43), format="extxyz")
    return [json.dumps(cu.as_dict()), nacl.to(fmt="cif"), buf.getvalue(), "not a structure"]


def _featurize_with_structures(df: pd.DataFrame):
    """Magpie + the default structure preset, no cache, no imputation."""
    return featurize_table(
        df,
        "formula",
        "magpie",
        structure_column="structure",
        cache_dir=None,
        impute=False,
        progress=False,
    )


def test_structure_formats_and_features_match_matminer():
    cells = _cells()
    df = pd.DataFrame({"formula": ["Cu", "NaCl", "Si", "Fe"], "structure": cells})
    res = _featurize_with_structures(df)
    assert list(res.structure_features.index) == [0, 1, 2]
    assert res.errors[res.errors.kind == "structure"]["id"].tolist() == [3]
    dens = DensityFeatures()
    for i in range(3):
        expected = dens.featurize(parse_structure(cells[i]))
        np.testing.assert_allclose(
            res.structure_features.loc[i, dens.feature_labels()].to_numpy(float), expected
        )
    assert res.structure_features.loc[0, "spacegroup_num"] == 225


def test_a_row_without_a_structure_is_formula_only_not_a_failure():
    cells = _cells()
    df = pd.DataFrame(
        {"formula": ["Cu", "NaCl", "Fe", "Fe"], "structure": [cells[0], cells[1], "", None]}
    )
    res = _featurize_with_structures(df)
    assert list(res.structure_features.index) == [0, 1]  # left out of the structure table
    assert res.errors.empty and res.info["rows_without_structure"] == 2
    assert len(res.features) == 4  # every formula featurized


def test_an_unreadable_structure_leaves_both_tables():
    cells = _cells()
    df = pd.DataFrame({"formula": ["Cu", "NaCl", "Fe"], "structure": [cells[0], cells[1], "junk"]})
    res = _featurize_with_structures(df)
    assert res.errors[["id", "kind"]].values.tolist() == [[2, "structure"]]
    assert "not a CIF, pymatgen JSON, extxyz or POSCAR structure" in res.errors["reason"][0]
    # not trained from its formula alone, as if it had no structure
    assert list(res.features.index) == [0, 1] and list(res.structure_features.index) == [0, 1]


def test_a_structure_of_another_compound_is_an_error_row():
    cells = _cells()  # Cu, NaCl, Si structures
    df = pd.DataFrame(
        {
            "formula": ["Cu2", "Na2Cl", "Si", "Fe2O3"],
            "structure": [cells[0], cells[1], cells[1], cells[0]],
        }
    )
    res = _featurize_with_structures(df)
    reasons = dict(zip(res.errors["id"], res.errors["reason"], strict=True))
    assert sorted(reasons) == [1, 2, 3]  # Cu2 is Cu: the cell size does not matter
    assert reasons[1].startswith("the structure is NaCl, not the formula's Na2Cl")
    assert reasons[2].startswith("the structure is NaCl, not the formula's Si")
    # a cell's file text is shown by its first line and size, not repeated whole
    shown = dict(zip(res.errors["id"], res.errors["input"], strict=True))
    first = next(line for line in cells[1].splitlines() if line.strip()).strip()
    assert shown[1].startswith(first) and "lines" in shown[1] and len(shown[1]) < 160
    assert list(res.features.index) == [0] and list(res.structure_features.index) == [0]


def test_poscar_cells_are_read_and_several_structures_in_a_cell_are_refused():
    import io

    from pymatgen.io.vasp import Poscar

    nacl = AseAtomsAdaptor.get_structure(bulk("NaCl", "rocksalt", a=5.64))
    poscar = parse_structure(str(Poscar(nacl)))
    assert poscar.composition.reduced_formula == "NaCl"
    np.testing.assert_allclose(poscar.lattice.matrix, nacl.lattice.matrix, atol=1e-6)
    frames = io.StringIO()
    ase_write(frames, [bulk("Si", "diamond", a=5.43), bulk("NaCl", "rocksalt", a=5.64)], "extxyz")
    with pytest.raises(ValueError, match=r"holds 2 structures \(extxyz frames\)"):
        parse_structure(frames.getvalue())
    si = AseAtomsAdaptor.get_structure(bulk("Si", "diamond", a=5.43))
    two_blocks = si.to(fmt="cif") + "\n" + nacl.to(fmt="cif").replace("data_NaCl", "data_b")
    with pytest.raises(ValueError, match=r"holds 2 structures \(CIF data blocks\)"):
        parse_structure(two_blocks)
    assert parse_structure(si.to(fmt="cif")).composition.reduced_formula == "Si"
    lines = str(Poscar(nacl)).splitlines()
    for comment in ("12345", ""):  # an ICSD code or nothing as the POSCAR's comment line
        cell = "\n".join([comment, *lines[1:]])
        assert parse_structure(cell).composition.reduced_formula == "NaCl"


def test_a_disordered_structure_says_what_to_do():
    from pymatgen.core import Lattice, Structure

    alloy = Structure(Lattice.cubic(3.6), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])
    df = pd.DataFrame({"formula": ["FeNi"], "structure": [alloy.to(fmt="cif")]})
    res = _featurize_with_structures(df)
    reason = res.errors["reason"][0]
    assert "disordered structure" in reason and "leave the cell blank" in reason


def test_structure_descriptors_do_not_depend_on_the_cell_chosen():
    """The same crystal as a primitive cell, a conventional cell and a supercell gets the
    same descriptors (a count of symmetry operations would grow with the cell)."""
    prim = bulk("NaCl", "rocksalt", a=5.64)
    cells = [prim, bulk("NaCl", "rocksalt", a=5.64, cubic=True), prim.repeat((2, 2, 2))]
    texts = [AseAtomsAdaptor.get_structure(a).to(fmt="cif") for a in cells]
    res = _featurize_with_structures(pd.DataFrame({"formula": ["NaCl"] * 3, "structure": texts}))
    values = res.structure_features.to_numpy(float)
    np.testing.assert_allclose(values, np.repeat(values[:1], 3, axis=0), rtol=1e-6)


def test_python_structure_objects_are_read_and_file_names_refused():
    """Tables built in Python may hold ase.Atoms, pymatgen Structures or their dicts; a
    cell holding a file name, or a JSON object that is not a structure, is a one-line
    reason."""
    atoms = bulk("Cu", "fcc", a=3.6)
    structure = AseAtomsAdaptor.get_structure(atoms)
    for cell in (atoms, structure, structure.as_dict(), json.dumps(structure.as_dict())):
        assert parse_structure(cell).composition.reduced_formula == "Cu"
    with pytest.raises(ValueError, match=r"file name \(data/Cu\.cif\), not a structure"):
        parse_structure("data/Cu.cif")
    with pytest.raises(ValueError, match="JSON object that is not a pymatgen Structure"):
        parse_structure('{"foo": 1}')
    from ase.build import molecule

    with pytest.raises(ValueError, match="not periodic in 3D"):
        parse_structure(molecule("H2O"))
    df = pd.DataFrame({"formula": ["Cu", "Cu"], "structure": [atoms, structure.as_dict()]})
    res = _featurize_with_structures(df)
    assert len(res.structure_features) == 2 and res.errors.empty


def test_cache_keys_tell_structures_apart_by_their_positions(tmp_path):
    from foundation_model.features.cache import FeatureCache

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    moved = atoms.copy()
    moved.rattle(0.01, seed=1)
    assert str(atoms) == str(moved)  # ase's text leaves the positions out
    cache = FeatureCache(tmp_path)
    assert cache.key([atoms], "f") != cache.key([moved], "f")
    assert cache.key([atoms], "f") == cache.key([atoms.copy()], "f")


def test_a_row_whose_formula_fails_leaves_the_structure_table_too():
    cells = _cells()[:2]  # Cu, NaCl
    df = pd.DataFrame({"formula": ["Cu", "Xx2O"], "structure": cells})
    res = featurize_table(
        df, "formula", structure_column="structure", cache_dir=None, progress=False
    )
    assert list(res.features.index) == [0] and list(res.structure_features.index) == [0]
    assert res.errors["id"].tolist() == [1]
