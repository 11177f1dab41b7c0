"""Named featurizer sets. A preset is a list of plain-data featurizer specs, so it is
hashable into a cache key and rebuilt identically in worker processes.

Composition presets:

* ``magpie`` — ``ElementProperty.from_preset("magpie")``: 22 elemental properties x 6
  statistics (132 columns), the feature set of the RF-SCM/Magpie Matbench baseline.
* ``rich`` — Magpie plus ``Stoichiometry``, ``ValenceOrbital``, ``IonProperty(fast=True)``,
  ``BandCenter``, ``TMetalFraction``, ``YangSolidSolution`` and ``ElementFraction``; every
  one runs offline from matminer's bundled tables. (``Miedema`` is left out: ~160 ms per
  multi-element alloy, NaN for most non-metals.)

Structure presets:

* ``structure_basic`` — ``DensityFeatures``, numeric ``GlobalSymmetryFeatures`` and
  ``MaximumPackingEfficiency``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

FeaturizerSpec = dict[str, Any]

_COMP = "matminer.featurizers.composition"
_STRUCT = "matminer.featurizers.structure"

MAGPIE: list[FeaturizerSpec] = [
    {"class_path": f"{_COMP}.ElementProperty", "from_preset": "magpie"},
]

COMPOSITION_PRESETS: dict[str, list[FeaturizerSpec]] = {
    "magpie": MAGPIE,
    "rich": [
        *MAGPIE,
        {"class_path": f"{_COMP}.Stoichiometry"},
        {"class_path": f"{_COMP}.ValenceOrbital"},
        {"class_path": f"{_COMP}.IonProperty", "init_args": {"fast": True}},
        {"class_path": f"{_COMP}.BandCenter"},
        {"class_path": f"{_COMP}.TMetalFraction"},
        {"class_path": f"{_COMP}.YangSolidSolution"},
        {"class_path": f"{_COMP}.ElementFraction"},
    ],
}

STRUCTURE_PRESETS: dict[str, list[FeaturizerSpec]] = {
    "structure_basic": [
        {"class_path": f"{_STRUCT}.DensityFeatures"},
        {
            "class_path": f"{_STRUCT}.GlobalSymmetryFeatures",
            "init_args": {
                "desired_features": ["spacegroup_num", "crystal_system_int", "is_centrosymmetric"]
            },
        },
        {"class_path": f"{_STRUCT}.MaximumPackingEfficiency"},
    ],
}


def resolve_preset(
    name: str, presets: dict[str, list[FeaturizerSpec]], kind: str
) -> list[FeaturizerSpec]:
    """Return the specs of preset ``name`` or raise naming the valid choices.

    Args:
        name: preset name.
        presets: the table to look in.
        kind: ``"composition"`` or ``"structure"`` (for the message).
    """
    if name not in presets:
        raise ValueError(f"Unknown {kind} preset {name!r}; choose one of {sorted(presets)}.")
    return presets[name]


def build_featurizer(spec: FeaturizerSpec) -> Any:
    """Instantiate one matminer featurizer from its spec.

    Args:
        spec: ``{"class_path", "init_args"?, "from_preset"?}``.
    """
    module_name, _, cls_name = spec["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), cls_name)
    if "from_preset" in spec:
        return cls.from_preset(spec["from_preset"])
    return cls(**spec.get("init_args", {}))


def specs_fingerprint(specs: list[FeaturizerSpec]) -> str:
    """A stable JSON text of the specs plus the matminer version (part of the cache key).

    Args:
        specs: featurizer specs.
    """
    import matminer

    return json.dumps({"matminer": matminer.__version__, "specs": specs}, sort_keys=True)


def feature_labels(featurizers: list[Any]) -> list[str]:
    """Column names of a featurizer list; raises on a duplicated name.

    Args:
        featurizers: instantiated matminer featurizers.
    """
    labels = [label for f in featurizers for label in f.feature_labels()]
    seen: set[str] = set()
    dups = sorted({x for x in labels if x in seen or seen.add(x)})
    if dups:
        raise ValueError(
            f"Featurizers produce duplicated column names {dups[:5]}; remove one of them."
        )
    return labels
