import json
import pickle

import numpy as np
import pytest
import torch

from blurgen.errors import InputError
from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import ShardReader, list_shards
from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard


def shard(tmp_path, name, n=3, h=40, w=52, names=("blur", "flow"), seed=0, source="unit"):
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        arrays = {"blur": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                  "flow": rng.standard_normal((h, w, 2)).astype(np.float32)}
        if "flow_bwd" in names:
            arrays["flow_bwd"] = rng.standard_normal((h, w, 2)).astype(np.float32)
        for mask in ("valid", "valid_bwd"):
            if mask in names:
                arrays[mask] = rng.integers(0, 2, (h, w), dtype=np.uint8)
        samples.append(Sample(f"{name}/{i}", arrays, {"source": source, "i": i}))
    write_shard(tmp_path / name, samples, tile=16)
    return samples


def test_crop_reads_the_same_pixels_as_slicing(tmp_path):
    samples = shard(tmp_path, "train-00000-of-00001.h5", names=("blur", "flow", "valid"))
    r = ShardReader(tmp_path / "train-00000-of-00001.h5")
    got = r.read(2, crop=(5, 7, 20, 30))
    for name in ("blur", "flow", "valid"):
        np.testing.assert_array_equal(got[name], samples[2].arrays[name][5:25, 7:37])
    assert r.read(0, names=["flow"]).keys() == {"flow"}
    with pytest.raises(ValueError, match="outside the 40x52 frame"):
        r.read(0, crop=(30, 0, 20, 20))
    with pytest.raises(IndexError):
        r.read(3)
    np.testing.assert_array_equal(r.read_key("train-00000-of-00001.h5/1")["blur"], samples[1].arrays["blur"])
    with pytest.raises(KeyError, match="no sample with key 'nope'"):
        r.index_of("nope")


def test_reader_is_lazy_and_picklable(tmp_path):
    shard(tmp_path, "a-00000-of-00001.h5")
    r = ShardReader(tmp_path / "missing.h5")  # nothing opened yet: no error
    with pytest.raises(InputError, match="shard not found"):
        len(r)
    r = ShardReader(tmp_path / "a-00000-of-00001.h5")
    assert r._file is None
    assert len(r) == 3 and r._file is not None
    r2 = pickle.loads(pickle.dumps(r))  # what a DataLoader worker receives
    assert r2._file is None
    np.testing.assert_array_equal(r2.read(1)["blur"], r.read(1)["blur"])


