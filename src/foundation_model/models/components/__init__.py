"""Reusable model parts: MLPs, encoders, fusion, deposit, self-supervised auxiliaries."""

from foundation_model.models.components.contrastive import ContrastiveAlignment
from foundation_model.models.components.cross_reconstruction import CrossReconstruction
from foundation_model.models.components.deposit import Deposit
from foundation_model.models.components.foundation_encoder import EncoderOutput, FoundationEncoder
from foundation_model.models.components.gated_fusion import GatedFusion
from foundation_model.models.components.masked_feature_modeling import MaskedFeatureModeling
from foundation_model.models.components.mlp import MLP

__all__ = [
    "MLP",
    "ContrastiveAlignment",
    "CrossReconstruction",
    "Deposit",
    "EncoderOutput",
    "FoundationEncoder",
    "GatedFusion",
    "MaskedFeatureModeling",
]
