"""One executor for the data workflows: local processes or a Dask distributed cluster.

:meth:`TaskExecutor.map` applies a picklable module-level function to a list of picklable
tasks and returns one :class:`TaskResult` per task, in task order. A task that raises is
never dropped: its result carries the error and traceback. ``on_result`` is called in the
calling process as each task finishes, so a caller can checkpoint progress (resume).

Backends:

* ``process`` with ``n_workers=1``: in-process, sequential (debuggable, no pickling).
* ``process`` with ``n_workers>1``: :class:`concurrent.futures.ProcessPoolExecutor`.
* ``dask``: a ``distributed.Client`` on ``scheduler_address``, or on a ``LocalCluster`` of
  ``n_workers`` when no address is given.

Tasks should carry calculator *specs* (:mod:`.calculators`), not calculators, and
``ase.Atoms`` without an attached calculator (``atoms.calc = None``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, Literal

from foundation_model.utils.class_path import ClassPathSerializable


@dataclass
class TaskResult:
    """Outcome of one task.

    Attributes:
        index: position of the task in the list given to :meth:`TaskExecutor.map`.
        value: the function's return value (``None`` on failure).
        error: ``"ExceptionType: message"`` when the task failed, else ``""``.
        traceback: formatted traceback of the failure.
        seconds: wall time of the task in its worker.
        worker: ``host:pid`` of the process that ran it.
    """

    index: int
    value: Any = None
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def run_captured(fn: Callable[[Any], Any], index: int, task: Any) -> TaskResult:
    """Run ``fn(task)`` and capture its value or its exception (runs in the worker)."""
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        value = fn(task)
    except Exception as err:  # noqa: BLE001 - every task failure is reported, none dropped
        return TaskResult(
            index=index,
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - start,
            worker=worker,
        )
    return TaskResult(index=index, value=value, seconds=time.perf_counter() - start, worker=worker)


def _one_line(text: str) -> str:
    """``text`` on one line (Dask messages can span several)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _tcp_refused(address: str, timeout: float = 3.0) -> str | None:
    """Why a ``tcp://host:port`` (or ``host:port``) address takes no connection, ``None``
    when it does (or is not a plain TCP address: Dask checks those itself)."""
    from urllib.parse import urlsplit

    if "://" not in address:  # Dask's default protocol
        address = f"tcp://{address}"
    if not address.startswith("tcp://"):
        return None
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port or 8786  # Dask's default scheduler port
    except ValueError as err:
        return f"bad address: {err}"
    if not host:
        return "the address needs a host, e.g. tcp://10.0.0.5:8786"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return f"{type(err).__name__}: {err}"


