"""minigrad/files.py: atomic writes, the temporary files a killed write leaves, symbolic links."""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from minigrad import files

REPO = Path(__file__).resolve().parent.parent


def _temporaries(folder: Path):
    return sorted(p.name for p in folder.iterdir() if files.TMP_MARK in p.name)


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_write_appears_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    assert files.atomic_write(target, lambda f: f.write(b"abc")) == str(target)
    assert target.read_bytes() == b"abc"
    files.atomic_write(target, lambda f: f.write("text"), binary=False)
    assert target.read_text() == "text"
    assert _temporaries(target.parent) == []


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")
    with pytest.raises(RuntimeError, match="disk on fire"):
        files.atomic_write(target, fail)
    assert target.read_bytes() == b"old" and _temporaries(tmp_path) == []


def test_temporary_names_are_recognisable(tmp_path):
    name = Path(files.temporary_name(str(tmp_path / "w.npz"))).name
    assert name.startswith(".w.npz.minigrad-tmp-") and f"-{os.getpid()}-" in name


@pytest.mark.skipif(os.name != "posix", reason="tells dead writers by their pid (POSIX)")
def test_the_next_write_removes_what_dead_writers_left_and_spares_live_ones(tmp_path):
    target = tmp_path / "w.npz"
    host = files._host()
    dead = tmp_path / f".w.npz{files.TMP_MARK}{host}-{_dead_pid()}-0000aaaa"
    live = tmp_path / f".w.npz{files.TMP_MARK}{host}-{os.getpid()}-0000bbbb"     # this process
    old = tmp_path / f".w.npz{files.TMP_MARK}otherhost-{os.getpid()}-0000cccc"
    other_target = tmp_path / f".x.npz{files.TMP_MARK}{host}-{_dead_pid()}-0000dddd"
    unrelated = tmp_path / ".w.npz.something-else"
    for p in (dead, live, old, other_target, unrelated):
        p.write_bytes(b"x" * 100)
    stale = time.time() - files.STALE_AFTER_S - 60
    os.utime(old, (stale, stale))                # another host's: only age tells
    files.atomic_write(target, lambda f: f.write(b"new"))
    assert not dead.exists() and not old.exists()
    assert live.exists() and other_target.exists() and unrelated.exists()
    assert target.read_bytes() == b"new"


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and pid checks (POSIX)")
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "w.bin"
    started = tmp_path / "started"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from minigrad.files import atomic_write
        def slow(f):
            f.write(b"x" * 1_000_000)
            f.flush()
            open({str(started)!r}, "w").close()
            time.sleep(60)
        atomic_write({str(target)!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 60
        while not started.exists():
            assert proc.poll() is None and time.time() < deadline, "the writer did not start"
            time.sleep(0.05)
        proc.kill()                              # SIGKILL: no cleanup handler runs
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    left = _temporaries(tmp_path)
    assert len(left) == 1 and f"-{proc.pid}-" in left[0] and not target.exists()
    files.atomic_write(target, lambda f: f.write(b"whole"))
    assert _temporaries(tmp_path) == [] and target.read_bytes() == b"whole"


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="symbolic links")
def test_a_write_through_a_symlink_replaces_the_links_target(tmp_path):
    real = tmp_path / "store" / "weights.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    files.atomic_write(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new" and oct(real.stat().st_mode & 0o777) == oct(0o640)
    dangling = tmp_path / "next.npz"
    dangling.symlink_to(tmp_path / "store" / "not_yet.npz")
    files.atomic_write(dangling, lambda f: f.write(b"first"))
    assert dangling.is_symlink() and (tmp_path / "store" / "not_yet.npz").read_bytes() == b"first"
    assert _temporaries(tmp_path) == [] and _temporaries(real.parent) == []


def test_check_writable_folder_names_the_folder_and_the_fix(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match=r"output folder .*file/out.* cannot be written.*--out"):
        files.check_writable_folder(blocker / "out")
