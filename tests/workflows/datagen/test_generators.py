"""Generators: composition, charge neutrality, distances, kinds; augmentation."""

from __future__ import annotations

from collections import Counter

import ase
import numpy as np
import pytest

from foundation_model.workflows.datagen.explore.vacuum import has_vacuum
from foundation_model.workflows.datagen.generators import (
    AdsorbateGenerator,
    AlloyGenerator,
    Augmentation,
    CovalentGenerator,
    InterfaceGenerator,
    IonicGenerator,
    KnowledgeGenerator,
    SurfaceGenerator,
)
from foundation_model.workflows.datagen.generators.alloy import shell_pairs, warren_cowley
from foundation_model.workflows.datagen.validation import StructureValidator, closest_pair


def _ok_distances(atoms) -> bool:
    return closest_pair(atoms, 0.6) is None


def test_alloy_exact_composition_and_seeded() -> None:
    gen = AlloyGenerator(["Cu", "Al"], [0.75, 0.25], supercell=(2, 2, 2), n_structures=3)
    first, again = gen.generate(3), gen.generate(3)
    for a, b in zip(first, again, strict=True):
        assert Counter(a.get_chemical_symbols()) == {"Cu": 24, "Al": 8}
        assert a.get_chemical_symbols() == b.get_chemical_symbols()
        assert _ok_distances(a) and a.info["generator"] == "AlloyGenerator"
    assert first[0].get_chemical_symbols() != first[1].get_chemical_symbols()
    hea = AlloyGenerator(["Fe", "Cr", "Ni", "Co", "Mn"], lattice="bcc", supercell=(2, 2, 2))
    counts = Counter(hea.generate(0)[0].get_chemical_symbols())
    assert sum(counts.values()) == 16 and max(counts.values()) - min(counts.values()) <= 1


def test_alloy_sqs_option_lowers_short_range_order() -> None:
    gen = AlloyGenerator(["Cu", "Au"], supercell=(2, 2, 2), n_structures=1, sqs=True, sqs_trials=40)
    sqs = gen.generate(0)[0]
    pairs = shell_pairs(gen.template())
    rng = np.random.default_rng(1)
    base = np.repeat([0, 1], 16)
    random_sro = np.mean(
        [np.abs(warren_cowley(rng.permutation(base), pairs, 2)).sum() for _ in range(40)]
    )
    assert sqs.info["sro_score"] < random_sro


def test_ionic_neutral_with_oxidation_states() -> None:
    gen = IonicGenerator({"Mg": 0.5, "Ca": 0.5}, {"O": 1.0}, supercell=(1, 1, 1), n_structures=2)
    for atoms in gen.generate(0):
        q = atoms.get_initial_charges()
        assert q.sum() == pytest.approx(0.0)
        sym = np.array(atoms.get_chemical_symbols())
        assert set(q[sym == "O"]) == {-2.0} and set(q[sym != "O"]) == {2.0}
        assert Counter(sym) == {"O": 4, "Mg": 2, "Ca": 2}
        assert _ok_distances(atoms)
    fluorite = IonicGenerator({"Zr": 1.0}, {"O": 1.0}, prototype="fluorite").generate(0)[0]
    assert Counter(fluorite.get_chemical_symbols()) == {"Zr": 4, "O": 8}
    with pytest.raises(ValueError, match="charge-neutral"):
        IonicGenerator({"Na": 1.0}, {"Ne": 1.0})


def test_covalent_structures() -> None:
    diamond = CovalentGenerator(["C"], "diamond", supercell=(1, 1, 1)).generate(0)[0]
    d = diamond.get_all_distances(mic=True)
    assert np.min(d[d > 0]) == pytest.approx(1.54, abs=0.03)  # C-C bond of diamond
    sic = CovalentGenerator(["Si", "C"], "diamond", supercell=(1, 1, 1)).generate(0)[0]
    assert Counter(sic.get_chemical_symbols()) == {"Si": 4, "C": 4}
    sheet = CovalentGenerator(["C"], "graphene", supercell=(3, 3, 1), vacancies=1).generate(0)[0]
    assert len(sheet) == 17 and sheet.info["kind"] == "slab" and has_vacuum(sheet)
    graphite = CovalentGenerator(["C"], "graphite", supercell=(2, 2, 1)).generate(0)[0]
    assert not has_vacuum(graphite) and _ok_distances(graphite)


