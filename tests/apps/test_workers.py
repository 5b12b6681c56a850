"""The worker pool of matcalc serve (matcalc.apps.workers): jobs in warm processes, a hard
wall-clock limit that kills the worker (and what it started) and replaces it."""
import os
import subprocess
import threading
import time

import pytest

from matcalc.apps.workers import PoolBusy, WorkerCrashed, WorkerError, WorkerPool, WorkerTimeout, round_trip_seconds


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2, preload=("matcalc",), memory=1 << 30) as workers:
        yield workers


def test_a_job_runs_in_a_worker_and_returns_its_result(pool):
    assert pool.run(len, "four", timeout=30) == 4
    assert pool.run(sorted, [3, 1, 2], timeout=30) == [1, 2, 3]
    overhead = round_trip_seconds(pool)
    print(f"round trip of an empty job through the pool: {overhead * 1e3:.2f} ms")
    assert overhead < 0.05


def test_an_exception_comes_back_with_its_type(pool):
    with pytest.raises(WorkerError) as error:
        pool.run(int, "not a number", timeout=30)
    assert error.value.kind == "ValueError" and "not a number" in error.value.message


def test_an_overrun_kills_the_worker_and_what_it_started(pool, tmp_path):
    """The job starts a shell that records its pid and sleeps; past the limit the worker's
    whole process group is killed, so the shell is gone too, and the pool still serves."""
    pid_file = tmp_path / "pid"
    command = ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]
    start = time.monotonic()
    with pytest.raises(WorkerTimeout, match="more than 1 s"):
        pool.run(subprocess.run, command, timeout=1)
    assert time.monotonic() - start < 10
    child = int(pid_file.read_text())
    assert not _running(child)
    assert pool.run(len, "ok", timeout=30) == 2
    assert len(pool.workers) == 2


def _running(pid) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return False
        except FileNotFoundError:
            return False
        time.sleep(0.05)
    return True


def test_a_worker_that_dies_is_replaced(pool):
    with pytest.raises(WorkerCrashed):
        pool.run(os._exit, 3, timeout=30)
    assert pool.run(len, "again", timeout=30) == 5


def test_a_runaway_allocation_is_a_memory_error_in_the_worker(pool):
    with pytest.raises(WorkerError) as error:
        pool.run(bytearray, 4 << 30, timeout=30)
    assert error.value.kind == "MemoryError"
    assert pool.run(len, "still here", timeout=30) == 10


def test_a_request_waits_for_a_free_worker_only_so_long(pool):
    busy = [threading.Thread(target=pool.run, args=(time.sleep, 1.5), kwargs={"timeout": 30}) for _ in range(2)]
    for thread in busy:
        thread.start()
    time.sleep(0.3)
    with pytest.raises(PoolBusy, match="busy for 0.2 s"):
        pool.run(len, "", timeout=30, wait=0.2)
    for thread in busy:
        thread.join()
    assert pool.run(len, "free", timeout=30, wait=0.2) == 4
