"""The quality arrays and estimates in shards: schema, round trip, the reader's filters and
maps, and shards written before them."""

import numpy as np
import pytest
import torch

from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import ShardReader
from blurgen.shards.schema import Sample, validate_sample
from blurgen.shards.writer import write_shard

H, W = 24, 32


def quality_sample(i: int, epe=None, fid=None, maps=True) -> Sample:
    rng = np.random.default_rng(i)
    arrays = {"blur": rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
              "flow": rng.standard_normal((H, W, 2)).astype(np.float32),
              "flow_bwd": rng.standard_normal((H, W, 2)).astype(np.float32)}
    if maps:
        arrays["uncertainty"] = np.full((H, W), 0.25 * (i + 1), np.float16)
        arrays["uncertainty_bwd"] = np.full((H, W), 0.5 * (i + 1), np.float16)
    meta = {"source": "test", "i": i}
    if epe is not None:
        meta["label_epe_est"] = epe
    if fid is not None:
        meta["fidelity_db_est"] = fid
    return Sample(f"q/{i:03d}", arrays, meta)


def test_uncertainty_round_trip_float16_and_meta(tmp_path):
    samples = [quality_sample(i, epe=0.1 * i) for i in range(3)]
    write_shard(tmp_path / "train-00000-of-00001.h5", samples)
    with ShardReader(tmp_path / "train-00000-of-00001.h5") as r:
        assert {"uncertainty", "uncertainty_bwd"} <= set(r.names)
        got = r.read(2)
        assert got["uncertainty"].dtype == np.float16 and got["uncertainty"].shape == (H, W)
        assert np.array_equal(got["uncertainty_bwd"], samples[2].arrays["uncertainty_bwd"])
        assert r.meta(1)["label_epe_est"] == pytest.approx(0.1)


def test_schema_refuses_a_wrong_dtype_and_a_backward_map_without_its_flow():
    s = quality_sample(0)
    s.arrays["uncertainty"] = s.arrays["uncertainty"].astype(np.float32)
    with pytest.raises(ValueError, match="'uncertainty' has dtype float32, schema says float16"):
        validate_sample(s)
    s = quality_sample(0)
    del s.arrays["flow_bwd"]
    with pytest.raises(ValueError, match="'uncertainty_bwd' is the uncertainty of 'flow_bwd'"):
        validate_sample(s)


@pytest.fixture
def mixed(tmp_path):
    """One shard with estimates, one written without them (as before they existed)."""
    write_shard(tmp_path / "train-00000-of-00002.h5",
                [quality_sample(0, epe=0.2, fid=41.0), quality_sample(1, epe=0.9), quality_sample(2, fid=30.0),
                 quality_sample(3, epe=0.5)])
    write_shard(tmp_path / "train-00001-of-00002.h5", [quality_sample(i, maps=False) for i in (4, 5)])
    return tmp_path


def test_filters_leave_out_what_the_estimates_reject_and_keep_what_has_none(mixed):
    ds = ShardDataset(mixed, crop=None, max_label_epe=0.6)
    assert ds.keys() == ["q/000", "q/002", "q/003", "q/004", "q/005"] and len(ds) == 5
    assert (ds.dropped, ds.unrated) == (1, 3)
    assert ds[1]["key"] == "q/002" and ds[4]["key"] == "q/005"
    ds = ShardDataset(mixed, crop=None, min_fidelity_db=35.0)
    assert ds.keys() == ["q/000", "q/001", "q/003", "q/004", "q/005"] and ds.dropped == 1
    ds = ShardDataset(mixed, crop=None, max_label_epe=0.6, min_fidelity_db=35.0)
    assert ds.keys() == ["q/000", "q/003", "q/004", "q/005"]
    assert len(ShardDataset(mixed, crop=None)) == 6  # no filter, nothing left out


def test_uncertainty_items_and_the_rule_for_shards_without_maps(mixed):
    ds = ShardDataset(mixed, crop=16, uncertainty=True)
    item = ds[ds.index_of("q/001")]
    assert item["uncertainty"].dtype == torch.float32 and item["uncertainty"].shape == (16, 16)
    assert torch.all(item["uncertainty"] == 0.5) and torch.all(item["uncertainty_bwd"] == 1.0)
    old = ds[ds.index_of("q/004")]  # no maps stored: zeros, the label counts as exact
    assert torch.all(old["uncertainty"] == 0) and torch.all(old["uncertainty_bwd"] == 0)
    assert "uncertainty" not in ShardDataset(mixed, crop=16)[0]  # only when asked for