def test_corrupt_file_is_a_clear_error(tmp_path):
    (tmp_path / "x-00000-of-00001.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="not a readable HDF5 shard"):
        ShardReader(tmp_path / "x-00000-of-00001.h5").keys()


def test_damaged_chunk_names_the_shard_and_sample(tmp_path):
    shard(tmp_path, "x-00000-of-00001.h5", n=3)
    p = tmp_path / "x-00000-of-00001.h5"
    r = ShardReader(p)
    clean = [r.read(i) for i in range(3)]
    r.close()
    data = bytearray(p.read_bytes())
    for k in range(len(data) // 2, len(data) // 2 + 3000, 11):  # inside the compressed chunks
        data[k] ^= 0xFF
    p.write_bytes(bytes(data))
    r = ShardReader(p)
    bad = []
    for i in range(3):
        try:
            got = r.read(i)
        except InputError as e:
            assert str(e).startswith(f"{p}: cannot decode ") and "--resume" in str(e)
            bad.append(i)
        else:
            assert all(np.array_equal(got[k], clean[i][k]) for k in got)
    assert bad, "the damaged bytes hit no chunk"


def test_dataset_center_crop_and_types(tmp_path):
    samples = shard(tmp_path, "train-00000-of-00001.h5", h=40, w=52)
    ds = ShardDataset(tmp_path, crop=16, crop_mode="center")
    item = ds[1]
    assert item["blur"].shape == (3, 16, 16) and item["blur"].dtype == torch.float32
    y0, x0 = (40 - 16) // 2, (52 - 16) // 2
    want = samples[1].arrays["blur"][y0 : y0 + 16, x0 : x0 + 16].transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(item["blur"].numpy(), want, atol=1e-7)
    np.testing.assert_array_equal(item["flow"].numpy(), samples[1].arrays["flow"][y0 : y0 + 16, x0 : x0 + 16].transpose(2, 0, 1))
    assert torch.isnan(item["flow_bwd"]).all() and item["flow_bwd"].shape == (2, 16, 16)
    assert (item["valid"] == 1).all() and item["valid"].dtype == torch.float32
    assert (item["valid_bwd"] == 1).all() and item["valid_bwd"].shape == (16, 16)
    assert item["key"] == "train-00000-of-00001.h5/1" and item["source"] == "unit"
    assert 0.0 <= item["blur"].min() and item["blur"].max() <= 1.0


def test_dataset_uses_flow_bwd_and_each_direction_s_mask_when_present(tmp_path):
    samples = shard(tmp_path, "train-00000-of-00001.h5", names=("blur", "flow", "flow_bwd", "valid", "valid_bwd"))
    item = ShardDataset(tmp_path, crop=None)[0]
    np.testing.assert_array_equal(item["flow_bwd"].numpy(), samples[0].arrays["flow_bwd"].transpose(2, 0, 1))
    np.testing.assert_array_equal(item["valid"].numpy(), samples[0].arrays["valid"].astype(np.float32))
    np.testing.assert_array_equal(item["valid_bwd"].numpy(), samples[0].arrays["valid_bwd"].astype(np.float32))
    assert not np.array_equal(item["valid"].numpy(), item["valid_bwd"].numpy())


def test_a_shard_without_valid_bwd_trusts_every_backward_label_not_the_forward_mask(tmp_path):
    # a real-blur shard written before valid_bwd existed: valid is the first frame's mask
    shard(tmp_path, "train-00000-of-00001.h5", names=("blur", "flow", "flow_bwd", "valid"))
    item = ShardDataset(tmp_path, crop=16)[0]
    assert 0 < item["valid"].mean() < 1
    assert (item["valid_bwd"] == 1).all() and item["valid_bwd"].dtype == torch.float32


def test_random_crop_is_deterministic_per_seed_epoch_index(tmp_path):
    shard(tmp_path, "train-00000-of-00001.h5", n=4, h=64, w=64)
    a = ShardDataset(tmp_path, crop=16, crop_mode="random", seed=3)
    b = ShardDataset(tmp_path, crop=16, crop_mode="random", seed=3)
    boxes = [a.crop_box(i) for i in range(4)]
    assert boxes == [b.crop_box(i) for i in range(4)]
    assert torch.equal(a[2]["blur"], b[2]["blur"])
    a.set_epoch(1)
    assert [a.crop_box(i) for i in range(4)] != boxes
    c = ShardDataset(tmp_path, crop=16, crop_mode="random", seed=4)
    assert [c.crop_box(i) for i in range(4)] != boxes
    for y0, x0, h, w in boxes:
        assert 0 <= y0 <= 48 and 0 <= x0 <= 48 and (h, w) == (16, 16)


def test_dataset_over_shards_and_splits(tmp_path):
    shard(tmp_path, "train-00000-of-00002.h5", n=3)
    shard(tmp_path, "train-00001-of-00002.h5", n=2, seed=1)
    shard(tmp_path, "test-00000-of-00001.h5", n=1, seed=2)
    (tmp_path / "manifest.json").write_text("{}")
    ds = ShardDataset(tmp_path, split="train", crop=8)
    assert len(ds) == 5
    assert [ds[i]["key"] for i in range(5)] == [
        "train-00000-of-00002.h5/0", "train-00000-of-00002.h5/1", "train-00000-of-00002.h5/2",
        "train-00001-of-00002.h5/0", "train-00001-of-00002.h5/1",
    ]
    assert len(ShardDataset(tmp_path, crop=8)) == 6
    assert ds[ds.index_of("train-00001-of-00002.h5/1")]["key"] == "train-00001-of-00002.h5/1"
    with pytest.raises(KeyError, match="no sample with key 'test-00000-of-00001.h5/0'"):
        ds.index_of("test-00000-of-00001.h5/0")
    assert [p.name for p in list_shards(tmp_path, "test")] == ["test-00000-of-00001.h5"]
    with pytest.raises(InputError, match="no 'val-\\*-of-\\*.h5' shards"):
        ShardDataset(tmp_path, split="val")
    with pytest.raises(IndexError):
        ds[5]


def test_a_folder_of_datasets_lists_each_one_s_shards(tmp_path):
    blurgen_manifest = json.dumps({"schema": 1, "blurgen": {"version": "0.1.0"}})
    for name, splits in (("nfs", ("train", "test")), ("gopro", ("train", "test")), ("video", ("train",))):
        for split in splits:
            shard(tmp_path / name, f"{split}-00000-of-00001.h5", n=2)
        (tmp_path / name / "manifest.json").write_text(blurgen_manifest)
    shard(tmp_path / "copy", "train-00000-of-00001.h5", n=2)  # shards without a manifest: not a dataset
    rel = lambda paths: [p.relative_to(tmp_path).as_posix() for p in paths]  # noqa: E731
    assert rel(list_shards(tmp_path, "train")) == [
        "gopro/train-00000-of-00001.h5", "nfs/train-00000-of-00001.h5", "video/train-00000-of-00001.h5"]
    assert rel(list_shards(tmp_path, "test")) == ["gopro/test-00000-of-00001.h5", "nfs/test-00000-of-00001.h5"]
    assert len(ShardDataset(tmp_path, split="train", crop=8)) == 6
    with pytest.raises(InputError, match="no 'val-.*or a folder of such folders"):
        list_shards(tmp_path, "val")
    shard(tmp_path, "test-00000-of-00001.h5", n=1)  # shards of its own: only those count
    with pytest.raises(InputError, match="no 'train-"):
        list_shards(tmp_path, "train")


def test_crop_larger_than_frame_is_refused(tmp_path):
    shard(tmp_path, "train-00000-of-00001.h5", h=40, w=52)
    with pytest.raises(InputError, match="frames are 40x52, smaller than the 64x64 crop"):
        ShardDataset(tmp_path, crop=64)


def test_dataloader_workers_read_their_own_handles(tmp_path):
    samples = shard(tmp_path, "train-00000-of-00001.h5", n=6, h=32, w=32)
    ds = ShardDataset(tmp_path, crop=16)
    ds[0]  # opens a handle in this process before the workers fork
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2)
    batches = list(loader)
    assert [k for b in batches for k in b["key"]] == [s.key for s in samples]
    want = samples[4].arrays["blur"][8:24, 8:24].transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(batches[1]["blur"][1].numpy(), want, atol=1e-7)
