from __future__ import annotations

import math

import torch

from foundation_model.models.loss_weighting import UncertaintyWeighting


def test_formula_matches_written_one():
    w = UncertaintyWeighting(["a", "b"], {"a": 2.0, "b": 0.5})
    with torch.no_grad():
        w.log_sigma.copy_(torch.tensor([0.3, -0.2]))
    la, lb = torch.tensor(1.7), torch.tensor(0.4)
    total, parts = w({"a": la, "b": lb})
    ea = 0.5 * 2.0 * math.exp(-2 * 0.3) * 1.7 + 0.3
    eb = 0.5 * 0.5 * math.exp(-2 * -0.2) * 0.4 - 0.2
    assert math.isclose(parts["a"].item(), ea, rel_tol=1e-6)
    assert math.isclose(total.item(), ea + eb, rel_tol=1e-6)


def test_disabled_is_weighted_sum_and_absent_task_is_zero():
    w = UncertaintyWeighting(["a", "b"], {"a": 3.0}, enabled=False)
    total, _ = w({"a": torch.tensor(2.0), "b": torch.tensor(1.0)})
    assert total.item() == 7.0
    w2 = UncertaintyWeighting(["a", "b"])
    total, parts = w2(
        {"a": torch.tensor(1.0), "b": torch.tensor(5.0)},
        {"a": torch.tensor(True), "b": torch.tensor(False)},
    )
    assert parts["b"].item() == 0.0
    assert math.isclose(total.item(), 0.5, rel_tol=1e-6)


def test_log_sigma_learns_towards_loss_scale():
    w = UncertaintyWeighting(["a"])
    opt = torch.optim.SGD(w.parameters(), lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        total, _ = w({"a": torch.tensor(4.0)})
        total.backward()
        opt.step()
    # optimum of 0.5 * exp(-2s) * L + s is exp(2s) = L, i.e. sigma = sqrt(L) = 2
    assert math.isclose(w.sigmas()["a"], 2.0, rel_tol=1e-2)
