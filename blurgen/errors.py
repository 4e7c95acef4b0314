"""Exceptions a user can cause. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

import os


class BlurgenError(Exception):
    """An error with a one-line message meant for the user (no traceback)."""


class InputError(BlurgenError):
    """A bad input file or folder: names the file, the problem and, if known, the fix.

    ``str(err)`` is ``"<path>: <reason>[ (<fix>)]"`` on one line.
    """

    def __init__(self, path: str | os.PathLike | None, reason: str, fix: str | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        self.fix = fix
        msg = reason if self.path is None else f"{self.path}: {reason}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg.replace("\n", " "))


class ConfigError(BlurgenError):
    """A bad recipe, flag combination or manifest."""


class Interrupted(BlurgenError):
    """A run stopped by Ctrl-C or SIGTERM; the message says what is complete and how to resume."""

    exit_code = 130


class SkipSample(Exception):
    """A sample the recipe deliberately leaves out (e.g. Monkaa pairs with s > 100).

    Not an error: the pipeline always records it in the manifest's ``skipped`` list with
    ``reason`` and the JSON-able ``info`` (e.g. ``{"s": 131.2}``) and goes on.
    """

    def __init__(self, reason: str, **info):
        self.reason = reason
        self.info = info
        super().__init__(reason)


class DownloadError(BlurgenError):
    """A download asked for with ``blurgen zoo fetch`` failed: HTTP status, no network, a stall,
    or a file whose digest does not match. The message names the address."""
