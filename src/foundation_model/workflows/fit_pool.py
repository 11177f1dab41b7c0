"""Train the networks of a benchmark fold side by side, in worker processes.

A transfer fold trains the scratch network and one network per fine-tuning mode, and a seed
ensemble several more; they are independent, so :class:`FitPool` runs them in ``workers``
processes at once, each with ``threads // workers`` torch threads (``threads``: this
process's torch threads). Small networks use many cores poorly, so two processes of one
thread finish a fold sooner than one process of two. ``workers=1`` trains in this process,
one network after the other.

Every network seeds itself (:func:`~foundation_model.workflows.bench_model.fit_predict_fold`),
so which process trains it does not change what it learns: a worker with one thread gives
exactly what this process gives with one thread. The thread count does matter: it changes
the order of floating-point sums, and over hundreds of epochs that grows into differences
the size of seed noise. ``workers=2`` on two cores therefore reproduces a one-thread run,
not a two-thread one.

A worker lives no longer than the process that started it: one whose parent is gone (killed,
crashed) exits within a second or two, instead of training the calls still queued for it
with no one to take the results.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import pandas as pd

from foundation_model.workflows.rf_baseline import FoldPrediction


@dataclass(frozen=True)
class FitCall:
    """The arguments of one :func:`~foundation_model.workflows.bench_model.fit_predict_fold`.

    Attributes:
        config: parsed ``fm fit`` config (``model``, ``data``, ``trainer``).
        features: raw descriptors for all ids.
        targets: target per id.
        train_ids: the fold's training ids.
        test_ids: the fold's test ids.
        seed: the network's seed.
        max_epochs: override of ``trainer.max_epochs``.
        val_fraction: share of the training ids used for validation.
    """

    config: dict
    features: pd.DataFrame
    targets: pd.Series
    train_ids: list[str]
    test_ids: list[str]
    seed: int
    max_epochs: int | None = None
    val_fraction: float = 0.1

    def run(self) -> tuple[FoldPrediction, float]:
        """Train and predict; returns the prediction and the seconds it took."""
        from foundation_model.workflows.bench_model import fit_predict_fold

        t0 = time.perf_counter()
        pred = fit_predict_fold(
            self.config,
            self.features,
            self.targets,
            self.train_ids,
            self.test_ids,
            self.seed,
            self.max_epochs,
            self.val_fraction,
        )
        return pred, time.perf_counter() - t0


@dataclass
class FitResult:
    """One finished :class:`FitCall`.

    Attributes:
        prediction: its predictions (and validation score).
        seconds: time spent training and predicting it.
        finished_at: seconds from the start of :meth:`FitPool.run` until it finished.
    """

    prediction: FoldPrediction
    seconds: float
    finished_at: float


def _start_worker(threads: int, parent: int) -> None:
    """Worker initializer: tie the worker's life to its parent's (see the module docstring)
    and fix the thread count before torch spins up its pools.

    Args:
        threads: torch threads of this worker.
        parent: the pool's process id (given, so a parent that dies while the worker is still
            importing torch is noticed too).
    """
    watch = threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True)
    watch.start()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """Exit this worker once ``parent`` is no longer its parent process."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _run(call: FitCall) -> tuple[FoldPrediction, float]:
    return call.run()


@contextlib.contextmanager
def _without_main_script() -> Iterator[None]:
    """Start spawned workers without re-running this process's main script.

    A spawned child imports the parent's ``__main__`` file before it takes work; the
    workers need nothing from it (they run :func:`_run` from this module), and a main
    script without a ``__name__ == "__main__"`` guard, or one that is gone from disk
    (Streamlit pages, test runners), would run again or kill the child. Processes start
    inside ``submit``, so the main module is swapped for an empty one around it.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class FitPool:
    """Runs :class:`FitCall` lists in this process or in ``workers`` processes.

    Use as a context manager so that the processes start once and stop at the end.

    Args:
        workers: processes training networks at once (1: in this process).
        threads: torch threads shared among the workers (default: this process's count).
    """

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}.")
        if threads is None:
            import torch

            threads = torch.get_num_threads()
        self.workers = int(workers)
        self.threads_per_worker = max(1, int(threads) // self.workers)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> FitPool:
        if self.workers > 1:
            self._executor = self._start()
        return self

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=get_context("spawn"),  # fork would copy torch's thread pools
            initializer=_start_worker,
            initargs=(self.threads_per_worker, os.getpid()),
        )

    def __exit__(self, *exc: Any) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, calls: list[FitCall]) -> list[FitResult]:
        """Train every call (in list order when queued); results in the same order.

        The first error raised by a call is raised here, after the other calls are cancelled.
        A worker process that dies (killed by the system, most often for memory) raises a
        ``RuntimeError`` that says so, and the pool starts fresh workers for the next call.

        Args:
            calls: the networks to train.
        """
        start = time.perf_counter()
        if self._executor is None and self.workers > 1:
            raise RuntimeError("FitPool with workers > 1 runs inside `with FitPool(...) as pool:`.")
        if self._executor is None:
            out = []
            for call in calls:
                pred, secs = call.run()
                out.append(FitResult(pred, secs, time.perf_counter() - start))
            return out
        futures: dict[Future, int] = {}
        done_at: dict[int, float] = {}
        try:
            with _without_main_script():
                for i, c in enumerate(calls):
                    futures[self._executor.submit(_run, c)] = i
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                now = time.perf_counter() - start
                for fut in done:
                    fut.result()  # raises the call's error
                    done_at[futures[fut]] = now
        except BrokenProcessPool as err:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()
            raise RuntimeError(
                "A worker process died while training a network (killed by the system, most "
                "often for lack of memory: each of the --workers processes holds its own copy "
                "of the data and its network); fresh workers take the next calls. Train with "
                "fewer --workers, or on a machine with more memory."
            ) from err
        except BaseException:
            for fut in futures:  # a finished one ignores it
                fut.cancel()
            raise
        results: list[FitResult | None] = [None] * len(calls)
        for fut, i in futures.items():
            pred, secs = fut.result()
            results[i] = FitResult(pred, secs, done_at[i])
        return [r for r in results if r is not None]
