"""Seed-structure generators, one per file, all :class:`StructureGenerator` subclasses."""

from foundation_model.workflows.datagen.generators.adsorbate import AdsorbateGenerator
from foundation_model.workflows.datagen.generators.alloy import AlloyGenerator
from foundation_model.workflows.datagen.generators.augment import Augmentation
from foundation_model.workflows.datagen.generators.base import StructureGenerator
from foundation_model.workflows.datagen.generators.covalent import CovalentGenerator
from foundation_model.workflows.datagen.generators.files import FileGenerator
from foundation_model.workflows.datagen.generators.interface import InterfaceGenerator
from foundation_model.workflows.datagen.generators.ionic import IonicGenerator
from foundation_model.workflows.datagen.generators.knowledge import KnowledgeGenerator
from foundation_model.workflows.datagen.generators.surface import SurfaceGenerator

__all__ = [
    "AdsorbateGenerator",
    "AlloyGenerator",
    "Augmentation",
    "CovalentGenerator",
    "FileGenerator",
    "InterfaceGenerator",
    "IonicGenerator",
    "KnowledgeGenerator",
    "StructureGenerator",
    "SurfaceGenerator",
]
