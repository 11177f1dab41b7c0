"""Per-element reference energies by least squares."""

from __future__ import annotations

import numpy as np
import torch

from foundation_model.backbones.normalization import ReferenceEnergies, fit_reference_energies


def test_reference_energies_are_recovered():
    rng = np.random.default_rng(0)
    truth = {13: -3.7, 28: -5.5, 29: -4.1}
    numbers = [rng.choice(list(truth), size=rng.integers(2, 9)) for _ in range(40)]
    energies = np.array([sum(truth[z] for z in zs) for zs in numbers])
    values = fit_reference_energies(numbers, energies)
    for z, e in truth.items():
        assert abs(values[z] - e) < 1e-6
    assert values[1] == 0.0  # absent element
    ref = ReferenceEnergies()
    ref.set(values)
    z = torch.tensor([13, 29, 29])
    total = ref(z, torch.tensor([0, 0, 1]), 2)
    assert torch.allclose(total, torch.tensor([-7.8, -4.1]), atol=1e-5)


def test_single_element_ratio_is_solvable():
    numbers = [np.array([29] * n) for n in (4, 8, 4)]
    values = fit_reference_energies(numbers, np.array([-14.0, -28.0, -14.0]))
    assert abs(values[29] + 3.5) < 1e-5


def test_elements_without_a_fitted_reference_warn_once_at_prediction():
    import warnings

    import pytest

    values = fit_reference_energies([np.array([29, 29])], np.array([-8.0]))
    ref = ReferenceEnergies()
    ref.set(values)
    ref.eval()
    with pytest.warns(UserWarning, match=r"\['Fe'\] had no structure in the fine-tuning data"):
        ref(torch.tensor([29, 26]), torch.tensor([0, 0]), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per element, and never for fitted ones
        ref(torch.tensor([26, 29]), torch.tensor([0, 0]), 1)
        ref.train()
        ref(torch.tensor([28]), torch.tensor([0]), 1)


def test_an_element_fitted_to_exactly_zero_is_not_called_absent():
    """Labels from the backbone itself leave zero residuals: fitted energies of 0 eV."""
    import warnings

    numbers = [np.array([6, 1, 1, 1, 1]), np.array([8, 1, 1])]
    values = fit_reference_energies(numbers, np.zeros(2))
    present = np.zeros(119, dtype=bool)
    present[[1, 6, 8]] = True
    ref = ReferenceEnergies()
    ref.set(values, present=present)
    ref.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref(torch.tensor([6, 1, 8]), torch.tensor([0, 0, 0]), 1)
    # kept by the checkpoint; a state dict from before ``present`` still loads
    again = ReferenceEnergies()
    again.load_state_dict(ref.state_dict())
    assert again.present[[1, 6, 8]].all() and not again.present[26]
    old = {k: v for k, v in ref.state_dict().items() if k != "present"}
    old["values"] = torch.where(torch.arange(119) == 29, -3.5, 0.0)
    legacy = ReferenceEnergies()
    legacy.load_state_dict(old)
    assert legacy.present.nonzero().flatten().tolist() == [29]
