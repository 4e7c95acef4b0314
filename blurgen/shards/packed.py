"""Shards from samples compressed ahead of time: :func:`write_shard`'s bytes, without its wait.

``write_shard`` lets HDF5 compress: each chunk is filtered (byte shuffle, then deflate) when
the dataset's chunk cache evicts it, and its place in the file is allocated at that moment,
so the file's layout follows the cache's eviction order. Nothing can be compressed before
the last sample of the shard is made, and the compression of a whole shard then runs in
one thread while the next samples wait.

Here :func:`pack_sample` compresses one sample's chunks by itself, as HDF5's shuffle and
deflate filters do (``zlib`` at the same level: the same library, the same bytes), in any
thread (zlib releases the GIL) as soon as the sample exists; :func:`write_packed_shard`
then writes the finished chunks as they are (``H5Dwrite_chunk``) in the order HDF5's cache
would have flushed them, with the datasets created and closed at the same points as in
``write_shard``: the same file, byte for byte. The eviction order comes from
:class:`ChunkCache`, a model of ``H5D__chunk_lock`` / ``H5D__chunk_cache_prune`` /
``H5D__chunk_flush`` (HDF5's ``src/H5Dchunk.c``) for the one write pattern ``write_shard``
uses: every chunk written once, sample by sample, each sample's chunks in row-major order.

:func:`packing_matches` writes a few small shards both ways and compares them, once per
process (a few milliseconds); where they differ (another HDF5 or zlib), :func:`packable`
says no and the pipeline writes with ``write_shard``. gzip compressions only: ``none`` has
no compression to move, and lzf and blosc are not reproduced here.
"""

from __future__ import annotations

import bisect
import functools
import os
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blurgen.shards.schema import ARRAYS, Sample, validate_sample
from blurgen.shards.writer import DEFAULT_TILE, chunk_shape, compression_options, write_shard, write_shard_file


@dataclass(frozen=True)
class PackedSample:
    """One sample as compressed chunks: what :func:`write_packed_shard` needs of it.

    ``names``: its array names, sorted; ``hw``: (H, W); ``chunks[name]``: the filtered
    bytes of each chunk of that array, tiles in row-major order; ``key``, ``meta`` as in
    the ``Sample``; ``compression``, ``tile``: the settings the chunks were made with.
    """

    key: str
    meta: dict[str, Any]
    names: tuple[str, ...]
    hw: tuple[int, int]
    chunks: dict[str, list[bytes]]
    compression: str
    tile: int


def _gzip_level(compression: str) -> int | None:
    """zlib level of a gzip compression name (as ``compression_options`` reads it), else None."""
    kwargs = compression_options(compression).kwargs
    if kwargs.get("compression") != "gzip" or not kwargs.get("shuffle"):
        return None
    return int(kwargs["compression_opts"])


def packable(compression: str) -> bool:
    """True when shards of this compression can be written from packed samples with the
    bytes ``write_shard`` gives (a gzip level, and :func:`packing_matches` here)."""
    return _gzip_level(compression) is not None and packing_matches()


