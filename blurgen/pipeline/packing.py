"""Compressing each sample for its shard in a background thread while the next ones are made.

A shard's samples are compressed when the shard is written, after its last sample is
made: with one worker (the samples made in this process) the whole compression used to
wait for the making and the making for the compression. :class:`ShardPacker` hands each
sample, as soon as it comes back, to one background thread that compresses its chunks
(``blurgen.shards.packed.pack_sample``; zlib releases the GIL, as OpenCV and the numba
kernels of the next sample do), and writes the shard from the compressed chunks
(``write_packed_shard``): the same bytes as ``write_shard``. Compressions the packer cannot
reproduce (``none``, ``lzf``, ``blosc-zstd``, or a zlib that differs from HDF5's) are
written by ``write_shard`` from the samples, as before.

A shard's write (the HDF5 file image, the sha256, the atomic write and its fsync) runs in
a second background thread, :meth:`ShardPacker.write_later`, while the loop's thread makes
the next shard's samples; the loop records a shard in the manifest only once its write has
returned, and waits for it before it ends, however it ends (a stop, a full disk, bad input
under ``--on-error fail``), so a run ends with every shard it wrote in its manifest.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from blurgen.pipeline.worker import Made
from blurgen.shards.packed import PackedSample, pack_sample, packable, write_packed_shard
from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard


@dataclass(frozen=True)
class Pending:
    """A made sample on its way into a shard: key, content digest, and the sample (or the
    future of its compressed chunks)."""

    key: str
    digest: str
    item: Sample | PackedSample | Future | Any


class ShardPacker:
    """``add(made) -> Pending`` as samples come back; ``write(path, pendings, attrs)`` when a
    shard's samples are all there. A context manager: leaving it (also on a stop or an
    error) cancels what is queued and waits for the sample being compressed."""

    def __init__(self, compression: str, tile: int):
        self.compression, self.tile = compression, tile
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="blurgen-pack") if packable(compression) else None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="blurgen-write")

    @property
    def packs(self) -> bool:
        """Whether samples are compressed ahead (else written from the samples)."""
        return self._pool is not None

    def __enter__(self) -> ShardPacker:
        return self

    def __exit__(self, *exc) -> None:
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def worker_packing(self, backend: str) -> tuple[str, int] | None:
        """(compression, tile) for the workers to pack samples themselves (``make_one``'s
        ``pack``) when they are this machine's processes (``loky``): the compression is then
        spread over them. None otherwise: this process packs (sequential: in the background
        thread; dask and ray workers may run another zlib)."""
        return (self.compression, self.tile) if self.packs and backend == "loky" else None

    def add(self, made: Made) -> Pending:
        item = made.sample
        if self._pool is not None and isinstance(item, Sample):
            item = self._pool.submit(pack_sample, item, self.compression, self.tile)
        return Pending(made.sample.key, made.digest, item)

    def write_later(self, path: str | os.PathLike, pendings: list[Pending], attrs: dict[str, Any]) -> Future:
        """:meth:`write` in the writer thread (one shard at a time, in the order asked); the
        future's result is the shard's sha256."""
        return self._writer.submit(self.write, path, pendings, attrs)

    def write(self, path: str | os.PathLike, pendings: list[Pending], attrs: dict[str, Any]) -> str:
        """Write the shard (atomically); return its sha256."""
        if self._pool is None:
            return write_shard(path, [p.item for p in pendings], attrs=attrs, compression=self.compression,
                               tile=self.tile)
        # an item still being packed (a Future) or waiting in a file (waiting.Spilled): result()
        return write_packed_shard(path, [p.item if isinstance(p.item, PackedSample) else p.item.result()
                                         for p in pendings], attrs=attrs)
