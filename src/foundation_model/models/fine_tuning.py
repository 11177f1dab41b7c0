"""Fine-tuning controls: warm start from a checkpoint, freezing, per-component learning rates.

Components are named by parameter-name prefixes of :class:`FlexibleMultiTaskModel`:
``encoder`` (formula + structure encoders, fusion and deposit), ``encoder.formula``,
``encoder.structure``, ``encoder.fusion``, ``encoder.deposit``, ``heads``,
``heads.<task>``, ``ssl`` and ``loss_weighting``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from foundation_model.utils.checkpoint import load_checkpoint
from foundation_model.utils.cuda_check import skip_nvml_check_without_nvml

# Scaler buffers that belong to a component: copying the component copies them too, so the
# warm-started weights see inputs and targets on the scale they were trained with.
_COMPONENT_SCALERS = {
    "encoder": ("formula_scaler", "structure_scaler"),
    "encoder.formula": ("formula_scaler",),
    "encoder.structure": ("structure_scaler",),
    "heads": ("target_scalers", "seq_x_scalers"),
}


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a Lightning checkpoint with ``weights_only=True``; one-line error if it is missing,
    truncated or not a checkpoint (see :func:`foundation_model.utils.checkpoint.load_checkpoint`).
    """
    return load_checkpoint(path)


def _matches(name: str, component: str) -> bool:
    return name == component or name.startswith(component + ".")


def component_names(model: nn.Module) -> list[str]:
    """Component names usable in ``init_components``/``freeze_components``/``component_lr``:
    the first two levels of the model's parameter names (``encoder``, ``encoder.formula``,
    ``heads``, ``heads.<task>``, ...)."""
    names: set[str] = set()
    for name, _ in model.named_parameters():
        parts = name.split(".")
        names.add(parts[0])
        if len(parts) > 2:
            names.add(".".join(parts[:2]))
    return sorted(names)


def check_components(model: nn.Module, components: list[str] | dict[str, Any], what: str) -> None:
    """Raise a one-line error naming the first key that matches no parameter of ``model``.

    Args:
        model: the model.
        components: component prefixes (a dict's keys are checked).
        what: the argument's name for the message (e.g. ``"component_lr"``).
    """
    params = [name for name, _ in model.named_parameters()]
    for comp in components:
        if not any(_matches(name, comp) for name in params):
            raise ValueError(
                f"{what}: unknown component {comp!r} (no parameter matches it); valid "
                "components: "
                f"{', '.join(component_names(model))}."
            )


def scaler_prefixes(component: str) -> list[str]:
    """State-dict prefixes of the scalers that belong to ``component``.

    Args:
        component: a component name such as ``encoder``, ``encoder.formula`` or ``heads.y``.
    """
    if component.startswith("heads."):
        task = component.split(".", 1)[1]
        return [f"target_scalers.{task}", f"seq_x_scalers.{task}"]
    return list(_COMPONENT_SCALERS.get(component, ()))


def warm_start(model: nn.Module, path: str | Path, components: list[str]) -> dict[str, Any]:
    """Copy the parameters under ``components`` prefixes from a checkpoint into ``model``.

    The scalers of every copied component come along (:func:`scaler_prefixes`: ``encoder``
    brings ``formula_scaler`` and ``structure_scaler``, ``encoder.formula`` the formula scaler,
    ``heads.<task>`` that task's target and sequence-x scalers), so the warm-started parts
    see inputs exactly as in pre-training. Parameters whose shape differs raise an error
    naming them; a component that matches nothing in the model or in the checkpoint is an
    error too.

    Returns:
        ``{"loaded": [...], "missing": [...]}`` state-dict names and ``"input_schema"``, the
        checkpoint's descriptor columns (``fm_input_schema``, None if it has none).
    """
    check_components(model, components, "init_components")
    checkpoint = load_checkpoint_file(path)
    source = checkpoint["state_dict"]
    for comp in components:
        if not any(_matches(k, comp) for k in source):
            raise ValueError(
                f"init_components: {comp!r} is not in checkpoint {path}; it has "
                f"{', '.join(sorted({k.split('.')[0] for k in source}))}."
            )
    prefixes = [p for comp in components for p in [comp, *scaler_prefixes(comp)]]
    target = model.state_dict()
    chosen = {k: v for k, v in source.items() if any(_matches(k, p) for p in prefixes)}
    mismatched = [
        f"{k} {tuple(v.shape)} vs {tuple(target[k].shape)}"
        for k, v in chosen.items()
        if k in target and target[k].shape != v.shape
    ]
    if mismatched:
        raise ValueError(
            f"Checkpoint {path} does not fit this model ({len(mismatched)} shape mismatch(es), "
            f"e.g. {mismatched[0]}); use its descriptors (fm featurize --like {path}) and "
            "its encoder sizes."
        )
    loadable = {k: v for k, v in chosen.items() if k in target}
    model.load_state_dict(loadable, strict=False)
    missing = [k for k in target if any(_matches(k, p) for p in prefixes) and k not in loadable]
    return {
        "loaded": sorted(loadable),
        "missing": missing,
        "input_schema": checkpoint.get("fm_input_schema"),
    }


def freeze(model: nn.Module, components: list[str]) -> int:
    """Set ``requires_grad=False`` on parameters under the given prefixes; returns the count.

    Raises:
        ValueError: naming a component that matches no parameter, with the valid names.
    """
    check_components(model, components, "freeze_components")
    n = 0
    for name, p in model.named_parameters():
        if any(_matches(name, c) for c in components):
            p.requires_grad_(False)
            n += 1
    return n


def parameter_groups(
    model: nn.Module, component_lr: dict[str, float] | None
) -> list[dict[str, Any]]:
    """Trainable parameters grouped by the longest matching ``component_lr`` prefix.

    Parameters matching no prefix form one group that uses the optimizer's own lr.

    Raises:
        ValueError: naming a ``component_lr`` key that matches no parameter.
    """
    component_lr = component_lr or {}
    check_components(model, component_lr, "component_lr")
    groups: dict[str | None, list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        match = max((c for c in component_lr if _matches(name, c)), key=len, default=None)
        groups.setdefault(match, []).append(p)
    out: list[dict[str, Any]] = []
    for key, params in groups.items():
        group: dict[str, Any] = {"params": params}
        if key is not None:
            group["lr"] = component_lr[key]
        out.append(group)
    return out


def configure_optimization(
    model: nn.Module,
    optimizer_factory: Any,
    scheduler_factory: Any | None,
    component_lr: dict[str, float] | None,
    monitor: str,
) -> Any:
    """What ``configure_optimizers`` returns: the optimizer over :func:`parameter_groups`,
    plus the scheduler (``ReduceLROnPlateau`` watches ``monitor``) when one is configured.

    On hosts without NVML it also drops Lightning's NVML device check, which Adam would
    otherwise repeat, failing, on every step (:mod:`foundation_model.utils.cuda_check`)."""
    skip_nvml_check_without_nvml()
    optimizer = optimizer_factory(parameter_groups(model, component_lr))
    if scheduler_factory is None:
        return optimizer
    scheduler = scheduler_factory(optimizer)
    config: dict[str, Any] = {"scheduler": scheduler}
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        config["monitor"] = monitor
    return {"optimizer": optimizer, "lr_scheduler": config}
