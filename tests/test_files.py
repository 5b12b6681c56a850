"""matcalc.files: atomic writes that never replace a FIFO, a device or a link by a regular
file, and reads of regular files only, within a size limit.

Everything happens in tmp_path: FIFOs made with os.mkfifo (read by a thread), links made
with os.symlink, large files made sparse with truncate.  No test touches a real device.
"""
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import matcalc as mc
from matcalc import files


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


class Reader(threading.Thread):
    """Reads a FIFO to its end, as another process would."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.data = path, None
        self.start()

    def run(self):
        with open(self.path, "rb") as handle:   # blocks until a writer opens the FIFO
            self.data = handle.read()


def write_to_reader(path, data, **options):
    """files.write once the reader thread has the FIFO open (until then it is refused)."""
    reader = Reader(path)
    deadline = time.monotonic() + 10
    while True:
        try:
            files.write(path, data, **options)
            break
        except mc.FileError as error:
            if "no process is reading" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    reader.join(10)
    return reader.data


# ---------------------------------------------------------------- regular files

def test_a_new_file_gets_the_permissions_open_would_give(tmp_path):
    target = tmp_path / "out.txt"
    files.write(target, "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert not leftovers(tmp_path)


def test_replacing_keeps_the_permissions_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.py"
    target.write_text("old")
    target.chmod(0o640)
    files.write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not leftovers(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.py"
    target.write_text("precious")
    with pytest.raises(RuntimeError):
        with files.output(target) as handle:
            handle.write(b"half a modu")
            raise RuntimeError("the producer failed")
    assert target.read_text() == "precious"
    assert not leftovers(tmp_path)


def test_a_read_only_file_is_refused_not_replaced(tmp_path):
    target = tmp_path / "params.npz"
    target.write_text("precious")
    target.chmod(0o444)
    with pytest.raises(mc.FileError, match="read-only"):
        files.write(target, "new")
    assert target.read_text() == "precious"
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: None, "directory .* does not exist"),
])
def test_directories_and_missing_directories_are_refused(tmp_path, make, fragment):
    target = tmp_path / "out"
    make(target)
    path = target if target.exists() else target / "inner" / "out.txt"
    with pytest.raises(mc.FileError, match=fragment):
        files.write(path, "x")


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    target = tmp_path / "params.npz"
    target.write_text("precious")
    with pytest.raises(mc.FileError, match="exists"):
        files.write(target, "new", overwrite=False)
    assert target.read_text() == "precious"
    files.write(tmp_path / "fresh.npz", "new", overwrite=False)
    assert (tmp_path / "fresh.npz").read_text() == "new"


# ---------------------------------------------------------------- links

def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "module.py"
    real.write_text("old")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    files.write(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert not leftovers(tmp_path) and not leftovers(tmp_path / "real")


def test_a_symlink_to_nothing_is_refused(tmp_path):
    link = tmp_path / "link.py"
    link.symlink_to(tmp_path / "missing.py")
    with pytest.raises(mc.FileError, match="symbolic link .* does not exist"):
        files.write(link, "new")
    assert link.is_symlink() and not (tmp_path / "missing.py").exists()


def test_overwrite_false_refuses_a_symlink(tmp_path):
    real = tmp_path / "real.npz"
    real.write_text("precious")
    (tmp_path / "link.npz").symlink_to(real)
    with pytest.raises(mc.FileError, match="exists"):
        files.write(tmp_path / "link.npz", "new", overwrite=False)
    assert real.read_text() == "precious"


# ---------------------------------------------------------------- FIFOs

def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    data = bytes(range(256)) * 4096   # 1 MiB: more than a pipe holds, so writes must block
    assert write_to_reader(fifo, data) == data
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not leftovers(tmp_path)


def test_a_fifo_nobody_reads_is_refused_at_once(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(mc.FileError, match="FIFO that no process is reading"):
        files.write(fifo, "lost")
    assert time.monotonic() - started < 2
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_to_a_fifo_writes_through(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    # overwrite=False: a FIFO is never replaced, so it may be written
    assert write_to_reader(tmp_path / "link", b"via the link", overwrite=False) == b"via the link"
    assert (tmp_path / "link").is_symlink()


# ---------------------------------------------------------------- signals

def test_sigint_during_a_write_removes_the_temporary_file_and_restores_the_handler(tmp_path):
    target = tmp_path / "out.py"
    target.write_text("precious")
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with files.output(target) as handle:
            handle.write(b"half")
            assert leftovers(tmp_path)            # the temporary file exists …
            os.kill(os.getpid(), signal.SIGINT)   # … until the interrupt
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before
    assert target.read_text() == "precious" and not leftovers(tmp_path)


def test_sigterm_during_a_write_removes_the_temporary_file_and_still_terminates(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys, time
        from matcalc import files
        with files.output(sys.argv[1]) as handle:
            handle.write(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        print("not reached")
    """)
    target = tmp_path / "out.py"
    target.write_text("precious")
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert b"not reached" not in done.stdout
    assert target.read_text() == "precious" and not leftovers(tmp_path)


