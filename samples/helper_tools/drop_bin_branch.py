"""Write a copy of a pretrained checkpoint without its descriptor-bin branch.

A checkpoint pretrained with ``formula_bins > 0`` carries the bin branch
(``encoder.formula_bins``: the corpus's bin edges and a projection learnt for them). The copy
drops every ``encoder.formula_bins.*`` entry and sets ``formula_bins`` to 0 in its
hyper-parameters, so only the trunk it trained is left: the fine-tuning recipe (which has
``formula_bins: 8``) then starts a fresh branch, edges fitted on the task and projection at
zero, as it does from ``fm-base``. The copy is a starting point for fine-tuning, not a
predictor: its heads were trained with the branch's contribution.

Used to test why the bins pretraining transferred worse (``benchmarks/pretrained_inner.py``,
``results/bench/pretrained_inner_trunk/``):

    uv run python samples/helper_tools/drop_bin_branch.py \\
        --ckpt results/pretrained/fm-base-bins/model.ckpt \\
        --out results/pretrained/fm-base-bins-trunk/model.ckpt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

PREFIX = "encoder.formula_bins."


def drop_bin_branch(src: Path, dst: Path) -> list[str]:
    """Copy ``src`` to ``dst`` without the bin branch; returns the state-dict keys dropped.

    Raises:
        ValueError: ``src`` has no bin branch, or ``dst`` is ``src``.
    """
    from foundation_model.utils.checkpoint import load_checkpoint

    if Path(dst).resolve() == Path(src).resolve():
        raise ValueError(f"--out is the input checkpoint {src}; name a new file.")
    ckpt = load_checkpoint(src)
    state = ckpt["state_dict"]
    dropped = [k for k in state if k.startswith(PREFIX)]
    if not dropped:
        raise ValueError(f"{src} has no descriptor-bin branch ({PREFIX}*): nothing to drop.")
    for key in dropped:
        del state[key]
    ckpt.setdefault("hyper_parameters", {})["formula_bins"] = 0
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(dst)
    return dropped


def main(argv: list[str] | None = None) -> int:
    """Parse the options and write the copy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="checkpoint with a bin branch")
    parser.add_argument("--out", type=Path, required=True, help="where to write the copy")
    args = parser.parse_args(argv)
    try:
        dropped = drop_bin_branch(args.ckpt, args.out)
    except (ValueError, FileNotFoundError) as err:
        print(f"drop_bin_branch: {err}", file=sys.stderr)
        return 2
    print(f"{args.out}: dropped {len(dropped)} entries ({', '.join(dropped)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
