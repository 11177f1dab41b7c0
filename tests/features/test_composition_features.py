"""Composition presets against matminer called directly; failures; cache; imputation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from matminer.featurizers.composition import ElementProperty, Stoichiometry, ValenceOrbital
from pymatgen.core import Composition

from foundation_model.features.imputation import MedianImputer
from foundation_model.features.pipeline import featurize_table

FORMULAS = ["Fe2O3", "NaCl", "SiO2", "Fe0.7Ni0.3", "Bi2Te3"]


def _direct(featurizer, formulas: list[str]) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [featurizer.featurize(Composition(f)) for f in formulas]
    return pd.DataFrame(rows, columns=featurizer.feature_labels(), dtype=float)


def test_magpie_preset_matches_matminer(tmp_path):
    res = featurize_table(
        pd.DataFrame({"formula": FORMULAS}),
        "formula",
        "magpie",
        cache_dir=None,
        impute=False,
        progress=False,
    )
    expected = _direct(ElementProperty.from_preset("magpie"), FORMULAS)
    assert res.features.shape == (5, 132)
    assert list(res.features.columns) == list(expected.columns)
    np.testing.assert_allclose(res.features.to_numpy(), expected.to_numpy(), equal_nan=True)
    assert res.errors.empty


def test_rich_preset_contains_other_featurizers_values():
    res = featurize_table(
        pd.DataFrame({"formula": FORMULAS}),
        "formula",
        "rich",
        cache_dir=None,
        impute=False,
        progress=False,
    )
    for featurizer in (Stoichiometry(), ValenceOrbital()):
        expected = _direct(featurizer, FORMULAS)
        np.testing.assert_allclose(res.features[expected.columns].to_numpy(), expected.to_numpy())
    assert {"compound possible", "band center", "Fe", "O"} <= set(res.features.columns)
    assert res.features.shape[1] > 250


def test_bad_formulas_are_reported_and_run_continues():
    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "formula": ["Fe2O3", "Xx2Q", None, "NaCl"]})
    res = featurize_table(df, "formula", "magpie", id_column="id", cache_dir=None, progress=False)
    assert list(res.features.index) == ["a", "d"]
    assert list(res.errors["id"]) == ["b", "c"]
    assert "parse" in res.errors["reason"].iloc[0] or "element" in res.errors["reason"].iloc[0]
    assert "empty or missing" in res.errors["reason"].iloc[1]
    assert not res.features.isna().any().any()


def test_cache_hit_returns_identical_values(tmp_path):
    df = pd.DataFrame({"formula": FORMULAS + ["Qq"]})
    first = featurize_table(df, "formula", "magpie", cache_dir=tmp_path, progress=False)
    second = featurize_table(df, "formula", "magpie", cache_dir=tmp_path, progress=False)
    assert not first.info["cache_hit"] and second.info["cache_hit"]
    pd.testing.assert_frame_equal(first.features, second.features)
    pd.testing.assert_frame_equal(first.errors, second.errors)
    other = featurize_table(df, "formula", "rich", cache_dir=tmp_path, progress=False)
    assert not other.info["cache_hit"]  # the configuration is part of the key


def test_a_damaged_or_unwritable_cache_costs_time_not_results(tmp_path):
    df = pd.DataFrame({"formula": FORMULAS})
    first = featurize_table(df, "formula", "magpie", cache_dir=tmp_path, progress=False)
    (entry,) = tmp_path.glob("*.parquet")
    entry.write_bytes(entry.read_bytes()[:500])  # e.g. a disk that filled up
    with pytest.warns(UserWarning, match="unreadable .*featurizing again and rewriting it"):
        again = featurize_table(df, "formula", "magpie", cache_dir=tmp_path, progress=False)
    assert not again.info["cache_hit"]
    pd.testing.assert_frame_equal(first.features, again.features)
    hit = featurize_table(df, "formula", "magpie", cache_dir=tmp_path, progress=False)
    assert hit.info["cache_hit"]  # the entry was rewritten
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    with pytest.warns(UserWarning, match="not written .*used without caching"):
        out = featurize_table(df, "formula", "magpie", cache_dir=blocked, progress=False)
    pd.testing.assert_frame_equal(first.features, out.features)


def test_parallel_equals_serial(tmp_path):
    df = pd.DataFrame({"formula": FORMULAS * 3})
    serial = featurize_table(df, "formula", "magpie", cache_dir=None, progress=False)
    from foundation_model.features.composition import featurize_formulas
    from foundation_model.features.presets import COMPOSITION_PRESETS

    raw = featurize_formulas(
        FORMULAS * 3, COMPOSITION_PRESETS["magpie"], n_jobs=2, chunk_size=4, progress=False
    )
    np.testing.assert_allclose(raw.values, serial.features.to_numpy())


def test_median_imputer_policy():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0, 10.0], "b": [np.nan] * 4, "c": [0.0, 1.0, 2.0, 3.0]})
    imp = MedianImputer().fit(df)
    out = imp.transform(df)
    assert imp.dropped_ == ["b"] and list(out.columns) == ["a", "c"]
    assert out.loc[1, "a"] == 3.0  # median of 1, 3, 10
    with pytest.raises(KeyError, match="same preset"):
        imp.transform(df.drop(columns="a"))


def test_unknown_preset_and_column_give_clear_errors():
    df = pd.DataFrame({"formula": ["NaCl"]})
    with pytest.raises(ValueError, match="choose one of"):
        featurize_table(df, "formula", "nope", cache_dir=None, progress=False)
    with pytest.raises(KeyError, match="--formula-column"):
        featurize_table(df, "composition", cache_dir=None, progress=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CuSO4·5H2O", "CuH10SO9"),
        ("CuSO4*5H2O", "CuH10SO9"),
        ("CuSO4 • 5 H2O", "CuH10SO9"),
        ("Na2CO3·0.5H2O", "Na2CO3.5H1"),
        ("2NaCl·Al2O3", "Na2Cl2Al2O3"),
        ("Fe0.7Ni0.3", "Fe0.7Ni0.3"),
    ],
)
def test_parse_formula_sums_adducts_and_hydrates(text, expected):
    from foundation_model.features.composition import parse_formula

    assert parse_formula(text) == Composition(expected)


@pytest.mark.parametrize(
    "text", ["CuSO4·", "·H2O", "CuSO4··H2O", "fe2o3", "Xx2O", " ", "CuSO4.5H2O", "H2O 2"]
)
def test_parse_formula_rejects_malformed_text(text):
    from foundation_model.features.composition import parse_formula

    with pytest.raises(Exception):  # noqa: B017 -- pymatgen raises several types
        parse_formula(text)


def test_a_hydrate_featurizes_as_its_total_composition():
    res = featurize_table(
        pd.DataFrame({"formula": ["CuSO4·5H2O", "CuH10SO9"]}),
        "formula",
        "magpie",
        cache_dir=None,
        impute=False,
        progress=False,
    )
    assert res.errors.empty
    np.testing.assert_allclose(res.features.iloc[0], res.features.iloc[1])


def test_elements_without_any_data_are_errors_not_average_elements():
    from foundation_model.features.composition import elements_without_data

    # matminer would impute every Magpie property of these with a made-up average element
    assert {"Og", "Ts", "Nh"} <= elements_without_data() and "Fe" not in elements_without_data()
    df = pd.DataFrame({"formula": ["Og2Ts", "Fe2O3", "Lr2O3"]})
    res = featurize_table(df, "formula", preset="magpie", cache_dir=None, progress=False)
    assert list(res.features.index) == [1, 2]  # Lr has partial data: kept, gaps imputed
    assert "Og, Ts have no tabulated elemental properties" in res.errors["reason"].iloc[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CuSO4.5H2O", "is ambiguous"),
        ("MgSO4.7H2O", "is ambiguous"),
        ("H2O 2", "after a space"),
        ("Fe0O", "gives Fe an amount of 0"),  # pymatgen reads pure O
        ("Mg0.00Al2O4", "gives Mg an amount of 0"),
        ("Fe(III)2O3", r"oxidation state \(III\)"),  # pymatgen reads Fe I6 O3
        ("Mn(IV)O2", r"oxidation state \(IV\)"),  # Mn V I O2
        ("Cu(I)Cl", r"oxidation state \(I\)"),
        ("TIO2", "lone 'T'"),  # TiO2 in capitals: pymatgen reads H I O2
        ("DY2O3", "lone 'D'"),  # Dy2O3 in capitals: deuterium + yttrium
        ("D2O", "lone 'D'"),
        # other ways to an amount of 0, which pymatgen drops silently
        ("Fe.0O", "gives Fe an amount of 0"),
        ("(Fe)0O", "gives Fe an amount of 0"),
        ("Fe2(SO4)0", "gives O, S an amount of 0"),
        ("FeNi1e-9", "gives Ni an amount of 0"),  # under pymatgen's 1e-8
        ("CuSO4·0H2O", "multiplies 'H2O' by 0"),
        ("Fe(OH)2*0H2O", "multiplies 'H2O' by 0"),  # H and O stay: only the factor tells
        ("Fe1e400Ni", "too large to be a number"),
    ],
)
def test_parse_formula_names_the_misreading(text, message):
    """Texts pymatgen would silently misread (O4.5, H2O2, a dropped element) are refused
    with the fix; small amounts stay."""
    from foundation_model.features.composition import parse_formula

    with pytest.raises(ValueError, match=message):
        parse_formula(text)
    assert str(parse_formula("Fe0.05Ni0.95")) == "Fe0.05 Ni0.95"
    # symbols that start like the refused ones stay: Ti, Dy, Ta, Db; groups with I/V in them
    from pymatgen.core import Composition

    for text, plain in [("TiO2", "TiO2"), ("Dy2Ta2O7", "Dy2Ta2O7"), ("(VO)2P2O7", "V2P2O9")]:
        assert parse_formula(text) == Composition(plain)
    assert parse_formula("Ca(IO3)2") == Composition("CaI2O6")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("O2-", "a '\\+' or '-' \\(a charge, a range or an amount"),
        ("NaCl\u2212", "a '\\+' or '-'"),  # the unicode minus sign
        ("LaNiO3-δ", "a '\\+' or '-'"),
        ("Al2O3\u2013ZrO2", "a '\\+' or '-'"),  # an en dash
        ("Fe1e+1O", "exponent with '\\+'"),
        ("Fe2E0Se", "capital E"),  # pymatgen read it as an element E with amount 0
        ("(Fe,Ni)O", "has ',', which a formula cannot hold"),
        ("Fe_2O_3", "has '_'"),
        ("NaCl)", "unbalanced brackets"),
        ("Fe3+", "a '\\+' or '-'"),
        ("La1-xSrxMnO3", "a '\\+' or '-'"),
        ("LaSrxMnO3", "'Srx', not an element symbol"),
        ("fe2o3", "'fe', 'o', not an element symbol"),
        ("Fe1E-3Ni", "capital E"),
        ("Fe2O3\u200b", "ZERO WIDTH SPACE.*invisible"),
        ("Fe₂O₃", "SUBSCRIPT TWO.*plain digits"),
        ("CuSO4×5H2O", "MULTIPLICATION SIGN.*'·' or '\\*'"),
    ],
)
def test_parse_formula_says_why_pymatgen_cannot_read_it(text, message):
    """pymatgen's own reasons ("could not convert string to float: '2-'") are replaced by
    the problem and the fix; lower-case exponents and non-breaking spaces still read."""
    from pymatgen.core import Composition

    from foundation_model.features.composition import parse_formula

    with pytest.raises(ValueError, match=message):
        parse_formula(text)
    assert parse_formula("Fe1e-3Ni") == Composition({"Fe": 0.001, "Ni": 1})
    assert parse_formula("Fe2\u00a0O3") == Composition("Fe2O3")


def test_ion_property_refuses_too_many_elements_instead_of_stalling():
    """26 elements kept IonProperty's oxidation-state search busy for minutes."""
    from foundation_model.features.pipeline import featurize_table
    from foundation_model.features.runner import MAX_ION_PROPERTY_ELEMENTS

    many = "FeNiCoCrMnTiVNbMoWAlSiCNBCuZnGaGeSnPbBiSbTeSeS"  # 26 elements
    df = pd.DataFrame({"formula": [many, "NaCl"]})
    res = featurize_table(df, "formula", preset="rich", cache_dir=None, progress=False)
    assert list(res.features.index) == [1]  # row 0 refused, in seconds
    assert f"at most {MAX_ION_PROPERTY_ELEMENTS}" in res.errors["reason"].iloc[0]
    magpie = featurize_table(df, "formula", preset="magpie", cache_dir=None, progress=False)
    assert list(magpie.features.index) == [0, 1]  # Magpie has no such search
