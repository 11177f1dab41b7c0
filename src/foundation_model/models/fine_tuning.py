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


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a Lightning checkpoint, with a clear error if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ValueError(f"Cannot read checkpoint {path}: {err}") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a Lightning checkpoint (no 'state_dict').")
    return ckpt


def warm_start(model: nn.Module, path: str | Path, components: list[str]) -> dict[str, list[str]]:
    """Copy the parameters under ``components`` prefixes from a checkpoint into ``model``.

    Scaler buffers of loaded heads (and the feature scalers, with ``encoder``) come along,
    so the warm-started parts see inputs exactly as in pre-training. Parameters whose shape
    differs raise an error naming them; parameters absent from the checkpoint (new task
    heads) keep their fresh initialisation.

    Returns:
        ``{"loaded": [...], "missing": [...]}`` parameter names.
    """
    source = load_checkpoint_file(path)["state_dict"]
    prefixes = list(components)
    if "encoder" in components:
        prefixes += ["formula_scaler", "structure_scaler"]
    for comp in components:
        if comp.startswith("heads."):
            task = comp.split(".", 1)[1]
            prefixes += [f"target_scalers.{task}.", f"seq_x_scalers.{task}."]
        elif comp == "heads":
            prefixes += ["target_scalers", "seq_x_scalers"]
    target = model.state_dict()
    chosen = {k: v for k, v in source.items() if any(k.startswith(p) for p in prefixes)}
    mismatched = [
        f"{k} {tuple(v.shape)} vs {tuple(target[k].shape)}"
        for k, v in chosen.items()
        if k in target and target[k].shape != v.shape
    ]
    if mismatched:
        raise ValueError(
            f"Checkpoint {path} does not fit this model ({len(mismatched)} shape mismatch(es), "
            f"e.g. {mismatched[0]}); use the same descriptors and encoder sizes as pre-training."
        )
    loadable = {k: v for k, v in chosen.items() if k in target}
    model.load_state_dict(loadable, strict=False)
    missing = [k for k in target if any(k.startswith(p) for p in prefixes) and k not in loadable]
    return {"loaded": sorted(loadable), "missing": missing}


def freeze(model: nn.Module, components: list[str]) -> int:
    """Set ``requires_grad=False`` on parameters under the given prefixes; returns the count."""
    n = 0
    for name, p in model.named_parameters():
        if any(name == c or name.startswith(c + ".") for c in components):
            p.requires_grad_(False)
            n += 1
    if components and n == 0:
        raise ValueError(f"freeze: no parameter matches {components}; see the component names.")
    return n


def parameter_groups(
    model: nn.Module, component_lr: dict[str, float] | None
) -> list[dict[str, Any]]:
    """Trainable parameters grouped by the longest matching ``component_lr`` prefix.

    Parameters matching no prefix form one group that uses the optimizer's own lr.
    """
    component_lr = component_lr or {}
    groups: dict[str | None, list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        match = max(
            (c for c in component_lr if name == c or name.startswith(c + ".")),
            key=len,
            default=None,
        )
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
    plus the scheduler (``ReduceLROnPlateau`` watches ``monitor``) when one is configured."""
    optimizer = optimizer_factory(parameter_groups(model, component_lr))
    if scheduler_factory is None:
        return optimizer
    scheduler = scheduler_factory(optimizer)
    config: dict[str, Any] = {"scheduler": scheduler}
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        config["monitor"] = monitor
    return {"optimizer": optimizer, "lr_scheduler": config}
