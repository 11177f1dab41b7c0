#!/usr/bin/env bash
# Write predictions (ids + <task>_value / _probabilities_<class> / _label / _sequence columns).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The newest fit of all_tasks (fm fit prints its folder; test/predict folders hold no checkpoint)
CKPT=$(ls results/runs/all_tasks/version_*/checkpoints/best.ckpt 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$CKPT" ]; then
    echo "no trained all_tasks checkpoint under results/runs/all_tasks: run samples/cli_examples/fit.sh first" >&2
    exit 1
fi
uv run fm predict --config samples/generated_configs/all_tasks.yaml \
    --ckpt_path "$CKPT" \
    --prediction_writer.output_path results/predictions/all_tasks.csv

# Only the test rows:   --data.init_args.predict_split=test
# New compounds: point the data at their descriptors (no attributes needed), e.g.
#   --data.init_args.formula_desc_source=new_descriptors.csv --data.init_args.attributes_source=null
head -n 3 results/predictions/all_tasks.csv
