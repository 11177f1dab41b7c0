#!/usr/bin/env bash
# Evaluate a trained checkpoint on the test split (metrics printed and logged, test plots written).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN=$(ls -d results/runs/all_tasks/version_* | sort -V | tail -n 1)
uv run fm test --config samples/generated_configs/all_tasks.yaml --ckpt_path "$RUN/checkpoints/best.ckpt"

# The validation split works the same way:
#   uv run fm validate --config samples/generated_configs/all_tasks.yaml --ckpt_path "$RUN/checkpoints/best.ckpt"
