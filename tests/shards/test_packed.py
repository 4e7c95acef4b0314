"""Shards written from samples compressed ahead (``blurgen.shards.packed``) must be the
bytes ``write_shard`` writes: the pipeline uses the packed path for gzip shards, and every
digest, resume and rerun rests on those bytes."""

import numpy as np
import pytest

from blurgen.shards.packed import ChunkCache, pack_sample, packable, packing_matches, write_packed_shard
from blurgen.shards.reader import ShardReader
from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard

ALL = ("blur", "flow", "flow_bwd", "valid", "valid_bwd", "first", "last")


def samples(n, h, w, names=ALL, seed=0):
    """Content with flat areas and noise (chunks that compress well and badly)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        arrays = {}
        for name in names:
            if name in ("flow", "flow_bwd"):
                a = rng.normal(0, 5, (h, w, 2)).astype(np.float32)
                a[: h // 2, : w // 3] = (1.25, -3.5)
            elif name in ("valid", "valid_bwd"):
                a = (rng.random((h, w)) < 0.8).astype(np.uint8)
            else:
                a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                a[h // 3:] = 90
            arrays[name] = a
        out.append(Sample(f"s/{seed}/{i:03d}", arrays, {"i": i, "source": "test"}))
    return out


def both(tmp_path, ss, compression="gzip-1", tile=64, cache=None, attrs=None):
    a = write_shard(tmp_path / "a.h5", ss, attrs=attrs, compression=compression, tile=tile, cache=cache)
    packed = [pack_sample(s, compression, tile) for s in ss]
    b = write_packed_shard(tmp_path / "b.h5", packed, attrs=attrs, cache=cache)
    return a, b


def test_this_environment_packs():
    assert packing_matches()
    assert packable("gzip-1") and packable("gzip-9")
    assert not packable("none") and not packable("lzf")


@pytest.mark.parametrize("n,h,w,tile", [
    (1, 40, 70, 16),      # partial tiles on both edges
    (5, 64, 96, 32),      # whole tiles only
    (3, 20, 30, 64),      # a frame smaller than one tile
    (4, 33, 47, 0),       # one chunk per sample
    (2, 130, 200, 64),
])
def test_same_bytes_as_write_shard(tmp_path, n, h, w, tile):
    a, b = both(tmp_path, samples(n, h, w), tile=tile, attrs={"split": "train", "recipe_digest": "r"})
    assert a == b
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


@pytest.mark.parametrize("compression", ["gzip-4", "gzip-9"])
def test_same_bytes_at_other_gzip_levels(tmp_path, compression):
    a, b = both(tmp_path, samples(3, 45, 70, names=("blur", "flow", "valid")), compression=compression, tile=16)
    assert a == b


@pytest.mark.parametrize("cache", [
    (7, 16 * 16 * 8 * 5, 0.75),   # 5 flow tiles fit; 7 slots: hash collisions evict too
    (3, 16 * 16 * 8 * 2, 0.0),    # pruning goes straight to its second method
    (101, 16 * 16 * 8 * 40, 1.0),
    (521, 100, 0.75),             # every chunk larger than the cache: written at once
])
@pytest.mark.parametrize("hw", [(45, 70), (64, 64)])
def test_same_bytes_under_cache_pressure(tmp_path, cache, hw):
    """A small chunk cache makes HDF5 evict (by pruning, by slot collisions, edge tiles
    last) while a dataset is written: the replay must follow every eviction. 64x64 in
    16 px tiles: chunk counts that are powers of two (the slot hash's bit widths)."""
    a, b = both(tmp_path, samples(6, *hw), tile=16, cache=cache)
    assert a == b


def test_packed_shard_reads_back(tmp_path):
    ss = samples(3, 45, 70)
    packed = [pack_sample(s, "gzip-1", 16) for s in ss]
    write_packed_shard(tmp_path / "b.h5", packed)
    with ShardReader(tmp_path / "b.h5") as r:
        assert r.keys() == [s.key for s in ss]
        for i, s in enumerate(ss):
            got = r.read(i)
            for name, arr in s.arrays.items():
                np.testing.assert_array_equal(got[name], arr)


def test_empty_shard(tmp_path):
    assert write_packed_shard(tmp_path / "b.h5", []) == write_shard(tmp_path / "a.h5", [])


def test_refusals(tmp_path):
    s = samples(2, 20, 30)
    with pytest.raises(ValueError, match="gzip"):
        pack_sample(s[0], "lzf", 64)
    mixed = [pack_sample(s[0], "gzip-1", 64), pack_sample(s[1], "gzip-4", 64)]
    with pytest.raises(ValueError, match="share compression"):
        write_packed_shard(tmp_path / "b.h5", mixed)
    dup = [pack_sample(s[0], "gzip-1", 64)] * 2
    with pytest.raises(ValueError, match="duplicate sample key"):
        write_packed_shard(tmp_path / "b.h5", dup)
    assert not (tmp_path / "b.h5").exists()


def test_cache_model_evicts_whole_tiles_first_then_the_head():
    """The pruning rule: the first completely written entry if it lies within
    int(nused * w0) of the head, else the head (a partly written edge tile)."""
    cache = ChunkCache(slots=1000, nbytes=4 * 10, w0=0.5, chunk_bytes=10, grid=(9, 4))
    assert cache.write((0, 0), whole=False) == []
    assert cache.write((0, 1), whole=False) == []
    assert cache.write((0, 2), whole=False) == []
    assert cache.write((0, 3), whole=True) == []
    # full: reach int(4 * 0.5) = 2 < 3 partial entries before the whole one: the head goes
    assert cache.write((1, 0), whole=True) == [(0, 0)]
    # now (0, 3) is second (after one partial): within reach
    assert cache.write((1, 1), whole=False) == [(0, 3)]
    assert cache.drain() == [(0, 1), (0, 2), (1, 0), (1, 1)]
