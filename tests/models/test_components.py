from __future__ import annotations

import pytest
import torch

from foundation_model.models.components import (
    MLP,
    ContrastiveAlignment,
    CrossReconstruction,
    FoundationEncoder,
    GatedFusion,
    MaskedFeatureModeling,
)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_mlp_options(norm):
    mlp = MLP([6, 8, 8, 3], norm=norm, activation="GELU", dropout=0.1, residual=True)
    assert mlp(torch.randn(4, 6)).shape == (4, 3)
    with pytest.raises(ValueError, match="Unknown activation"):
        MLP([2, 2], activation="Nope")


def test_encoder_with_structure_and_fusion_rows():
    enc = FoundationEncoder(6, [8, 8], 5, structure_input_dim=3).eval()
    xf, xs = torch.randn(4, 6), torch.randn(4, 3)
    has = torch.tensor([True, False, True, False])
    out = enc(xf, xs, has)
    assert out.h_task.shape == (4, 5) and out.h_structure.shape == (4, 8)
    # rows without structure see the formula latent only
    alone = enc(xf)
    assert torch.allclose(out.h_latent[~has], alone.h_latent[~has])
    assert not torch.allclose(out.h_latent[has], alone.h_latent[has])
    with pytest.raises(ValueError, match="must end at the formula latent width"):
        FoundationEncoder(6, [8], 5, structure_input_dim=3, structure_hidden_dims=[4])


def test_modality_dropout_all_drops_structure_in_training():
    fusion = GatedFusion(4, modality_dropout=1.0)
    hf, hs = torch.randn(3, 4), torch.randn(3, 4)
    assert torch.equal(fusion(hf, hs, torch.ones(3, dtype=torch.bool)), hf)
    fusion.eval()
    assert not torch.equal(fusion(hf, hs, torch.ones(3, dtype=torch.bool)), hf)


def test_ssl_losses_finite_and_differentiable():
    enc = torch.nn.Linear(6, 8)
    x = torch.randn(10, 6)
    mfm = MaskedFeatureModeling(8, 6, 0.3)
    loss = mfm(x, enc)
    loss.backward()
    assert torch.isfinite(loss) and enc.weight.grad is not None
    hf, hs = torch.randn(5, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True)
    has = torch.tensor([True, True, True, False, False])
    c = ContrastiveAlignment(8, 4, 0.1)(hf, hs, has)
    r = CrossReconstruction(8, 6, 3)(hf, hs, torch.randn(5, 6), torch.randn(5, 3), has)
    (c + r).backward()
    assert hf.grad[:3].abs().sum() > 0 and hf.grad[3:].abs().sum() == 0
    one = ContrastiveAlignment(8)(hf, hs, torch.tensor([True, False, False, False, False]))
    assert one.item() == 0.0
