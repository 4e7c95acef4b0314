"""Write one HDF5 shard (schema 1, DESIGN.md section 4) atomically and reproducibly.

A shard holds N samples of one frame size (H, W). Datasets:

- ``blur`` (N, H, W, 3) uint8 RGB; ``flow`` (N, H, W, 2) float32 px, [..., 0] = x;
  optional ``flow_bwd`` (N, H, W, 2) float32, ``valid`` and ``valid_bwd`` (N, H, W) uint8
  (the masks of ``flow`` on the first frame's grid and of ``flow_bwd`` on the last
  frame's), ``first`` / ``last`` (N, H, W, 3) uint8. Every sample of a shard has the same set.
- ``key`` (N,) and ``meta`` (N,) variable-length UTF-8 strings (meta is canonical JSON).

File attributes: ``schema_version``, ``blurgen_version``, ``recipe_digest`` and whatever
the caller adds, written in sorted order. Object timestamps are off and the library
version bounds are fixed, so the same samples give the same bytes. The file is built in
memory (HDF5's core driver), written under a temporary name beside its final one
(``blurgen.utils.atomic_path``), fsynced and renamed: a shard on disk is whole or absent, and a full disk raises a plain
``OSError`` naming the shard.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blurgen import __version__
from blurgen.errors import ConfigError
from blurgen.shards.schema import ARRAYS, SCHEMA_VERSION, Sample, canonical_meta, validate_sample
from blurgen.utils import atomic_write_bytes, tmp_path

# HDF5 file-format bounds: "earliest" keeps shards readable by old HDF5 builds; a fixed
# upper bound keeps the bytes the same when a newer HDF5 would pick newer structures.
LIBVER = ("earliest", "v110")

# Defaults chosen with benchmarks/shards.py (table in docs/shards.md). Chunks are
# (1, 64, 64, C) tiles of one sample: a random 256x256 crop decompresses at most 5x5 tiles
# (~1.6x the crop) instead of the whole frame (8-14x). gzip-1 (zlib) is readable by every
# HDF5 build and its output depends only on its input. LZF decodes ~1.6x faster, but
# h5py's LZF filter leaves its hash table uninitialised, so the same content can compress
# to other bytes depending on what the process did before: a resumed run's shards then
# differ from an uninterrupted run's. lzf stays available (--compression lzf) for runs
# that never need byte identity.
DEFAULT_TILE = 64
DEFAULT_COMPRESSION = "gzip-1"
COMPRESSIONS = ("none", "lzf", "gzip", "gzip-1", "gzip-4", "gzip-6", "gzip-9", "blosc-zstd")


@dataclass(frozen=True)
class Compression:
    """An HDF5 filter choice: h5py ``create_dataset`` keyword arguments."""

    name: str
    kwargs: dict[str, Any]


def compression_options(name: str) -> Compression:
    """Map a compression name to h5py filter settings.

    ``none``; ``gzip-1`` (the default) or ``gzip`` (= ``gzip-4``) or ``gzip-L`` with L in
    1..9 (readable by every HDF5 build, deterministic); ``lzf`` (built into h5py, faster to
    decode, but its bytes are not reproducible across processes: see DEFAULT_COMPRESSION); lzf and gzip use the byte-shuffle filter; ``blosc-zstd`` (needs the optional ``hdf5plugin`` package both to write
    and to read, so it is never the default).
    """
    if name == "none":
        return Compression(name, {})
    if name == "lzf":
        return Compression(name, {"compression": "lzf", "shuffle": True})
    if name == "gzip" or name.startswith("gzip-"):
        level = 4 if name == "gzip" else name[5:]
        if not str(level).isdigit() or not 1 <= int(level) <= 9:
            raise ConfigError(f"compression {name!r}: gzip level must be 1..9 (e.g. gzip-4)")
        return Compression(name, {"compression": "gzip", "compression_opts": int(level), "shuffle": True})
    if name == "blosc-zstd":
        try:
            import hdf5plugin
        except ImportError:
            raise ConfigError(
                "compression 'blosc-zstd' needs the hdf5plugin package (pip install hdf5plugin); "
                "readers need it too, so prefer the default gzip-1"
            ) from None
        return Compression(name, dict(hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.SHUFFLE)))
    raise ConfigError(f"unknown compression {name!r}; choose one of: {', '.join(COMPRESSIONS)}")


def chunk_shape(name: str, hw: tuple[int, int], tile: int | None) -> tuple[int, ...]:
    """HDF5 chunk of dataset ``name`` for frames ``hw``: one sample, tiled by ``tile`` px
    (``None`` or 0: one chunk per whole sample)."""
    h, w = hw
    _, trailing = ARRAYS[name]
    if tile:
        h, w = min(h, tile), min(w, tile)
    return (1, h, w, *trailing)


def write_shard(
    path: str | os.PathLike,
    samples: Sequence[Sample],
    attrs: dict[str, Any] | None = None,
    compression: str = DEFAULT_COMPRESSION,
    tile: int | None = DEFAULT_TILE,
    cache: tuple[int, int, float] | None = None,
) -> str:
    """Write ``samples`` (in the given order) as one shard at ``path``; return its sha256.

    All samples must have the same (H, W) and the same set of arrays; keys must be unique.
    ``attrs`` are extra JSON-like file attributes (str, int, float). Raises ``ValueError``
    for samples that break the schema. The write is atomic (temporary name + rename).
    ``cache``: HDF5's chunk cache of the datasets while they are written, ``(slots, bytes,
    w0)``; None (every run) is HDF5's default. The cache decides the order of the chunks in
    the file, so other settings give other bytes: only tests and ``shards.packed``'s
    self-check set it.
    """
    for s in samples:
        validate_sample(s)
    return write_shard_file(path, samples, attrs, compression, lambda f, names, hw, comp: _write_arrays(
        f, samples, names, hw, comp, tile, cache))


def write_shard_file(path: str | os.PathLike, samples: Sequence, attrs: dict[str, Any] | None, compression: str,
                     write_arrays) -> str:
    """The shard file for ``samples`` (anything with ``key``, ``meta`` and the array names
    and size :func:`_layout` reads): attributes, the arrays by ``write_arrays(f, names, hw,
    comp)``, then keys and metas; written atomically, returns its sha256."""
    path = Path(path)
    comp = compression_options(compression)
    names, hw = _layout(samples, path.name)
    all_attrs = {"schema_version": SCHEMA_VERSION, "blurgen_version": __version__, "recipe_digest": ""}
    all_attrs.update(attrs or {})
    image = _file_image(samples, names, hw, all_attrs, comp, write_arrays, name=tmp_path(path).name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(1) as pool:  # hash while writing: both release the GIL
        digest = pool.submit(lambda: hashlib.sha256(image).hexdigest())
        atomic_write_bytes(path, image)
        return digest.result()


def _layout(samples: Sequence, shard: str) -> tuple[list[str], tuple[int, int] | None]:
    """(array names, (H, W)) every sample shares; ``ValueError`` naming the first that differs.
    ``samples``: validated ``Sample``s, or anything with ``key``, ``names`` and ``hw``."""
    names: list[str] = []
    hw: tuple[int, int] | None = None
    seen: set[str] = set()
    for s in samples:
        if s.key in seen:
            raise ValueError(f"duplicate sample key {s.key!r} in shard {shard}")
        seen.add(s.key)
        s_names = sorted(s.arrays) if isinstance(s, Sample) else list(s.names)
        s_hw = tuple(s.arrays["blur"].shape[:2]) if isinstance(s, Sample) else tuple(s.hw)
        if hw is None:
            names, hw = s_names, s_hw
        elif s_names != names:
            raise ValueError(f"shard {shard}: sample {s.key} has arrays {s_names}, earlier samples have {names}")
        elif s_hw != hw:
            raise ValueError(f"shard {shard}: sample {s.key} is {s_hw} (H, W), earlier samples are {hw}")
    return names, hw


def _file_image(samples: Sequence, names: list[str], hw, attrs: dict[str, Any], comp: Compression,
                write_arrays, name: str) -> bytes:
    """The bytes of the shard, built in memory by HDF5's core driver (``name`` is never written).

    Building in memory and writing the bytes with plain writes makes a full disk a clean
    ``OSError`` instead of leaving the HDF5 library in a state that crashes the process.
    ``write_arrays(f, names, hw, comp)`` creates and fills the array datasets and returns
    a function to call after the key and meta datasets exist (the last array dataset's
    cached chunks reach the file there, in ``f.flush()``), or None.
    """
    import h5py

    n = len(samples)
    with h5py.File(name, "w", libver=LIBVER, track_order=False, driver="core", backing_store=False) as f:
        for k in sorted(attrs):
            f.attrs[k] = attrs[k]
        finish = write_arrays(f, names, hw, comp) if names else None
        str_dt = h5py.string_dtype("utf-8")
        keys = np.array([s.key for s in samples], dtype=object)
        metas = np.array([canonical_meta(s.meta) for s in samples], dtype=object)
        f.create_dataset("key", shape=(n,), dtype=str_dt, data=keys if n else None, track_times=False)
        f.create_dataset("meta", shape=(n,), dtype=str_dt, data=metas if n else None, track_times=False)
        if finish is not None:
            finish()
        f.flush()
        return f.id.get_file_image()


def _write_arrays(f, samples: Sequence[Sample], names: list[str], hw, comp: Compression, tile: int | None,
                  cache: tuple[int, int, float] | None):
    """HDF5's own way: each array dataset filled sample by sample; HDF5 filters each chunk
    when its chunk cache evicts it. A dataset closes (its cache flushes) when the next is
    made; the last stays open until ``f.flush()``: the returned function keeps it."""
    n = len(samples)
    opts = {} if cache is None else dict(zip(("rdcc_nslots", "rdcc_nbytes", "rdcc_w0"), cache))
    ds = None
    for array in names:
        dtype, trailing = ARRAYS[array]
        ds = f.create_dataset(array, shape=(n, *hw, *trailing), dtype=dtype, chunks=chunk_shape(array, hw, tile),
                              track_times=False, **opts, **comp.kwargs)
        for i, s in enumerate(samples):
            ds[i] = s.arrays[array]
    return lambda: ds
