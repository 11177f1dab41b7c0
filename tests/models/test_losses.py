from __future__ import annotations

import torch

from foundation_model.models.losses import masked_cross_entropy, masked_huber, masked_l1, masked_mse


def test_masked_mse_ignores_unlabelled_and_nan():
    pred = torch.tensor([1.0, 2.0, 3.0])
    target = torch.tensor([0.0, float("nan"), 5.0])
    mask = torch.tensor([True, False, True])
    assert torch.isclose(masked_mse(pred, target, mask), torch.tensor((1.0 + 4.0) / 2))
    assert torch.isclose(masked_l1(pred, target, mask), torch.tensor(1.5))
    assert torch.isfinite(masked_huber(pred, target, mask))


def test_empty_mask_gives_attached_zero():
    pred = torch.randn(4, requires_grad=True)
    loss = masked_mse(pred, torch.full((4,), float("nan")), torch.zeros(4, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(4))


def test_sequence_shapes_and_cross_entropy():
    pred = torch.randn(3, 5)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    mask[0, :2] = True
    assert torch.isclose(masked_mse(pred, torch.zeros(3, 5), mask), (pred[0, :2] ** 2).mean())
    logits = torch.randn(4, 3, requires_grad=True)
    target = torch.tensor([0, 2, -1, 1])
    m = torch.tensor([True, True, False, True])
    expected = torch.nn.functional.cross_entropy(logits[m], target[m])
    assert torch.isclose(masked_cross_entropy(logits, target, m), expected)
    zero = masked_cross_entropy(logits, target, torch.zeros(4, dtype=torch.bool))
    assert zero.item() == 0.0 and not torch.isnan(zero)
