#!/usr/bin/env bash
# Pre-train with masked-feature modelling, then fine-tune: warm-start the encoder from the
# pre-training checkpoint, freeze the formula encoder, per-component learning rates.
set -euo pipefail
cd "$(dirname "$0")/../.."

# pretrain_mfm.yaml saves to results/runs/pretrain_mfm/checkpoints/{best,last}.ckpt
uv run fm fit --config samples/generated_configs/pretrain_mfm.yaml --trainer.max_epochs=20

# finetune.yaml reads results/runs/pretrain_mfm/checkpoints/best.ckpt; point elsewhere with
#   --model.init_args.init_from_checkpoint=path/to.ckpt
uv run fm fit --config samples/generated_configs/finetune.yaml --trainer.max_epochs=20 \
    --model.init_args.component_lr='{encoder: 5.0e-5, heads: 1.0e-3}'
