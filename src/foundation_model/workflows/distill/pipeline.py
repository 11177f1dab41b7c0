"""``DistillPipeline``: the orchestrator of ``fm distill``.

Steps (artifacts under ``<output_dir>/<k>_<step>-<hash>/``, the hash covering the step's
settings and every earlier step's hash)::

    1 pool              pool.db                              (datagen generators, DIRECT)
    2 active            oracle_train.db, oracle_test.db      (committee selection, oracle)
    3 teacher           teacher.ckpt                         (MLIPFineTuneModule)
    4 surrogate_md      surrogate_pool.db                    (guarded MD with the teacher)
    5 surrogate_labels  surrogate.db                         (teacher labels, streamed)
    6 student           student/student.yace (+ .asi)        (linear ACE, pyace)
    7 delta             student/student.yace (+ .asi)        (delta learning: the result)
    8 report            report.json, report.md, plots/

``state.json`` records each step's status, hash and artifact digests; ``oracle_labels.sqlite``
keeps every oracle label of the run, so a step redone after a change of settings (a raised
budget, more rounds) serves the structures labelled before from disk instead of paying for
them again. ``run(resume=True)``
verifies the finished steps (hash and SHA-256 of every artifact) and continues at the first
step that is not verified; later steps are always redone after it.
"""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path
from typing import Any

import ase

from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.distill.active import ActiveLearning
from foundation_model.workflows.distill.delta import DeltaLearner
from foundation_model.workflows.distill.evaluation import Evaluation
from foundation_model.workflows.distill.oracles.base import Oracle
from foundation_model.workflows.distill.pool import PoolStage
from foundation_model.workflows.distill.state import DistillState, config_digest, file_digest
from foundation_model.workflows.distill.steps import STEPS
from foundation_model.workflows.distill.student import ACEStudentTrainer
from foundation_model.workflows.distill.surrogate_md import SurrogateMD
from foundation_model.workflows.distill.teacher import TeacherTrainer

#: the run folder's oracle label cache (:class:`OracleLabelCache`)
ORACLE_LABEL_CACHE = "oracle_labels.sqlite"


