"""The one rule for decoders: whatever a decoding library raises is bad input of that file.

OpenCV raises ``cv2.error`` (a PNG header declaring a gigapixel image, say), NumPy raises
``ValueError`` or ``MemoryError``, ``struct`` raises ``struct.error``, a box size in an
MP4 can overflow a read... Readers run the decoding part of their work inside
:func:`decoding`, so every such failure reaches the pipeline as an
:class:`~blurgen.errors.InputError` naming the file: ``--on-error skip`` records it and
goes on with the samples that do not need the file, ``--on-error fail`` stops with one line.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from blurgen.errors import BlurgenError, InputError


# OpenCV's messages start with its version and source location: keep what follows.
_CV_PREFIX = re.compile(r"^OpenCV\([^)]*\)\s+\S+:\d+:\s+error:\s+")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _CV_PREFIX.sub("", line)
    if len(line) > 160:
        line = line[:157] + "..."
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


@contextlib.contextmanager
def decoding(path: str | os.PathLike, what: str, fix: str = "replace or remove the file") -> Iterator[None]:
    """Turn any exception of the body into ``InputError(path, "cannot decode WHAT (...)", fix)``.

    ``BlurgenError`` passes through unchanged (the readers' own messages are better), and so
    do ``KeyboardInterrupt`` and ``SystemExit`` (not failures of the file).
    """
    try:
        yield
    except BlurgenError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of a decoder is bad input of this file
        raise InputError(path, f"cannot decode {what} ({_first_line(e)})", fix) from None
