"""How a run ends early: a signal (Ctrl-C, SIGTERM, SIGHUP), a full disk or an output that
cannot be written. Each becomes one line that names the file or the signal, says what is
complete in ``OUT/manifest.json`` and how to finish the run (``--resume``)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from blurgen.errors import InputError, Interrupted
from blurgen.manifest import MANIFEST_NAME
from blurgen.utils import TMP_MARK

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_ACCESS_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR)
_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class StopSignals:
    """While a run goes on, SIGTERM, SIGHUP and Ctrl-C stop it with a ``KeyboardInterrupt``
    in the main thread, so the lock and temporary files are cleaned up.

    A ``KeyboardInterrupt`` raised while Python runs a finaliser or a weakref callback is
    only printed ("Exception ignored in ..."), not raised, so the signal is also remembered
    (``reason``) and the loop calls :meth:`check` between samples and shards; the printing
    of such a swallowed stop is suppressed while the run lasts. Outside the main thread
    (where handlers cannot be set) nothing changes and ``check`` never stops.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self._old: dict = {}
        self._old_hook = None

    def check(self) -> None:
        if self.reason is not None:
            raise KeyboardInterrupt(self.reason)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._old_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
            self._old = {s: signal.signal(s, self._handler) for s in _SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old = {}
        if self._old_hook is not None:
            sys.unraisablehook = self._old_hook
            self._old_hook = None

    def _handler(self, signum, frame) -> None:
        self.reason = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
        raise KeyboardInterrupt(self.reason)

    def _unraisable(self, info) -> None:
        if not (self.reason is not None and isinstance(info.exc_value, KeyboardInterrupt)):
            self._old_hook(info)


@contextlib.contextmanager
def ending_cleanly(out: Path) -> Iterator[StopSignals]:
    """Run the body with :class:`StopSignals`; a stop becomes ``Interrupted`` and a full disk
    or an unwritable output ``InputError``, after this process's temporary files in ``out``
    are removed (the run's lock is released by then)."""
    stop = StopSignals()
    with stop:
        try:
            yield stop
        except KeyboardInterrupt as e:
            raise _interrupted(out, e) from None
        except OSError as e:
            if e.errno not in _FULL_ERRNOS + _ACCESS_ERRNOS:
                raise
            raise _unwritable(out, e) from None


def _interrupted(out: Path, e: KeyboardInterrupt) -> Interrupted:
    # a second Ctrl-C or SIGTERM must not cut the clean-up short
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        remove_own_temporaries(out)
        done = completed_note(out)
    finally:
        signal.signal(signal.SIGINT, old_int)
    what = e.args[0] if e.args else "Ctrl-C"
    return Interrupted(f"{what} stopped the run: {done}finish it with the same command and --resume")


def _unwritable(out: Path, e: OSError) -> InputError:
    remove_own_temporaries(out)
    where = e.filename or out
    if Path(where).parent == out and Path(where).name.startswith("."):
        where = out  # our lock or a temporary file: name the folder the user chose
    inside = Path(os.path.abspath(where)).is_relative_to(os.path.abspath(out)) or where == out
    done = completed_note(out)
    if e.errno in _FULL_ERRNOS:
        fix = f"{done}free some space, then finish with the same command and --resume"
    elif inside or not done:
        fix = f"{done}choose a writable --out" + (" or fix it, then add --resume" if done else "")
    else:
        fix = "check the file's permissions"
    return InputError(where, e.strerror or str(e), fix)


def remove_own_temporaries(out: Path) -> None:
    """Remove this process's temporary files (``.NAME.TOKEN.tmp-PID``) in ``out``."""
    mine = f"-{os.getpid()}"
    with contextlib.suppress(OSError):
        for p in out.iterdir():
            if p.name.startswith(".") and TMP_MARK in p.name and p.name.endswith(mine):
                p.unlink()


def remove_temporaries(out: Path) -> None:
    """Remove every temporary file in ``out`` (the caller holds the run's lock, and only a
    run holding it writes there: any temporary file is a killed run's)."""
    for p in out.iterdir():
        if p.name.startswith(".") and TMP_MARK in p.name:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def completed_note(out: Path) -> str:
    """``"3 of 8 shards are complete in OUT/manifest.json; "``, or "" without a manifest."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        man = json.loads((out / MANIFEST_NAME).read_text())
        return f"{len(man['shards'])} of {len(man['plan']['shards'])} shards are complete in {out / MANIFEST_NAME}; "
    return ""