def _progress(total: int, description: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, unit="task", leave=False)


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the main process, which stops them (no tracebacks)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class TaskExecutor(ClassPathSerializable):
    """Maps a function over tasks on local processes or a Dask cluster.

    Args:
        n_workers: local worker processes (``1``: run in this process); for ``dask`` without
            an address, the number of LocalCluster workers.
        backend: ``process`` or ``dask``.
        scheduler_address: Dask scheduler (``tcp://host:8786``); ``None`` starts a LocalCluster.
        local_cluster_processes: LocalCluster workers as processes (``False``: threads of
            this process; faster to start, same scheduling code path).
        start_method: multiprocessing start method of the process pool (``spawn`` is safe
            with torch and threads; ``fork`` starts faster).
        progress: show progress bars.
    """

    def __init__(
        self,
        n_workers: int = 1,
        backend: Literal["process", "dask"] = "process",
        scheduler_address: str | None = None,
        local_cluster_processes: bool = True,
        start_method: Literal["spawn", "fork", "forkserver"] = "spawn",
        progress: bool = True,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {n_workers}.")
        if backend not in ("process", "dask"):
            raise ValueError(f"Unknown executor backend {backend!r}: use process or dask.")
        self.n_workers = int(n_workers)
        self.backend = backend
        self.scheduler_address = scheduler_address
        self.local_cluster_processes = local_cluster_processes
        self.start_method = start_method
        self.progress = progress
        self._pool: Any = None
        self._client: Any = None
        self._cluster: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_pool=None, _client=None, _cluster=None)
        return state

    def __enter__(self) -> TaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        description: str = "tasks",
        on_result: Callable[[TaskResult], None] | None = None,
    ) -> list[TaskResult]:
        """Apply ``fn`` to every task; results in task order, failures included.

        Args:
            fn: a module-level (picklable) function of one task.
            tasks: picklable task objects.
            description: label of the progress bar.
            on_result: called in this process with each result as it completes.
        """
        tasks = list(tasks)
        if not tasks:
            return []
        if self.backend == "dask":
            self.client()  # connect before the progress bar: a failure is one clean line
            runner = self._map_dask
        elif self.n_workers == 1:
            runner = self._map_inline
        else:
            runner = self._map_pool
        results: list[TaskResult | None] = [None] * len(tasks)
        with _progress(len(tasks), description, self.progress) as bar:

            def collect(result: TaskResult) -> None:
                results[result.index] = result
                bar.update(1)
                if on_result is not None:
                    on_result(result)

            runner(fn, tasks, collect)
        return [r for r in results if r is not None]

    def _map_inline(self, fn: Callable, tasks: list, collect: Callable) -> None:
        for i, task in enumerate(tasks):
            collect(run_captured(fn, i, task))

    def _ensure_pool(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context(self.start_method)
            self._pool = ProcessPoolExecutor(
                max_workers=self.n_workers, mp_context=ctx, initializer=_ignore_sigint
            )
        return self._pool

    def _abandon_pool(self) -> None:
        """Stop the pool now: queued tasks cancelled, running workers terminated (after
        Ctrl-C or a kill of this process only, waiting for them could take as long as their
        trajectories; what finished is already saved)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(timeout=10)

    def _map_pool(self, fn: Callable, tasks: list, collect: Callable) -> None:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        pool = self._ensure_pool()
        futures = {pool.submit(run_captured, fn, i, t): i for i, t in enumerate(tasks)}
        broken = False
        try:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    collect(future.result())
                except BrokenProcessPool as err:  # a worker died (segfault, out of memory)
                    broken = True
                    collect(TaskResult(index=i, error=f"BrokenProcessPool: {err}"))
                except Exception as err:  # noqa: BLE001 - e.g. unpicklable task or result
                    collect(TaskResult(index=i, error=f"{type(err).__name__}: {err}"))
        except BaseException:  # Ctrl-C, SIGTERM: stop the workers, keep what finished
            self._abandon_pool()
            raise
        if broken:
            self._abandon_pool()

    def client(self) -> Any:
        """The Dask client (started on first use)."""
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError as err:
                raise ImportError(
                    "The dask backend needs dask.distributed: run `uv sync --locked --extra "
                    "datagen` (with the --extra flags you already use: uv sync removes extras "
                    "it is not given)."
                ) from err
            if self.scheduler_address:
                self._client = self._connect(Client)
            else:
                import dask

                # one task per worker at a time (Dask's default 1.1 gives a one-thread worker
                # a second, queued task): a task that crashes its worker takes no other task
                # down with it, so KilledWorker names only the tasks that crashed
                with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                    self._cluster = LocalCluster(
                        n_workers=self.n_workers,
                        threads_per_worker=1,
                        processes=self.local_cluster_processes,
                        dashboard_address=None,
                    )
                self._client = Client(self._cluster)
                if self.local_cluster_processes:  # its workers are in this Ctrl-C's group
                    from foundation_model.workflows.datagen.dask_ctrl_c import (
                        CtrlCToMainProcess,
                    )

                    self._client.register_plugin(CtrlCToMainProcess(os.getpid()))
        return self._client

    def _connect(self, client_class: type) -> Any:
        """A client of the scheduler at ``scheduler_address``; one line when none answers.

        An unreachable ``tcp://`` address fails at once (no 30 s wait); any other failure
        to connect (timeout, cancelled handshake) gives the same one-line error.

        Raises:
            RuntimeError: nothing answered at the address.
        """
        address = str(self.scheduler_address)
        refused = _tcp_refused(address)
        if refused is None:
            try:
                return client_class(address)
            except (OSError, TimeoutError, asyncio.CancelledError, CancelledError) as err:
                refused = f"{type(err).__name__}: {err}"
        raise RuntimeError(
            f"executor.init_args.scheduler_address: could not connect to a Dask scheduler at "
            f"{address} ({_one_line(refused)}): start it first (`dask scheduler`, or a "
            "dask-jobqueue cluster) or fix the address; without an address a LocalCluster "
            "is started. Work already finished is kept (rerun with --resume)."
        )

    def _map_dask(self, fn: Callable, tasks: list, collect: Callable) -> None:
        """Run the tasks on the Dask cluster, collecting each once, as it finishes.

        A task that kills its worker process (a segfault, ``os._exit``) is retried by the
        scheduler and reported as ``KilledWorker`` after ``distributed.scheduler.
        allowed-failures`` deaths. On a LocalCluster, Dask removes a worker's nanny for good
        when no worker of that name is back ``distributed.deploy.lost-worker-timeout``
        (15 s) after one left; with repeated crashes the restarted worker was often down
        again at that instant, every nanny went, and the remaining tasks waited forever.
        That timeout is lifted while the tasks run, so the nannies keep restarting their
        workers (a result lost with its worker is computed again).
        """
        import dask
        from distributed import as_completed

        client = self.client()
        keep_nannies = {"distributed.deploy.lost-worker-timeout": "3650d"} if self._cluster else {}
        with dask.config.set(keep_nannies):
            futures = [
                client.submit(run_captured, fn, i, t, pure=False) for i, t in enumerate(tasks)
            ]
            index = {f.key: i for i, f in enumerate(futures)}
            for future in as_completed(futures):
                i = index[future.key]
                try:
                    collect(future.result())
                except Exception as err:  # noqa: BLE001 - worker lost, (un)pickling error
                    collect(TaskResult(index=i, error=f"{type(err).__name__}: {err}"))
                future.release()

    def close(self) -> None:
        """Stop the process pool or the Dask client/cluster this executor started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
