"""Step 5: label the surrogate pool with the teacher, in batches streamed to an ASE database.

The pool database is read ``batch_size`` rows at a time; each batch is labelled through the
executor with a calculator spec of the teacher (late binding) and appended to the output
database before the next batch is read, so memory stays flat in the pool size. A restart
continues after the rows already written. Structures the teacher fails on are listed,
never silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundation_model.workflows.datagen.calculators import CalculatorSpec
from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.datagen.labelling import LabelTask, label_structure
from foundation_model.workflows.distill.dbio import append_structures, count_rows, iter_chunks


def label_stream(
    source: str | Path,
    target: str | Path,
    calculator: CalculatorSpec,
    executor: TaskExecutor,
    batch_size: int = 64,
    stress: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """Label every row of ``source`` into ``target`` (resuming after rows already there).

    Args:
        source: ASE database of unlabelled structures.
        target: ASE database written batch by batch.
        calculator: spec of the labelling calculator (the fine-tuned teacher).
        executor: where the batches run.
        batch_size: rows per batch.
        stress: label the stress of 3D-periodic cells.
        progress: optional ``tqdm`` bar advanced by the rows processed.

    Returns:
        ``{"labelled": n, "failed": [{"source_row": i, "error": ...}], "batches": b}``.
    """
    done = count_rows(target)
    failed: list[dict[str, Any]] = []
    batches = 0
    if progress is not None:
        progress.update(done)
    for chunk in iter_chunks(source, batch_size, start=done):
        tasks = [LabelTask(atoms, calculator, stress) for atoms in chunk]
        results = executor.map(label_structure, tasks, description="surrogate labels")
        rows = []
        for atoms, result in zip(chunk, results, strict=True):
            source_row = int(atoms.info["db_id"])
            if result.ok:
                out = result.value
            else:  # kept unlabelled (flagged) so row offsets stay aligned on resume
                failed.append({"source_row": source_row, "error": result.error})
                out = atoms.copy()
                out.info["label_failed"] = True
            out.info["source_row"] = source_row
            out.info.pop("db_id", None)
            rows.append(out)
        append_structures(target, rows)
        batches += 1
        if progress is not None:
            progress.update(len(chunk))
    return {"labelled": count_rows(target) - len(failed), "failed": failed, "batches": batches}