class DistillPipeline:
    """Active learning and distillation of a pretrained potential into an ACE student.

    Args:
        oracle: the reference method (EMT, GFN2-xTB, QE, VASP), with its budget.
        pool: step 1, the candidate pool (datagen generators, explorer, sampler).
        active_learning: step 2, committee selection in rounds.
        teacher: step 3, fine-tuning of the pretrained backbone.
        surrogate_md: step 4, guarded MD with the teacher.
        student: step 6, the linear ACE fit.
        delta: step 7, delta learning on the oracle data.
        evaluation: the final comparison (student MD stability, speed).
        executor: where oracle, MD and labelling tasks run (processes or Dask).
        label_batch_size: structures per surrogate-labelling batch (step 5).
        output_dir: the run folder.
        seed: base seed of every random choice.
        progress: show progress bars.
    """

    def __init__(
        self,
        oracle: Oracle,
        pool: PoolStage,
        active_learning: ActiveLearning | None = None,
        teacher: TeacherTrainer | None = None,
        surrogate_md: SurrogateMD | None = None,
        student: ACEStudentTrainer | None = None,
        delta: DeltaLearner | None = None,
        evaluation: Evaluation | None = None,
        executor: TaskExecutor | None = None,
        label_batch_size: int = 64,
        output_dir: str = "results/distill/run",
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.oracle = oracle
        self.pool = pool
        self.active_learning = active_learning or ActiveLearning()
        self.teacher = teacher or TeacherTrainer()
        self.surrogate_md = surrogate_md or SurrogateMD()
        self.student = student or ACEStudentTrainer()
        self.delta = delta or DeltaLearner()
        self.evaluation = evaluation or Evaluation()
        self.executor = executor or TaskExecutor(n_workers=1, progress=progress)
        self.label_batch_size = int(label_batch_size)
        self.output_dir = Path(output_dir)
        self.seed = int(seed)
        self.progress = bool(progress)
        self.state = DistillState(self.output_dir / "state.json")
        # refusals that need no work happen here, before a run folder exists
        self.active_learning.check_budget(self.oracle)
        if self.pool.generation is not None:
            self.oracle.calculator_spec().check_elements(self.pool.generation.elements)

    # ---------------------------------------------------------------- configuration
    def step_settings(self, name: str) -> Any:
        """The settings that determine the artifacts of step ``name``."""
        settings = {
            "pool": lambda: self.pool.to_dict(),
            "active": lambda: {
                "oracle": self.oracle.to_dict(),
                "active_learning": self.active_learning.to_dict(),
                # what the committee trains with: the teacher's epochs do not enter
                "committee_backbone": self.active_learning.committee_trainer(
                    self.teacher
                ).to_dict(),
            },
            "teacher": lambda: self.teacher.to_dict(),
            "surrogate_md": lambda: self.surrogate_md.to_dict(),
            "surrogate_labels": lambda: {"batch_size": self.label_batch_size},
            "student": lambda: self.student.to_dict(),
            "delta": lambda: self.delta.to_dict(),
            "report": lambda: self.evaluation.to_dict(),
        }[name]()
        if isinstance(settings, dict) and "oracle" in settings:
            settings["oracle"]["init_args"].pop("executor", None)  # where, not what
        return {"seed": self.seed, "settings": settings}

    def step_hashes(self) -> dict[str, str]:
        """Hash of every step, chained through the earlier steps."""
        out, previous = {}, ""
        for name in STEPS:
            previous = config_digest({"previous": previous, "step": self.step_settings(name)})
            out[name] = previous
        return out

    def step_directory(self, name: str) -> Path:
        k = list(STEPS).index(name) + 1
        return self.output_dir / f"{k}_{name}-{self.step_hashes()[name][:10]}"

    def artifact(self, step: str, name: str) -> Path:
        """Path of artifact ``name`` of ``step`` (of the current configuration)."""
        return self.step_directory(step) / name

    @staticmethod
    def elements(structures: list[ase.Atoms]) -> list[str]:
        return sorted({s for a in structures for s in a.get_chemical_symbols()})

    # ---------------------------------------------------------------- running
    def run(self, resume: bool = False, stop_after: str | None = None) -> dict[str, Any]:
        """Run every step (or continue a run with ``resume``); returns the state summary.

        Args:
            resume: continue an existing run at its first unverified step.
            stop_after: stop after this step (inspection, tests).
        """
        from tqdm.auto import tqdm

        self._open(resume)
        hashes = self.step_hashes()
        redo = False
        try:
            with tqdm(total=len(STEPS), desc="fm distill", disable=not self.progress) as bar:
                for name in STEPS:
                    ok, why = self.state.verified(name, hashes[name], self.output_dir)
                    if ok and not redo:
                        self._restore(name)
                        bar.set_postfix_str(f"{name}: verified")
                    else:
                        # a verified step after a redone one is redone too: say why
                        why = "an earlier step was redone" if ok else why
                        redo = True
                        bar.set_postfix_str(f"{name}: running ({why})")
                        self._run_step(name, hashes[name])
                        bar.set_postfix_str(f"{name}: done")
                    bar.update(1)
                    if name == stop_after:
                        break
        finally:
            self.executor.close()
            self.oracle.executor.close()
        return {name: r.status for name, r in self.state.steps.items()}

    def _open(self, resume: bool) -> None:
        state_path = self.output_dir / "state.json"
        if state_path.is_file() and not resume:
            raise FileExistsError(
                f"{self.output_dir} already holds a run: pass --resume to continue it, "
                "or choose another output_dir."
            )
        self.state = DistillState.load(state_path)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.state.save()
        # every oracle label of this run folder, so that a redone step never pays twice
        self.oracle.use_cache(self.output_dir / ORACLE_LABEL_CACHE)

    def _restore(self, name: str) -> None:
        """Bring in-memory state of a verified step back (oracle calls spent)."""
        if name == "active":
            self.oracle.calls = int(self.state.steps[name].info.get("oracle_calls", 0))

    def _run_step(self, name: str, config_hash: str) -> None:
        directory = self.step_directory(name)
        if directory.exists():
            shutil.rmtree(directory)  # a partial attempt: start the step cleanly
        directory.mkdir(parents=True)
        record = self.state.record(name)
        record.status, record.config_hash, record.error = "running", config_hash, ""
        record.directory, record.artifacts, record.runs = directory.name, {}, record.runs + 1
        self.state.save()
        start = time.perf_counter()
        try:
            names, info = STEPS[name](self, directory)
        except BaseException as err:
            record.status = "failed"
            record.error = "".join(traceback.format_exception_only(type(err), err)).strip()
            # Lightning turns Ctrl-C during training into SystemExit(1): it is an interrupt
            interrupted = isinstance(err, SystemExit) and isinstance(
                err.__context__, KeyboardInterrupt
            )
            if interrupted:
                record.error = "interrupted (Ctrl-C)"
            self.state.save()
            if interrupted:  # the CLI then says the finished work is kept and how to resume
                raise KeyboardInterrupt from err
            raise
        record.artifacts = {n: file_digest(directory / n) for n in names}
        record.info, record.status = info, "done"
        record.seconds = time.perf_counter() - start
        self.state.save()