def test_surface_adsorbate_and_interface() -> None:
    surf = SurfaceGenerator(["Pt"], miller=(1, 1, 1), layers=3, size=(3, 3), vacuum=6.0)
    slab = surf.generate(0)[0]
    assert len(slab) == 27 and has_vacuum(slab) and slab.info["kind"] == "slab"
    ads = AdsorbateGenerator(surf, ["CO", "O"], n_structures=2).generate(1)
    for atoms in ads:
        assert Counter(atoms.get_chemical_symbols()) == {"Pt": 27, "O": 2, "C": 1}
        assert _ok_distances(atoms)
        top = atoms.positions[:27, 2].max()
        assert (atoms.positions[27:, 2] > top + 0.8).all()  # adsorbates sit above the surface
        sym = atoms.get_chemical_symbols()
        c = sym.index("C")
        o_of_co = min(range(27, len(atoms)), key=lambda k: atoms.get_distance(c, k) or 99.0)
        assert atoms.positions[c, 2] < atoms.positions[o_of_co, 2]  # CO binds through carbon
    iface = InterfaceGenerator(("Cu", "fcc"), ("Ni", "fcc"), size=(2, 2)).generate(0)[0]
    assert Counter(iface.get_chemical_symbols()) == {"Cu": 32, "Ni": 32}
    assert not has_vacuum(iface) and _ok_distances(iface)
    mixed = InterfaceGenerator(vacuum=6.0, interdiffusion=0.5).generate(0)[0]
    z = mixed.positions[:, 2]
    assert has_vacuum(mixed) and (mixed.numbers[z < np.median(z)] == 28).any()


def test_knowledge_generator_from_formula() -> None:
    pytest.importorskip("pyxtal", reason="pyxtal not installed: uv sync --extra datagen")
    gen = KnowledgeGenerator("TiO2", formula_units=2, space_groups=[136, 141, 225], n_structures=2)
    for atoms in gen.generate(0):
        assert Counter(atoms.get_chemical_symbols()) == {"Ti": 2, "O": 4} or Counter(
            atoms.get_chemical_symbols()
        ) == {"Ti": 4, "O": 8}
        assert atoms.info["space_group"] in (136, 141, 225)
        assert closest_pair(atoms, 0.5) is None
    with pytest.raises(ValueError, match="unknown element"):
        KnowledgeGenerator("Xx2O")


def test_unknown_element_and_bad_fractions_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown element\(s\) \['Qq'\]"):
        AlloyGenerator(["Cu", "Qq"])
    with pytest.raises(ValueError, match="sum to 1"):
        AlloyGenerator(["Cu", "Al"], [0.5, 0.6])


def test_augmentation_strains_cells_and_keeps_slab_vacuum() -> None:
    seeds = AlloyGenerator(["Cu"], supercell=(1, 1, 1), n_structures=1).generate(0)
    slab = SurfaceGenerator(["Cu"], size=(2, 2), layers=2).generate(0)
    seeds[0].info["seed_id"], slab[0].info["seed_id"] = "a", "b"
    out = Augmentation(n_strained=2, max_strain=0.05, n_rattled=1, rattle_std=0.1).apply(
        seeds + slab, seed=0
    )
    assert len(out) == 8 and [a.info["augmentation"] for a in out].count("none") == 2
    strained = [a for a in out if a.info["augmentation"].startswith("strain")]
    bulk_strained = [a for a in strained if a.info["parent_id"] == "a"][0]
    assert not np.allclose(bulk_strained.cell, seeds[0].cell)
    slab_strained = [a for a in strained if a.info["parent_id"] == "b"][0]
    assert slab_strained.cell[2, 2] == pytest.approx(slab[0].cell[2, 2])
    assert StructureValidator().check(bulk_strained, 2.0)[0] is not None
    from ase.build import molecule

    water = molecule("H2O")  # no cell, no periodic direction: rattled copies only
    water.info["seed_id"] = "w"
    copies = Augmentation(n_strained=2, n_rattled=1).apply([water], seed=0)
    kinds = [a.info["augmentation"] for a in copies]
    assert len(kinds) == 2 and kinds[0] == "none" and kinds[1].startswith("rattle")


def test_covalent_default_lattice_constant_fits_the_structure() -> None:
    """A metal in the diamond structure gets covalent bonds, not its fcc lattice constant
    (Cu: 1.56 Å bonds before); reference diamond elements and SiC keep their values."""
    from ase.data import atomic_numbers, covalent_radii

    def shortest(atoms: ase.Atoms) -> float:
        d = atoms.get_all_distances(mic=True)
        return float(np.min(d[d > 0]))

    for elements, structure in (
        (["Cu"], "diamond"),
        (["Ga", "As"], "diamond"),
        (["Si"], "graphene"),
    ):
        atoms = CovalentGenerator(elements, structure, supercell=(1, 1, 1)).generate(0)[0]
        bond = sum(covalent_radii[atomic_numbers[e]] for e in (elements * 2)[:2])
        assert shortest(atoms) == pytest.approx(bond, abs=1e-6), elements
    for element, a in (("C", 3.57), ("Si", 5.43), ("Ge", 5.66)):
        atoms = CovalentGenerator([element], "diamond", supercell=(1, 1, 1)).generate(0)[0]
        assert atoms.cell.lengths() == pytest.approx([a] * 3)
    sic = CovalentGenerator(["Si", "C"], "diamond", supercell=(1, 1, 1)).generate(0)[0]
    assert sic.cell.lengths() == pytest.approx([4.36] * 3)
    graphite = CovalentGenerator(["C"], "graphite", supercell=(1, 1, 1)).generate(0)[0]
    assert graphite.cell.lengths()[0] == pytest.approx(2.46)
    given = CovalentGenerator(["Cu"], "diamond", lattice_constant=5.0, supercell=(1, 1, 1))
    assert given.generate(0)[0].cell.lengths() == pytest.approx([5.0] * 3)
