#!/usr/bin/env bash
# Show the fully resolved configuration (defaults + YAML + command-line overrides) and the help.
set -euo pipefail
cd "$(dirname "$0")/../.."

uv run fm fit --config samples/generated_configs/regression.yaml \
    --model.init_args.encoder_dims='[128, 64]' --print_config

# Every option with its docstring:
#   uv run fm fit --help
#   uv run fm fit --model.help foundation_model.models.FlexibleMultiTaskModel
#   uv run fm fit --data.help foundation_model.data.CompoundDataModule
