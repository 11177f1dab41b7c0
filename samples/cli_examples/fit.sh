#!/usr/bin/env bash
# Train on the fake data with a generated config, then find the run's outputs.
# Run from anywhere; paths in the configs are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."

# 1. (optional) regenerate the fake data and the configs
uv run python samples/helper_tools/make_fake_data.py --out samples/fake_data --n 2000 --seed 0
uv run python samples/helper_tools/generate_configs.py \
    --formula-desc samples/fake_data/formula_descriptors.csv \
    --attributes samples/fake_data/attributes.csv \
    --structure-desc samples/fake_data/structure_descriptors.csv \
    --regression y_easy y_nonlinear y_structure \
    --classification is_metal crystal_system \
    --sequence cp_curve:temperatures:cp_values \
    --split-column split \
    --out samples/generated_configs

# 2. train every task; any key can be overridden on the command line, callbacks included
#    (best.ckpt and early stopping follow val_task_error, see the README)
uv run fm fit --config samples/generated_configs/all_tasks.yaml --trainer.max_epochs=30 \
    --early_stopping.patience=10

# 3. fm fit ends by printing "Run folder: results/runs/all_tasks/version_N" (N counts up
#    with each run): {metrics.csv,config.yaml,checkpoints/,plots/}
ls results/runs/all_tasks/

# Other scenarios (the file stem is the run name):
#   uv run fm fit --config samples/generated_configs/regression.yaml
#   uv run fm fit --config samples/generated_configs/sequence_heads.yaml      # RNN/Transformer/TCN heads
#   uv run fm fit --config samples/generated_configs/structure_ssl.yaml       # + structure, SSL losses
#   uv run fm fit --config samples/generated_configs/predefined_split.yaml    # split column
#   uv run fm fit --config samples/generated_configs/head_sequence_tcn.yaml   # one head of a kind
#   for k in 0 1 2 3 4; do                                                     # 5-fold CV
#     uv run fm fit --config samples/generated_configs/kfold.yaml \
#       --data.init_args.splitter.init_args.fold=$k --trainer.logger.init_args.name=kfold_$k
#   done
