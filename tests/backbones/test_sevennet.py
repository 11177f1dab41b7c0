"""SevenNet adapter (needs ``uv sync --extra sevenn``); SevenNet-0 weights load offline."""

from __future__ import annotations

import pytest

pytest.importorskip("sevenn", reason="SevenNet not installed: uv sync --extra sevenn")

from adapter_checks import check_physics, check_short_fine_tune, check_unknown_element  # noqa: E402

from foundation_model.backbones import MLIPCalculator, MLIPFineTuneModule, SevenNetBackbone  # noqa: E402


@pytest.fixture(scope="module")
def backbone() -> SevenNetBackbone:
    return SevenNetBackbone("7net-0")


def test_sevennet_physics_and_unknown_element(backbone):
    module = MLIPFineTuneModule(backbone, fit_reference_energies=False)
    check_physics(MLIPCalculator(module, device="cpu"))
    assert backbone.cutoff == 5.0 and backbone.node_dim == 128
    missing = next(z for z in range(1, 95) if z not in backbone.elements)
    from ase.data import chemical_symbols

    check_unknown_element(module, chemical_symbols[missing])


def test_direct_forces_or_stress_are_refused_when_the_module_is_built(backbone):
    """SevenNet has only the energy's derivatives: asking for direct forces or stress is one
    line when the module is built, before any data is read or reference energy fitted."""
    from foundation_model.backbones.properties import (
        EnergyProperty,
        ForcesProperty,
        StressProperty,
    )

    for props, said in (
        ([EnergyProperty(), ForcesProperty(conservative=False)], "no direct force output"),
        ([EnergyProperty(), StressProperty(conservative=False)], "no direct stress output"),
    ):
        with pytest.raises(ValueError, match=said):
            MLIPFineTuneModule(backbone, properties=props)


def test_sevennet_short_fine_tune(backbone, emt_structures, tmp_path):
    module = MLIPFineTuneModule(backbone, ema_decay=0.9)
    check_short_fine_tune(module, emt_structures, tmp_path)


def test_pretrained_name_without_local_weights_is_one_clear_error(tmp_path, monkeypatch):
    """Names whose weights ship with sevenn load from disk; another name goes to sevenn's
    download, and a failed download (here: the network refused, as on an offline machine;
    tests never download) is one line naming what is available offline and the
    local-checkpoint alternative, as is a typo."""
    import sevenn.util

    from foundation_model.backbones.sevennet import offline_pretrained_names, resolve_checkpoint

    offline = offline_pretrained_names()
    assert "7net-0" in offline
    assert resolve_checkpoint("SevenNet-0") == sevenn.util.pretrained_name_to_path("7net-0")
    calls = []

    def no_network(path: str, url: str) -> str:
        calls.append(url)
        raise ConnectionError(f"Failed to resolve 'github.com' for {url}")

    monkeypatch.setattr(sevenn.util, "download_checkpoint", no_network)
    remote = [n for n in sevenn.util.get_available_pretrained_models() if n not in offline]
    cases = {"7net-typo": "neither a SevenNet checkpoint file nor a pretrained SevenNet name"}
    if remote:
        cases[remote[0]] = "download failed (Failed to resolve 'github.com'"
    for name, problem in cases.items():
        with pytest.raises(FileNotFoundError) as info:
            SevenNetBackbone(name)
        message = str(info.value)
        assert "\n" not in message and f"'{name}'" in message and problem in message
        assert f"available offline here ({', '.join(offline)})" in message
        assert "path of a local SevenNet checkpoint" in message
    assert len(calls) == (1 if remote else 0)  # only the known name tried sevenn's download
    local = tmp_path / "my_7net.pth"
    local.symlink_to(resolve_checkpoint("7net-0"))
    assert resolve_checkpoint(str(local)) == str(local)