def _tiles(arr: np.ndarray, tile: int) -> tuple[int, int, np.ndarray]:
    """(tile rows, tile columns, chunks): ``chunks[k]`` is the k-th tile (row-major) as HDF5
    holds it before filtering, zero-padded past the frame's edge and byte-shuffled (byte 0
    of every element, then byte 1, ...), as a ``(n_tiles, bytes)`` uint8 array."""
    h, w = arr.shape[:2]
    _, th, tw, *_ = chunk_shape("blur", (h, w), tile)
    ny, nx = -(-h // th), -(-w // tw)
    padded = np.zeros((ny * th, nx * tw, *arr.shape[2:]), arr.dtype)
    padded[:h, :w] = arr
    tiles = np.ascontiguousarray(padded.reshape(ny, th, nx, tw, -1).swapaxes(1, 2)).reshape(ny * nx, -1)
    size = arr.dtype.itemsize
    if size > 1:  # HDF5's shuffle filter
        tiles = np.ascontiguousarray(tiles.view(np.uint8).reshape(ny * nx, -1, size).transpose(0, 2, 1))
    return th, tw, tiles.reshape(ny * nx, -1)


def pack_sample(sample: Sample, compression: str, tile: int | None = DEFAULT_TILE) -> PackedSample:
    """Compress ``sample``'s chunks as a shard with these settings stores them.

    Pure and thread-safe (numpy copies, then zlib, which releases the GIL). Raises
    ``ValueError`` for a sample that breaks the schema and for a compression that is not
    :func:`packable`.
    """
    level = _gzip_level(compression)
    if level is None:
        raise ValueError(f"compression {compression!r} cannot be packed ahead (gzip levels only)")
    validate_sample(sample)
    tile = int(tile or 0)
    chunks = {}
    for name in sorted(sample.arrays):
        _, _, tiles = _tiles(np.ascontiguousarray(sample.arrays[name]), tile)
        chunks[name] = [zlib.compress(memoryview(t), level) for t in tiles]
    hw = tuple(sample.arrays["blur"].shape[:2])
    return PackedSample(sample.key, sample.meta, tuple(sorted(sample.arrays)), hw, chunks, compression, tile)


class ChunkCache:
    """HDF5's raw-data chunk cache of one dataset under ``write_shard``'s writes.

    ``write(key, whole)`` is one chunk written (``key``: its scaled coordinates, the chunk
    index per dimension; ``whole``: every byte of it written, False for a tile past the
    frame's edge) and returns the chunks HDF5 flushes to the file meanwhile, in order;
    ``drain()`` those a close or a file flush writes, head first. The rules of
    ``H5D__chunk_lock``: a chunk larger than the cache is written at once; otherwise the
    chunk in its hash slot is evicted, then ``H5D__chunk_cache_prune`` makes room, then the
    chunk joins the tail of the list. Pruning walks from the head: method 0 takes entries
    completely written, method 1 (starting after ``int(nused * w0)`` steps) any entry.
    With every chunk of one size, written once and never read, the cache is short of room
    by exactly one chunk when it is full, so one pruning evicts one entry: the first
    completely written entry if at most ``int(nused * w0)`` entries precede it, else the head.
    """

    def __init__(self, slots: int, nbytes: int, w0: float, chunk_bytes: int, grid: Sequence[int]):
        self.cached = slots > 0 and chunk_bytes <= nbytes
        self.capacity = nbytes // chunk_bytes if self.cached else 0
        self.slots, self.w0 = slots, w0
        # H5D__chunk_hash_val: bits of the next power of two of each dimension's chunk count
        self.bits = [(max(int(d), 1) - 1).bit_length() for d in grid]
        self.entries: OrderedDict[int, tuple[tuple[int, ...], int]] = OrderedDict()  # seq -> (key, slot)
        self.whole: OrderedDict[int, bool] = OrderedDict()  # seqs of completely written entries
        self.partial: list[int] = []  # seqs of the others, ascending
        self.by_slot: dict[int, int] = {}
        self.seq = 0

    def _slot(self, key: tuple[int, ...]) -> int:
        val = key[0]
        for u in range(1, len(key)):
            val = ((val << self.bits[u]) & 0xFFFFFFFFFFFFFFFF) ^ key[u]
        return val % self.slots

    def _evict(self, seq: int) -> tuple[int, ...]:
        key, slot = self.entries.pop(seq)
        if self.whole.pop(seq, None) is None:
            del self.partial[bisect.bisect_left(self.partial, seq)]
        del self.by_slot[slot]
        return key

    def write(self, key: tuple[int, ...], whole: bool) -> list[tuple[int, ...]]:
        if not self.cached:
            return [key]
        out = []
        slot = self._slot(key)
        if slot in self.by_slot:
            out.append(self._evict(self.by_slot[slot]))
        if len(self.entries) + 1 > self.capacity:
            first_whole = next(iter(self.whole), None)
            reach = int(len(self.entries) * self.w0)
            if first_whole is not None and bisect.bisect_left(self.partial, first_whole) <= reach:
                out.append(self._evict(first_whole))
            else:
                out.append(self._evict(next(iter(self.entries))))
        self.seq += 1
        self.entries[self.seq] = (key, slot)
        self.by_slot[slot] = self.seq
        if whole:
            self.whole[self.seq] = True
        else:
            self.partial.append(self.seq)
        return out

    def drain(self) -> list[tuple[int, ...]]:
        out = [key for key, _ in self.entries.values()]
        self.entries.clear()
        self.whole.clear()
        self.partial.clear()
        self.by_slot.clear()
        return out


def write_packed_shard(path: str | os.PathLike, samples: Sequence[PackedSample], attrs: dict[str, Any] | None = None,
                       cache: tuple[int, int, float] | None = None) -> str:
    """Write packed samples (in the given order) as one shard; return its sha256.

    The same file ``write_shard`` writes from the unpacked samples with the compression
    and tile they were packed with (``cache`` as there: tests only). Atomic. ``ValueError``
    for samples packed with other settings, or of different sizes or array sets.
    """
    if not samples:
        return write_shard(path, [], attrs=attrs)
    compression, tile = samples[0].compression, samples[0].tile
    if any((s.compression, s.tile) != (compression, tile) for s in samples):
        raise ValueError("packed samples of one shard must share compression and tile")
    return write_shard_file(path, samples, attrs, compression,
                            lambda f, names, hw, comp: _replay(f, samples, names, hw, comp, tile, cache))


def _replay(f, samples: Sequence[PackedSample], names: list[str], hw: tuple[int, int], comp, tile: int,
            cache: tuple[int, int, float] | None):
    """Create and fill the array datasets as ``write_shard`` does, writing each chunk when
    HDF5 would have flushed it. Returns the function that flushes the last dataset."""
    opts = {} if cache is None else dict(zip(("rdcc_nslots", "rdcc_nbytes", "rdcc_w0"), cache))
    pending = None
    for name in names:
        dtype, trailing = ARRAYS[name]
        chunks = chunk_shape(name, hw, tile)
        ds = f.create_dataset(name, shape=(len(samples), *hw, *trailing), dtype=dtype, chunks=chunks,
                              track_times=False, **opts, **comp.kwargs)
        if pending is not None:
            pending()  # the previous dataset closes once this one exists, flushing its cache
            pending = None
        pending = _fill(ds, name, samples, hw, chunks, dtype.itemsize)
        del ds
    return pending


def _fill(ds, name: str, samples: Sequence[PackedSample], hw: tuple[int, int], chunks: tuple[int, ...],
          itemsize: int):
    """Write ``name``'s chunks of every sample into ``ds`` in HDF5's flush order; return
    the function that writes what the cache still holds (and lets ``ds`` close)."""
    h, w = hw
    th, tw = chunks[1], chunks[2]
    ny, nx = -(-h // th), -(-w // tw)
    extra = (0,) * (len(chunks) - 3)  # the channel axis: one chunk holds every channel
    per_px = int(np.prod(chunks[3:], dtype=np.int64)) * itemsize
    slots, nbytes, w0 = ds.id.get_access_plist().get_chunk_cache()
    model = ChunkCache(slots, nbytes, w0, th * tw * per_px, (len(samples), ny, nx, *(1 for _ in extra)))
    if samples and model.cached:
        # The first write of write_shard allocates the dataset's chunk index before any chunk
        # reaches the file; a one-element write does the same. The chunk it leaves in the
        # cache is dropped unflushed when chunk 0 is written directly.
        ds[(0,) * ds.ndim] = 0
    write_chunk = ds.id.write_direct_chunk

    def flush(keys):
        for i, y, x, *_ in keys:
            write_chunk((i, y * th, x * tw, *extra), samples[i].chunks[name][y * nx + x])

    for i in range(len(samples)):
        for y in range(ny):
            rows = min(th, h - y * th)
            for x in range(nx):
                flush(model.write((i, y, x, *extra), rows == th and min(tw, w - x * tw) == tw))
    return lambda: flush(model.drain())


def _probe_samples(n: int, h: int, w: int, seed: int) -> list[Sample]:
    """Small samples with every array kind, compressible and not, for :func:`packing_matches`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        flow = rng.normal(0, 4, (h, w, 2)).astype(np.float32).round(2)
        flow[: h // 2] = 1.5
        arrays = {"blur": rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "flow": flow, "flow_bwd": -flow,
                  "valid": (rng.random((h, w)) < 0.9).astype(np.uint8), "valid_bwd": np.ones((h, w), np.uint8)}
        out.append(Sample(f"probe/{i}", arrays, {"i": i}))
    return out


@functools.cache
def packing_matches() -> bool:
    """Whether :func:`write_packed_shard` gives ``write_shard``'s bytes in this process's
    HDF5 and zlib: a few small shards written both ways (partial edge tiles, one chunk per
    sample, a small cache under pressure with hash collisions, HDF5's default cache)."""
    import tempfile

    cases = [(5, 45, 70, 16, (7, 16 * 16 * 8 * 5, 0.75)), (3, 20, 24, 0, None), (4, 45, 70, 16, None)]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (n, h, w, tile, cache) in enumerate(cases):
            samples = _probe_samples(n, h, w, seed=k)
            a = write_shard(os.path.join(tmp, f"a{k}.h5"), samples, compression="gzip-1", tile=tile, cache=cache)
            packed = [pack_sample(s, "gzip-1", tile) for s in samples]
            if write_packed_shard(os.path.join(tmp, f"b{k}.h5"), packed, cache=cache) != a:
                return False
    return True
