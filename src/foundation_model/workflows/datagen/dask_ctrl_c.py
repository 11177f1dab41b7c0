"""Worker set-up for the Dask LocalCluster this program starts: a Ctrl-C is left to the main
process.

A Ctrl-C in a terminal reaches every process of its group, so each worker process of the
LocalCluster printed a ``KeyboardInterrupt`` traceback (and Dask a warning per cancelled
task) after ``fm datagen``'s own line. The main process stops the cluster and keeps what
finished, so a worker process that gets SIGINT just ends, at once and silently (what it was
computing is abandoned, as with the process backend). Imported only with the ``dask``
backend (``distributed`` comes with the ``datagen`` extra).
"""

from __future__ import annotations

import os
import signal
import threading

from distributed import WorkerPlugin


def _end_quietly(signum: int, frame: object) -> None:
    os._exit(0)


class CtrlCToMainProcess(WorkerPlugin):
    """Makes each worker *process* (also one restarted later) end quietly on SIGINT.

    Args:
        main_pid: the process that started the cluster: workers that are threads of it
            (``local_cluster_processes=False``) keep its handler.
    """

    name = "fm-ctrl-c-to-main-process"

    def __init__(self, main_pid: int) -> None:
        self.main_pid = main_pid

    def setup(self, worker: object) -> None:
        """Called by Dask on each worker when it starts or joins."""
        if (
            os.getpid() == self.main_pid
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        signal.signal(signal.SIGINT, _end_quietly)
