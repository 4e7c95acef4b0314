import hashlib
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from blurgen.errors import ConfigError
from blurgen.shards.reader import ShardReader
from blurgen.shards.schema import Sample, sample_digest, validate_sample
from blurgen.shards.writer import chunk_shape, compression_options, write_shard


def make_samples(n=3, h=20, w=28, names=("blur", "flow"), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        arrays = {}
        for name in names:
            if name in ("blur", "first", "last"):
                arrays[name] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            elif name in ("valid", "valid_bwd"):
                arrays[name] = rng.integers(0, 2, (h, w), dtype=np.uint8)
            else:
                arrays[name] = rng.standard_normal((h, w, 2)).astype(np.float32)
        out.append(Sample(f"k/{i:03d}", arrays, {"source": "test", "i": i, "name": "é"}))
    return out


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_roundtrip_all_arrays(tmp_path):
    names = ("blur", "flow", "flow_bwd", "valid", "valid_bwd", "first", "last")
    samples = make_samples(4, names=names)
    path = tmp_path / "train-00000-of-00001.h5"
    digest = write_shard(path, samples, attrs={"recipe_digest": "abc", "split": "train"})
    assert digest == sha(path)
    with ShardReader(path) as r:
        assert len(r) == 4
        assert r.keys() == [s.key for s in samples]
        assert r.size == (20, 28)
        assert set(r.names) == set(names)
        assert r.attrs["schema_version"] == 1 and r.attrs["recipe_digest"] == "abc"
        for i, s in enumerate(samples):
            got = r.read(i)
            for name in names:
                assert got[name].dtype == s.arrays[name].dtype
                np.testing.assert_array_equal(got[name], s.arrays[name])
            assert r.meta(i) == s.meta
            assert sample_digest(r.keys()[i], got, r.meta_text(i)) == sample_digest(s.key, s.arrays, s.meta)


def test_same_samples_give_same_bytes(tmp_path):
    a, b = tmp_path / "a" / "x-00000-of-00001.h5", tmp_path / "b" / "x-00000-of-00001.h5"
    assert write_shard(a, make_samples()) == write_shard(b, make_samples())
    assert a.read_bytes() == b.read_bytes()
    # a different sample order gives a different file
    c = tmp_path / "c" / "x-00000-of-00001.h5"
    assert write_shard(c, make_samples()[::-1]) != sha(a)


def test_same_bytes_in_another_process(tmp_path):
    a = tmp_path / "a.h5"
    write_shard(a, make_samples())
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from test_shard_writer import make_samples\n"
        "from blurgen.shards.writer import write_shard\n"
        "print(write_shard(sys.argv[1], make_samples()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "b.h5"), os.path.dirname(__file__)],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == sha(a)


def test_tile_chunks(tmp_path):
    path = tmp_path / "s.h5"
    write_shard(path, make_samples(2, h=40, w=70, names=("blur", "flow", "valid")), tile=32)
    with h5py.File(path) as f:
        assert f["blur"].chunks == (1, 32, 32, 3)
        assert f["flow"].chunks == (1, 32, 32, 2)
        assert f["valid"].chunks == (1, 32, 32)
    assert chunk_shape("blur", (40, 70), 0) == (1, 40, 70, 3)
    assert chunk_shape("flow", (20, 300), 256) == (1, 20, 256, 2)


def test_default_compression_needs_no_plugin(tmp_path):
    path = tmp_path / "s.h5"
    samples = make_samples(2)
    write_shard(path, samples)
    # a fresh interpreter with nothing but h5py reads it back
    code = (
        "import sys, h5py\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "assert 'hdf5plugin' not in sys.modules\n"
        "print(int(f['blur'][1].sum()), f['key'][0].decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(int(samples[1].arrays["blur"].sum())), "k/000"]


def test_duplicate_keys_fail(tmp_path):
    s = make_samples(2)
    s[1].key = s[0].key
    with pytest.raises(ValueError, match="duplicate sample key 'k/000'"):
        write_shard(tmp_path / "s.h5", s)
    assert list(tmp_path.iterdir()) == []


def test_mixed_array_sets_fail(tmp_path):
    s = make_samples(2) + make_samples(1, names=("blur", "flow", "valid"), seed=1)
    s[2].key = "other"
    with pytest.raises(ValueError, match="has arrays"):
        write_shard(tmp_path / "s.h5", s)
    mixed = make_samples(1) + make_samples(1, h=10, seed=2)
    mixed[1].key = "small"
    with pytest.raises(ValueError, match=r"is \(10, 28\)"):
        write_shard(tmp_path / "s.h5", mixed)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.__setitem__("blur", a["blur"].astype(np.float32)), "dtype float32"),
        (lambda a: a.__setitem__("flow", a["flow"][..., :1]), "shape"),
        (lambda a: a.__setitem__("fancy", a["blur"]), "unknown array 'fancy'"),
        (lambda a: a.pop("flow"), "missing required array 'flow'"),
        (lambda a: a.__setitem__("valid", np.ones((3, 3), np.uint8)), "'valid' is"),
        (lambda a: a.__setitem__("valid_bwd", np.ones((20, 28), np.uint8)), "mask of 'flow_bwd', which the sample lacks"),
    ],
)
def test_schema_violations_name_the_array(change, match):
    s = make_samples(1)[0]
    change(s.arrays)
    with pytest.raises(ValueError, match=match):
        validate_sample(s)


def test_meta_must_be_plain_json():
    s = make_samples(1)[0]
    s.meta = {"s": np.float32(1.5)}
    with pytest.raises(ValueError, match="meta is not plain JSON"):
        validate_sample(s)
    s.meta = {"s": float("nan")}
    with pytest.raises(ValueError, match="meta is not plain JSON"):
        validate_sample(s)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "train-00000-of-00001.h5"
    real = h5py.Group.create_dataset

    def boom(self, name, *a, **k):
        if name == "meta":
            raise OSError("disk full")
        return real(self, name, *a, **k)

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(OSError, match="disk full"):
        write_shard(path, make_samples())
    assert list(tmp_path.iterdir()) == []


def test_empty_shard(tmp_path):
    path = tmp_path / "s.h5"
    write_shard(path, [])
    with ShardReader(path) as r:
        assert len(r) == 0 and r.keys() == [] and r.size is None


def test_compression_names():
    assert compression_options("none").kwargs == {}
    assert compression_options("gzip-6").kwargs["compression_opts"] == 6
    assert compression_options("lzf").kwargs["compression"] == "lzf"
    with pytest.raises(ConfigError, match="unknown compression 'zip'"):
        compression_options("zip")
    with pytest.raises(ConfigError, match="level must be 1..9"):
        compression_options("gzip-0")


@pytest.mark.parametrize("comp", ["none", "lzf", "gzip-4"])
def test_each_compression_roundtrips(tmp_path, comp):
    samples = make_samples(2)
    path = tmp_path / "s.h5"
    write_shard(path, samples, compression=comp, tile=16)
    with ShardReader(path) as r:
        np.testing.assert_array_equal(r.read(1)["flow"], samples[1].arrays["flow"])
