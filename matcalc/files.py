"""Every file matcalc writes or reads for the user goes through here.

Writing (:func:`output`, :func:`write`, checked ahead of time by :func:`check_output`), by
what the path names:

* **nothing, or a regular file**: the data go to a temporary file in the same directory,
  which then replaces the path with ``os.replace``.  A reader sees the old file or the new
  one, never half of one; a failed write leaves the old file as it was.  A regular file
  without write permission is refused, never replaced;
* **a symbolic link**: followed.  The file it points to is replaced atomically, and the link
  stays a link to it; a link to nothing is refused;
* **a FIFO or a character device** (a terminal, ``/dev/null``): written through, opened for
  writing and never replaced; a FIFO that no process is reading is refused instead of
  waited on;
* **anything else** (a directory, a block device, a socket): refused.

The temporary file is removed when the write fails, and on SIGTERM or SIGINT: handlers are
installed for the duration of the write (in the main thread), and the previous ones are
restored and then run.  Only SIGKILL can leave a ``.name.XXXXXXXX.tmp`` file behind.

Reading (:func:`read`, checked ahead of time by :func:`check_input`): regular files only,
at most a given number of bytes.  A FIFO, a device or a directory is refused before
anything is read, so ``/dev/zero`` or a FIFO that nobody writes cannot exhaust memory or
hang.

A refusal raises :class:`~matcalc.errors.FileError` naming the path and the reason.
"""
from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import FileError

__all__ = ["output", "write", "check_output", "read", "check_input", "MiB", "GiB"]

MiB = 1 << 20
GiB = 1 << 30


# ================================================================ writing

def check_output(path, *, overwrite=True, what="output", replace_with="pass overwrite=True") -> Path:
    """Check, before any work, that ``path`` can be written under the policy of this module;
    with ``overwrite=False`` an existing file or link is refused too (a FIFO or a character
    device is never replaced, so it is not; ``replace_with`` tells the user how to allow it).
    Returns the path the data will go to."""
    return _checked(Path(path), overwrite, what, replace_with)[0]


