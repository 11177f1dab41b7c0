"""Models: ``FlexibleMultiTaskModel``, its components, task heads, losses and weighting."""

from foundation_model.models.flexible_multi_task_model import FlexibleMultiTaskModel

__all__ = ["FlexibleMultiTaskModel"]
