"""A small pool of warm worker processes with a hard wall-clock limit per job.

The work budget (:mod:`matcalc.core.budget`) stops matcalc's own loops, but a single SymPy
call can run for minutes without returning to them, and a thread cannot be interrupted.
So ``matcalc serve`` runs each request in a worker process, and a worker that overruns
its limit is killed (with its whole process group: a pdflatex it started dies too) and
replaced.  :class:`concurrent.futures.ProcessPoolExecutor` cannot do that: killing one of
its processes breaks the whole pool, and the other requests with it.

Workers are forked from a fork server that has imported matcalc once (the import takes
seconds; a fork takes milliseconds), so replacing a killed worker is cheap.  Each worker
runs in its own process group, with its address space limited (``memory`` bytes) so that
a runaway allocation is a :class:`MemoryError` in the worker, not a machine out of memory.
(Where there is no fork server, no process group and no such limit — Windows — workers are
spawned and killed one by one, unlimited.)

A job is a picklable function and argument; its result must be picklable too.  The
function's exceptions come back as :class:`WorkerError`; the pool itself raises
:class:`WorkerTimeout` for a job that overran (the worker was killed), :class:`WorkerCrashed`
for a worker that died, and :class:`PoolBusy` when no worker came free in time.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
import time

from ..errors import MatcalcError

__all__ = ["WorkerPool", "WorkerError", "WorkerTimeout", "WorkerCrashed", "PoolBusy"]


class WorkerError(MatcalcError, RuntimeError):
    """The job raised an exception in the worker (its type name and message are kept)."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.message = message


class WorkerTimeout(MatcalcError, TimeoutError):
    """The job ran past its wall-clock limit; its worker was killed and replaced."""


class WorkerCrashed(MatcalcError, RuntimeError):
    """The worker died during the job (killed from outside, or out of memory in C code)."""


class PoolBusy(MatcalcError, RuntimeError):
    """No worker came free within the wait allowed."""


def _serve(connection, memory):
    """The worker's loop: receive (function, argument), send back ("ok", result) or
    ("error", (type name, message)), until the pipe closes."""
    if hasattr(os, "setpgid"):
        os.setpgid(0, 0)   # its own process group, so that killing it kills what it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C stops the server, which stops the workers
    if memory is not None and sys.platform != "win32":
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    while True:
        try:
            function, argument = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", function(argument))
        except BaseException as error:  # noqa: BLE001 - every failure is reported to the server
            reply = ("error", (type(error).__name__, str(error)))
        try:
            connection.send(reply)
        except Exception as error:  # noqa: BLE001 - e.g. an unpicklable result: say so instead
            connection.send(("error", (type(error).__name__, f"the result could not be sent back: {error}")))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context, memory):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, memory), daemon=True,
                                       name="matcalc-serve-worker")
        self.process.start()
        child.close()

    def kill(self):
        """Kill the worker and everything it started (its process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (AttributeError, ProcessLookupError, PermissionError):   # no process groups (Windows)
            self.process.kill()
        self.process.join(5)
        self.connection.close()


class WorkerPool:
    """``size`` worker processes; :meth:`run` gives a job to a free one and waits at most
    ``timeout`` seconds for its answer.

    ``preload``: modules the fork server imports once, so that every worker starts with
    them.  ``memory``: each worker's address-space limit in bytes (None for none).
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, size=2, *, preload=("matcalc",), memory=None):
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, not {size}")
        if "forkserver" in multiprocessing.get_all_start_methods():
            self.context = multiprocessing.get_context("forkserver")
            self.context.set_forkserver_preload(list(preload))
        else:   # Windows: each worker imports matcalc itself
            self.context = multiprocessing.get_context("spawn")
        self.memory = memory
        self.idle = queue.Queue()
        self.lock = threading.Lock()
        self.workers = []
        self.closed = False
        for _ in range(size):
            self._add()

    def _add(self):
        worker = _Worker(self.context, self.memory)
        with self.lock:
            self.workers.append(worker)
        self.idle.put(worker)

    def _replace(self, worker):
        worker.kill()
        with self.lock:
            self.workers.remove(worker)
            closed = self.closed
        if not closed:
            self._add()

    def run(self, function, argument, *, timeout, wait=30.0):
        """``function(argument)`` in a worker: its result, or :class:`WorkerError` (it
        raised), :class:`WorkerTimeout` (it ran past ``timeout`` seconds: killed),
        :class:`WorkerCrashed` (the worker died) or :class:`PoolBusy` (no worker came free
        within ``wait`` seconds)."""
        try:
            worker = self.idle.get(timeout=wait)
        except queue.Empty:
            raise PoolBusy(f"every worker stayed busy for {wait:g} s") from None
        try:
            worker.connection.send((function, argument))
            reply = worker.connection.recv() if worker.connection.poll(timeout) else None
        except (EOFError, OSError):
            self._replace(worker)
            raise WorkerCrashed("the worker process died during the computation") from None
        except BaseException:   # the job could not be sent (not picklable), or an interrupt
            self._replace(worker)
            raise
        if reply is None:
            self._replace(worker)
            raise WorkerTimeout(f"the computation took more than {timeout:g} s and was stopped")
        status, value = reply
        self.idle.put(worker)
        if status == "error":
            raise WorkerError(*value)
        return value

    def close(self):
        """Stop every worker."""
        with self.lock:
            self.closed = True
            workers = list(self.workers)
            self.workers.clear()
        for worker in workers:
            worker.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def round_trip_seconds(pool, count=20) -> float:
    """The median time of an empty job through ``pool``: the overhead of a worker per request."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        pool.run(len, "", timeout=10)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
