"""Writing files so that nobody ever sees half of one.

Every file minigrad writes (weights, the MNIST cache, figures, results) goes through
``atomic_write``: the bytes go to a temporary file in the same folder, are flushed to disk,
and the temporary file is renamed over the target with os.replace, which is atomic on POSIX
and Windows. An interrupted write leaves the old file (or none) — never a truncated one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile


def _permissions(path: str) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 & ~umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path, write, binary: bool = True) -> str:
    """Call write(file) on a temporary file beside `path`, then move it into place.

    The folder is created if needed. Returns the path as a string.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _permissions(path))      # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):   # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
