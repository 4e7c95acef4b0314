"""Samples made ahead of their shard: in memory up to a budget, past it in a file.

Stream groups (``Job.groups``: a video's windows decoded as streams) make samples in the
video's order; shards take them in their planned (hashed) order, so most samples are made
long before their shard is written. They wait compressed (the packer's chunks). Past
``budget`` bytes in memory, the ones needed last move to one temporary file in the output
folder (appended; read back when their shard is written; removed when the run ends, and,
as any temporary file, by a stop or by the next run in that folder). A full disk there is
the run's full disk: the run stops with the usual line.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blurgen.pipeline.packing import Pending
from blurgen.shards.packed import PackedSample
from blurgen.utils import tmp_path


@dataclass(frozen=True)
class Spilled:
    """A packed sample moved to the waiting file: where its chunks are, and the rest."""

    room: WaitingRoom
    offset: int
    lengths: dict[str, list[int]]
    sample: PackedSample  # with its chunks emptied

    def result(self) -> PackedSample:
        """The packed sample, chunks read back from the file."""
        data = os.pread(self.room.fd, sum(map(sum, self.lengths.values())), self.offset)
        chunks, pos = {}, 0
        for name, lengths in self.lengths.items():
            chunks[name] = []
            for n in lengths:
                chunks[name].append(data[pos:pos + n])
                pos += n
        s = self.sample
        return PackedSample(s.key, s.meta, s.names, s.hw, chunks, s.compression, s.tile)


def _packed_bytes(item: Any, typical: int) -> int:
    """Memory a waiting item holds (a packing not finished counts as ``typical``)."""
    if isinstance(item, Future):
        if not item.done() or item.exception() is not None:
            return typical
        item = item.result()
    if isinstance(item, PackedSample):
        return sum(len(c) for chunks in item.chunks.values() for c in chunks)
    return 0


class WaitingRoom:
    """``settle(waiting)`` after new samples join ``waiting`` ({task index: result}):
    packed samples move to the file, the ones needed last (highest index) first, until
    those in memory fit ``budget``. A context manager; the file is made on first use."""

    def __init__(self, out: Path, budget: int):
        self.path, self.budget = tmp_path(Path(out) / "waiting"), budget
        self._file = None
        self._typical = 0

    @property
    def fd(self) -> int:
        return self._file.fileno()

    def __enter__(self) -> WaitingRoom:
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
            self.path.unlink(missing_ok=True)
            self._file = None

    def settle(self, waiting: dict[int, Any]) -> None:
        sizes = {i: _packed_bytes(r.item, self._typical) for i, r in waiting.items() if isinstance(r, Pending)}
        total = sum(sizes.values())
        for i in sorted(sizes, reverse=True):
            if total <= self.budget:
                return
            r = waiting[i]
            packed = r.item.result() if isinstance(r.item, Future) else r.item  # waits for its packing
            if isinstance(packed, PackedSample):
                self._typical = max(self._typical, sizes[i])
                waiting[i] = Pending(r.key, r.digest, self._spill(packed))
                total -= sizes[i]

    def _spill(self, packed: PackedSample) -> Spilled:
        if self._file is None:
            self._file = open(self.path, "w+b")
        offset = self._file.seek(0, os.SEEK_END)
        for chunks in packed.chunks.values():
            self._file.writelines(chunks)
        self._file.flush()
        lengths = {name: [len(c) for c in chunks] for name, chunks in packed.chunks.items()}
        empty = PackedSample(packed.key, packed.meta, packed.names, packed.hw, {}, packed.compression, packed.tile)
        return Spilled(self, offset, lengths, empty)
