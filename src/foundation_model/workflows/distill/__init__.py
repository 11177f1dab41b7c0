"""Active learning and distillation (``fm distill``): oracles, selection, teacher, ACE student."""