@contextmanager
def output(path, *, overwrite=True, what="output", replace_with="pass overwrite=True"):
    """A binary file object whose contents become ``path`` when the block succeeds (see the
    module docstring for what each kind of path gets)."""
    path = Path(path)
    target, kind = _checked(path, overwrite, what, replace_with)
    if kind == "stream":
        with _open_stream(path, what) as handle:
            yield handle
        return
    mode = _mode_for(target)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with _removed_on_signal(temporary):
        try:
            with os.fdopen(descriptor, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            if not overwrite and os.path.lexists(path):
                raise FileError(f"{what} {path} appeared while matcalc was working; it was left alone")
            os.replace(temporary, target)
        except BaseException:
            _remove(temporary)
            raise


def write(path, data, *, overwrite=True, what="output", replace_with="pass overwrite=True") -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` through :func:`output`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with output(path, overwrite=overwrite, what=what, replace_with=replace_with) as handle:
        handle.write(data)
    return Path(path)


def _checked(path: Path, overwrite, what, replace_with="pass overwrite=True"):
    target, kind = _target(path, what)
    if kind == "replace" and not overwrite and os.path.lexists(path):
        raise FileError(f"{what} {path} exists; choose another name, or {replace_with} to replace it")
    if kind == "replace" and not os.access(target.parent, os.W_OK | os.X_OK):
        raise FileError(f"cannot write {what} {path}: the directory {target.parent} is not writable")
    return target, kind


def _target(path: Path, what):
    """(where the data go, "replace" or "stream"), or FileError for a path refused."""
    try:
        status = os.stat(path)   # follows links: the file a link points to decides
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileError(f"cannot write {what} {path}: it is a symbolic link to "
                            f"{os.readlink(path)}, which does not exist") from None
        directory = path.parent
        if not directory.is_dir():
            raise FileError(f"cannot write {what} {path}: the directory {directory} does not exist") from None
        return Path(os.path.realpath(directory)) / path.name, "replace"
    except NotADirectoryError:
        raise FileError(f"cannot write {what} {path}: {path.parent} is not a directory") from None
    kind = status.st_mode
    if stat.S_ISREG(kind):
        if not kind & 0o222 or not os.access(path, os.W_OK):
            raise FileError(f"cannot write {what} {path}: the file is read-only")
        return Path(os.path.realpath(path)), "replace"
    if stat.S_ISFIFO(kind) or stat.S_ISCHR(kind):
        return path, "stream"
    described = "a directory" if stat.S_ISDIR(kind) else "a block device" if stat.S_ISBLK(kind) else \
        "a socket" if stat.S_ISSOCK(kind) else "not a regular file"
    raise FileError(f"cannot write {what} {path}: it is {described} (matcalc writes regular files, "
                    f"FIFOs and character devices)")


def _open_stream(path, what):
    """A FIFO or character device opened for writing, without truncating or replacing it."""
    try:
        # O_NONBLOCK: opening a FIFO that nobody reads fails (ENXIO) instead of waiting forever
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if error.errno == errno.ENXIO:
            raise FileError(f"cannot write {what} {path}: it is a FIFO that no process is reading") from None
        raise
    flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
    fcntl.fcntl(descriptor, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    return os.fdopen(descriptor, "wb")


def _mode_for(target: Path) -> int:
    """The permissions of the file replaced, or those a plain open() would give a new one
    (mkstemp makes its file private)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def _removed_on_signal(temporary):
    """Remove ``temporary`` if SIGTERM or SIGINT arrives inside the block, then let the
    handler that was there before act (terminate, raise KeyboardInterrupt, …)."""
    if threading.current_thread() is not threading.main_thread():
        yield   # signal handlers can only be set in the main thread; it receives the signals
        return
    previous = {}

    def restore():
        for number, handler in previous.items():
            signal.signal(number, handler)

    def on_signal(number, frame):
        _remove(temporary)
        restore()
        handler = previous[number]
        if callable(handler):
            handler(number, frame)
        else:   # SIG_DFL: the default action, now that it is back
            os.kill(os.getpid(), number)

    for number in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(number)
        if handler in (signal.SIG_IGN, None):   # ignored, or set outside Python: leave it
            continue
        previous[number] = handler
        signal.signal(number, on_signal)
    try:
        yield
    finally:
        restore()


# ================================================================ reading

def read(path, *, limit, what="file", raise_with="") -> bytes:
    """The contents of the regular file ``path``, refused when it is not a regular file or
    holds more than ``limit`` bytes (``raise_with`` says how the user can raise the limit)."""
    path = check_input(path, limit=limit, what=what, raise_with=raise_with)
    # O_NONBLOCK: should the path have become a FIFO since the stat, open does not wait
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        _check_readable(path, os.fstat(descriptor), limit, what, raise_with)
        data = handle.read(limit + 1)
    if len(data) > limit:
        _too_large(path, len(data), limit, what, raise_with)
    return data


def check_input(path, *, limit, what="file", raise_with="") -> Path:
    """Check, without opening it, that :func:`read` would read ``path``."""
    path = Path(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise FileError(f"no such {what}: {path}") from None
    except NotADirectoryError:
        raise FileError(f"no such {what}: {path} ({path.parent} is not a directory)") from None
    _check_readable(path, status, limit, what, raise_with)
    if not os.access(path, os.R_OK):
        raise FileError(f"cannot read {what} {path}: permission denied")
    return path


def _check_readable(path, status, limit, what, raise_with):
    if stat.S_ISDIR(status.st_mode):
        raise FileError(f"{what} {path} is a directory")
    if not stat.S_ISREG(status.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(status.st_mode) else "a device" if (
            stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode)) else "not a regular file"
        raise FileError(f"{what} {path} is {kind}; matcalc reads only regular files")
    if status.st_size > limit:
        _too_large(path, status.st_size, limit, what, raise_with)


def _too_large(path, size, limit, what, raise_with):
    hint = f"; raise the limit with {raise_with}" if raise_with else ""
    raise FileError(f"{what} {path} is larger than the limit of {_bytes_text(limit)} "
                    f"({_bytes_text(size)}{'+' if size == limit + 1 else ''}){hint}")


def _bytes_text(count) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if count >= size:
            value = count / size
            return f"{value:.3g} {unit}" if value != int(value) else f"{int(value)} {unit}"
    return f"{count} bytes"
