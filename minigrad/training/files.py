"""Writing files so that nobody ever sees half of one.

Every file minigrad writes (weights, the MNIST cache, figures, results) goes through
``atomic_write``: the bytes go to a temporary file in the same folder, are flushed to disk,
and the temporary file is renamed over the target with os.replace, which is atomic on POSIX
and Windows. An interrupted write leaves the old file (or none) — never a truncated one.

A writer killed outright (kill -9, power loss) cannot remove its temporary file, so the
temporary files carry a recognisable name,

    .<target name>.minigrad-tmp-<host>-<pid>-<random>

and the next write to the same target removes the stale ones: those whose writer process
(on this host) no longer runs, and any untouched for longer than a write could take
(STALE_AFTER_S). A write through a symbolic link replaces the file the link points to, and
the link stays.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import time

TMP_MARK = ".minigrad-tmp-"
STALE_AFTER_S = 24 * 3600     # a temporary file untouched this long belongs to no live write
NAME_MAX = 255                # the longest file name (in bytes) of ext4, APFS, NTFS and most others


def _permissions(path: str) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 & ~umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _host() -> str:
    """This machine's name (at most 32 characters, to keep temporary names short), without the
    '-' that separates the parts of a temporary name."""
    return socket.gethostname().replace("-", "_")[:32] or "host"


def _temporary_prefix(name: str) -> str:
    """'.<name>.minigrad-tmp-', the part of a temporary name that every writer of `name` shares.

    File names are limited to NAME_MAX (255 bytes on common file systems); the host, pid and
    random parts after the prefix take at most 32 + 1 + 10 + 1 + 8 = 52 characters. A name too
    long to fit keeps its first characters and a hash of the whole name instead, so that a
    legal 240-character file can still be written, and its stale temporaries still be found.
    """
    prefix = f".{name}{TMP_MARK}"
    if len(prefix.encode()) <= NAME_MAX - 52:
        return prefix
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    head = name.encode()[:NAME_MAX - 52 - len(TMP_MARK) - 18].decode(errors="ignore")
    return f".{head}~{digest}{TMP_MARK}"


def temporary_name(path: str) -> str:
    """A fresh temporary file name beside `path` (see the module docstring)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f"{_temporary_prefix(name)}{_host()}-{os.getpid()}-{secrets.token_hex(4)}")


def _writer_alive(host: str, pid: int) -> bool:
    """Whether the process that owns a temporary file may still be writing it."""
    if host != _host() or os.name != "posix":    # no way to ask (os.kill would end it on Windows)
        return True
    try:
        os.kill(pid, 0)                           # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:                               # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str) -> list:
    """Delete the temporary files that earlier, killed writes to `path` left; returns their paths."""
    folder, name = os.path.split(path)
    prefix = _temporary_prefix(name)
    removed = []
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        parts = entry[len(prefix):].rsplit("-", 2)          # host, pid, random
        tmp = os.path.join(folder, entry)
        try:
            host, pid = parts[0], int(parts[1])
            age = time.time() - os.stat(tmp).st_mtime
        except (IndexError, ValueError, OSError):
            continue                                         # not ours, or gone already
        if age > STALE_AFTER_S or not _writer_alive(host, pid):
            with contextlib.suppress(OSError):
                os.remove(tmp)
                removed.append(tmp)
    return removed


def atomic_write(path, write, binary: bool = True) -> str:
    """Call write(file) on a temporary file beside `path`, then move it into place.

    The folder is created if needed; a symbolic link is followed (its target is replaced).
    Returns the path as a string (as given).
    """
    given = os.fspath(path)
    target = os.path.realpath(given) if os.path.islink(given) else os.path.abspath(given)
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = temporary_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _permissions(target))
        os.replace(tmp, target)
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
    return given


def check_writable_folder(folder, what: str = "output folder") -> str:
    """Make `folder` (if needed) and prove a file can be written there, or raise a clear error.

    For programs that write their results at the end: check at the start, not after the work.
    """
    folder = os.fspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
        probe = temporary_name(os.path.join(folder, "write-check"))
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise PermissionError(f"the {what} {folder!r} cannot be written ({exc.strerror or exc}); "
                              "choose another one (e.g. --out /tmp/run) or fix its permissions") from None
    return folder
