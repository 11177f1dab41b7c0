"""Samplers: pick an informative subset of explored frames."""

from foundation_model.workflows.datagen.samplers.base import Sampler
from foundation_model.workflows.datagen.samplers.descriptors import (
    BackboneDescriptor,
    Descriptor,
    SOAPDescriptor,
)
from foundation_model.workflows.datagen.samplers.direct import DIRECTSampler
from foundation_model.workflows.datagen.samplers.fps import (
    FPSSampler,
    covering_radius,
    farthest_point_sampling,
)
from foundation_model.workflows.datagen.samplers.random import RandomSampler

__all__ = [
    "BackboneDescriptor",
    "DIRECTSampler",
    "Descriptor",
    "FPSSampler",
    "RandomSampler",
    "SOAPDescriptor",
    "Sampler",
    "covering_radius",
    "farthest_point_sampling",
]
