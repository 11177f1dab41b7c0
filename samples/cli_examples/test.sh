#!/usr/bin/env bash
# Evaluate a trained checkpoint on the test split (metrics printed and logged, test plots written).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The newest fit of all_tasks (fm fit prints its folder; test/predict folders hold no checkpoint)
CKPT=$(ls results/runs/all_tasks/version_*/checkpoints/best.ckpt 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$CKPT" ]; then
    echo "no trained all_tasks checkpoint under results/runs/all_tasks: run samples/cli_examples/fit.sh first" >&2
    exit 1
fi
uv run fm test --config samples/generated_configs/all_tasks.yaml --ckpt_path "$CKPT"

# The validation split works the same way:
#   uv run fm validate --config samples/generated_configs/all_tasks.yaml --ckpt_path "$CKPT"