def test_handlers_are_restored_after_a_write(tmp_path):
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda number, frame: seen.append(number))
    try:
        files.write(tmp_path / "a.txt", "a")
        assert signal.getsignal(signal.SIGTERM) is not previous and seen == []
        os.kill(os.getpid(), signal.SIGTERM)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- the API's writers

def test_export_numpy_refuses_a_read_only_file_and_keeps_it(tmp_path):
    x = mc.colvec("x", "n")
    target = tmp_path / "module.py"
    target.write_text("precious")
    target.chmod(0o444)
    with pytest.raises(mc.FileError, match="read-only"):
        mc.export_numpy(mc.sum(x), x, target)
    assert target.read_text() == "precious"


def test_export_numpy_writes_atomically(tmp_path, monkeypatch):
    x = mc.colvec("x", "n")
    target = tmp_path / "module.py"
    target.write_text("precious")

    def disk_full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        mc.export_numpy(mc.sum(x), x, target)
    assert target.read_text() == "precious" and not leftovers(tmp_path)
    monkeypatch.undo()
    link = tmp_path / "link.py"
    link.symlink_to(target)
    mc.export_numpy(mc.sum(x), x, link)
    assert link.is_symlink() and "def loss_and_gradients" in target.read_text()


def test_the_loss_plot_is_written_through_the_same_writer(tmp_path):
    pytest.importorskip("matplotlib")
    from matcalc.apps.plot import plot_loss
    target = tmp_path / "loss.png"
    target.write_text("precious")
    target.chmod(0o444)
    with pytest.raises(mc.FileError, match="read-only"):
        plot_loss([3.0, 2.0, 1.0], target)
    assert target.read_text() == "precious"


# ---------------------------------------------------------------- reading

def test_read_returns_a_regular_file(tmp_path):
    (tmp_path / "data.csv").write_bytes(b"a,b\n1,2\n")
    assert files.read(tmp_path / "data.csv", limit=100) == b"a,b\n1,2\n"


def test_read_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(mc.FileError, match="is a FIFO; matcalc reads only regular files"):
        files.read(fifo, limit=100, what="CSV file")
    assert time.monotonic() - started < 2


def test_read_refuses_a_file_over_the_limit_before_reading_it(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(3 * files.GiB)   # sparse: no disk used
    with pytest.raises(mc.FileError, match=r"larger than the limit of 1 GiB \(3 GiB\); raise the limit with --x"):
        files.read(big, limit=files.GiB, what="CSV file", raise_with="--x")


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: None, "no such CSV file"),
])
def test_read_refuses_directories_and_missing_files(tmp_path, make, fragment):
    make(tmp_path / "data.csv")
    with pytest.raises(mc.FileError, match=fragment):
        files.read(tmp_path / "data.csv", limit=100, what="CSV file")
