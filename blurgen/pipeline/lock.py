"""One run per output folder: ``OUT/.blurgen.lock``, held with an OS lock (``flock``).

The kernel releases an OS lock when its process ends, however it ends (a SIGKILL, a power
cut of a cluster node whose NFS lock lease expires), so a lock can never be left "stale":
the next run simply takes it, and what the killed run left is judged by the manifest
(``--resume``). The lock file holds who is writing (pid, host, start time) for the message a
second run gets; it is removed when the run ends.

The standard library's ``fcntl.flock`` is used directly rather than the ``filelock``
package: filelock leaves its lock file in place on release by design (so that waiters share
one inode), while a finished run leaves nothing but the dataset in OUT; removing the file
safely takes one check (after locking, the path must still name the locked file), which is
all this module adds to the OS lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from blurgen.errors import ConfigError
from blurgen.manifest import LOCK_NAME

try:
    import fcntl
except ImportError:  # not a POSIX system
    fcntl = None


class RunLock:
    """``with RunLock(out):`` holds ``out/.blurgen.lock`` or raises ``ConfigError`` saying who
    holds it (one line)."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is None:
            raise ConfigError("blurgen's dataset runs need a POSIX system (fcntl.flock) to lock their output folder")
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise ConfigError(self._busy(holder)) from None
            if _still_named(fd, self.path):
                _write_holder(fd)
                self._fd = fd
                return self
            os.close(fd)  # a run that just ended removed the file we locked: lock the new one
        raise ConfigError(f"could not take the lock {self.path}; try again")

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still holding it: no other run can have it now
            os.close(self._fd)
            self._fd = None

    def _busy(self, holder: dict) -> str:
        who = ", ".join(x for x in (
            f"pid {holder['pid']}" if holder.get("pid") else "",
            f"on host {holder['host']}" if holder.get("host") and holder.get("host") != socket.gethostname() else "",
            f"since {holder['started']}" if holder.get("started") else "",
        ) if x)
        return (f"{self.out} is being written by another run{f' ({who})' if who else ''}; "
                "wait for it to finish or choose another --out")


def _still_named(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _write_holder(fd: int) -> None:
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    data = json.dumps(me).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_holder(fd: int) -> dict:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
