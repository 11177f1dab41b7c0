"""Samplers: FPS against a hand-computed case, per-environment FPS, DIRECT, random, SOAP."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from ase.build import bulk

from foundation_model.workflows.datagen.samplers import (
    Descriptor,
    DIRECTSampler,
    FPSSampler,
    RandomSampler,
    SOAPDescriptor,
    covering_radius,
    farthest_point_sampling,
)
from foundation_model.workflows.datagen.samplers.fps import fps_environments


class TableDescriptor(Descriptor):
    """Fixed vectors per frame, read from ``atoms.info['x']`` (a real descriptor of test data)."""

    def structures(self, frames):
        return np.array([a.info["x"] for a in frames], dtype=float)


def _frames(points) -> list:
    frames = []
    for p in points:
        a = bulk("Cu")
        a.info["x"] = np.atleast_1d(p)
        frames.append(a)
    return frames


def test_fps_matches_hand_computed_order() -> None:
    x = np.array([[0.0], [1.0], [3.0], [7.0], [8.0]])
    # from 0: farthest is 8 (idx 4); then min-distances [0,1,3,1,0] -> 3 (idx 2);
    # then [0,1,0,1,0] -> first maximum, idx 1
    assert farthest_point_sampling(x, 4, first=0) == [0, 4, 2, 1]
    assert covering_radius(x, [0, 4]) == pytest.approx(3.0)
    assert covering_radius(x, [0, 4, 2]) == pytest.approx(1.0)
    sampler = FPSSampler(n_samples=3, descriptor=TableDescriptor())
    chosen = sampler.select(_frames([0.0, 1.0, 3.0, 7.0, 8.0]), seed=0)
    first = int(np.random.default_rng(0).integers(5))
    assert chosen == farthest_point_sampling(x, 3, first) and chosen[0] == first


def test_fps_per_environment_hand_case() -> None:
    # structure 0 has environments at 0 and 10; structure 1 at 0.5; structure 2 at 5
    envs = [np.array([[0.0], [10.0]]), np.array([[0.5]]), np.array([[5.0]])]
    # after taking structure 0, structure 2 (distance 5) is farther than structure 1 (0.5)
    assert fps_environments(envs, 3, first=0) == [0, 2, 1]
    assert fps_environments(envs, 2, first=1) == [1, 0]  # 10 is the farthest environment


def test_direct_picks_one_per_cluster_and_random_is_seeded() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    pts = np.concatenate([c + rng.normal(0, 0.3, (20, 2)) for c in centres])
    frames = _frames(pts)
    chosen = DIRECTSampler(n_samples=3, descriptor=TableDescriptor(), n_components=2).select(
        frames, seed=0
    )
    assert sorted(i // 20 for i in chosen) == [0, 1, 2]
    r1 = RandomSampler(10).select(frames, seed=3)
    assert r1 == RandomSampler(10).select(frames, seed=3) and len(set(r1)) == 10
    assert RandomSampler(100).select(frames[:5], seed=0).__len__() == 5


def test_soap_structure_and_environment_vectors() -> None:
    pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
    a = bulk("Cu", "fcc", a=3.6, cubic=True)
    b = a.copy()
    b.symbols[0] = "Al"
    soap = SOAPDescriptor(r_cut=3.5, n_max=2, l_max=2, species=["Al", "Cu"])
    x = soap.structures([a, b])
    envs = soap.environments([a, b])
    assert x.shape[0] == 2 and [e.shape[0] for e in envs] == [4, 4]
    assert np.linalg.norm(x[0] - x[1]) > 0
    assert np.allclose(envs[0].mean(axis=0), x[0], atol=1e-6)
    fps = FPSSampler(n_samples=2, descriptor=soap, per_environment=True)
    assert sorted(fps.select([a, b, a.copy()], seed=0))[-1] in (1, 2)


def test_soap_without_dscribe_fails_when_constructed(monkeypatch) -> None:
    """The missing ``datagen`` extra is reported when the config is read, not after explore."""
    for name in ("dscribe", "dscribe.descriptors"):
        monkeypatch.setitem(sys.modules, name, None)  # ``import dscribe`` raises ImportError
    with pytest.raises(
        ImportError, match=r"SOAPDescriptor needs dscribe: run `uv sync --locked --extra datagen`"
    ):
        SOAPDescriptor(r_cut=3.5, n_max=2, l_max=2)
    with pytest.raises(ImportError, match="SOAPDescriptor needs dscribe"):
        FPSSampler(n_samples=2)  # builds the default SOAP descriptor


@pytest.mark.slow
def test_direct_on_sevennet_embeddings() -> None:
    """DIRECT on SevenNet-0 embeddings (``foundation_model.backbones.embedding``)."""
    from foundation_model.workflows.datagen.samplers import BackboneDescriptor

    frames = []
    for a in (3.5, 3.52, 3.9, 3.92, 4.3, 4.32):
        frames.append(bulk("Cu", "fcc", a=a, cubic=True))
    sampler = DIRECTSampler(n_samples=3, descriptor=BackboneDescriptor("sevennet"), n_components=2)
    chosen = sampler.select(frames, seed=0)
    assert sampler.features.shape[0] == 6 and len(set(chosen)) == 3
    assert sorted(i // 2 for i in chosen) == [0, 1, 2]  # one per lattice-constant pair
