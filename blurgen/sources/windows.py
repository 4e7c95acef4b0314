"""Windows of consecutive frames: which frames are averaged into one blurred sample.

A window is ``window`` frames with consecutive numbers (240 fps frames: 7 frames give
about 30 fps blur). Windows start every ``stride`` frames (``stride == window``:
non-overlapping, the default; ``stride < window``: overlapping; ``stride > window``:
frames left out between windows).

A window never spans a gap in the numbering: the numbering is cut into runs of
consecutive numbers, and windows are laid out from the start of each run. The frames at
the end of a run that do not fill a window before a gap are dropped, and the drop is
reported (:class:`Dropped`) with the missing range, so that a manifest can say why those
frames made no sample. The frames at the very end of a sequence that do not fill a
window are the normal tail of a non-overlapping split and are not reported.

Pure functions over frame numbers; no file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from blurgen.errors import ConfigError


@dataclass(frozen=True)
class Window:
    """``frames``: the window's frame numbers (consecutive, ascending)."""

    frames: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]


@dataclass(frozen=True)
class Dropped:
    """A window position given up because the numbering has a gap.

    ``first``: the frame number the window would have started at; ``present``: the frame
    numbers it would have used that exist (fewer than the window); ``gap``:
    ``(first_missing, last_missing)``, the missing range that cut it.
    """

    first: int
    present: tuple[int, ...]
    gap: tuple[int, int]

    @property
    def reason(self) -> str:
        a, b = self.gap
        missing = f"frame {a} is missing" if a == b else f"frames {a}..{b} are missing"
        return f"window would span a gap in the frame numbering: {missing}"


def check_window(window: int, stride: int | None) -> tuple[int, int]:
    """Validate ``window`` and ``stride`` (``None`` means ``stride = window``)."""
    stride = window if stride is None else stride
    if int(window) != window or window < 1:
        raise ConfigError(f"--window must be a positive integer, got {window}")
    if int(stride) != stride or stride < 1:
        raise ConfigError(f"--stride must be a positive integer, got {stride}")
    return int(window), int(stride)


def runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive numbers as ``(first, last)`` pairs, ascending.

    ``indices`` may come in any order; duplicates are an error (two files, one number).
    """
    s = sorted(int(i) for i in indices)
    for a, b in zip(s, s[1:]):
        if a == b:
            raise ValueError(f"frame number {a} appears twice")
    out: list[tuple[int, int]] = []
    for i in s:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def plan_windows(indices: Sequence[int], window: int = 7, stride: int | None = None
                 ) -> tuple[list[Window], list[Dropped]]:
    """Lay windows over the frame numbers ``indices``; return ``(windows, dropped)``.

    Within each run of consecutive numbers ``[a, b]``, windows start at ``a``,
    ``a + stride``, ... while the window fits (``start + window - 1 <= b``). When the run
    ends at a gap, the next start position (if it lies inside the run) becomes a
    :class:`Dropped` entry naming the gap. Results are ascending by first frame.
    """
    window, stride = check_window(window, stride)
    rs = runs(indices)
    windows: list[Window] = []
    dropped: list[Dropped] = []
    for k, (a, b) in enumerate(rs):
        start = a
        while start + window - 1 <= b:
            windows.append(Window(tuple(range(start, start + window))))
            start += stride
        if k + 1 < len(rs) and start <= b:
            gap = (b + 1, rs[k + 1][0] - 1)
            dropped.append(Dropped(start, tuple(range(start, b + 1)), gap))
    return windows, dropped


def plan_stream_windows(n_frames: int, window: int = 7, stride: int | None = None,
                        first: int = 0) -> list[Window]:
    """Windows over a stream of ``n_frames`` frames numbered ``first, first + 1, ...``."""
    ws, _ = plan_windows(range(first, first + max(int(n_frames), 0)), window, stride)
    return ws
