"""What a training run reads: the holdout that selects best.pt, the test split never opened,
and the default crop that fits the shards."""

import hashlib
import json
from pathlib import Path

import h5py
import pytest
import torch

from blurgen.errors import ConfigError, InputError
from blurgen.models.b2fnet import B2FNetConfig
from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import ShardReader
from blurgen.shards.writer import write_shard
from blurgen.train.checkpoint import load_model, save_checkpoint
from blurgen.train.config import TrainConfig
from blurgen.train.data import holdout_keys, resolve_crop
from blurgen.train.toy import toy_sample, write_toy_shards
from blurgen.train.trainer import train
from blurgen.utils import rng_for

TINY = B2FNetConfig(width=0.05)


def _cfg(shards, out, **kw) -> TrainConfig:
    base = dict(shards=str(shards), out=str(out), preset=None, epochs=50, lr=1e-3, milestones=(1,), batch_size=4,
                max_steps=2, threads=1, quiet=True, model=TINY)
    base.update(kw)
    return TrainConfig(**base)


def _keys(folder, split) -> set[str]:
    out = set()
    for p in sorted(Path(folder).glob(f"{split}-*.h5")):
        with ShardReader(p) as r:
            out |= set(r.keys())
    return out


def test_holdout_is_a_few_percent_by_key_hash_and_at_least_one():
    keys = [f"monkaa/scene_{i // 50}/left/{i:04d}" for i in range(2000)]
    held = holdout_keys(keys, 0.05, "val")
    # the documented rule, computed here from sha256 directly
    want = sorted(k for k in keys
                  if int.from_bytes(hashlib.sha256(f"val/{k}".encode()).digest()[:8], "little") < 0.05 * 2**64)
    assert held == want and 70 <= len(held) <= 130
    assert holdout_keys(list(reversed(keys)), 0.05, "val") == held  # order does not matter
    # adding samples never moves a key that was already there
    more = holdout_keys(keys + [f"extra/{i}" for i in range(500)], 0.05, "val")
    assert set(more) & set(keys) == set(held)
    assert holdout_keys(keys, 0.05, "other") != held  # the salt chooses another set
    # tiny sets: at least one held out, never all, nothing from a single sample
    assert len(holdout_keys(["a", "b", "c"], 0.01, "val")) == 1
    assert len(holdout_keys(["a", "b"], 0.99, "val")) == 1
    assert holdout_keys(["a"], 0.5, "val") == []


def test_training_never_opens_the_test_split_and_no_test_key_reaches_training_or_selection(
        toy_shards, tmp_path, monkeypatch):
    opened: list[str] = []
    served: list[str] = []
    real_file, real_getitem = h5py.File, ShardDataset.__getitem__

    def spy_file(name, *a, **k):
        opened.append(Path(name).name)
        return real_file(name, *a, **k)

    def spy_getitem(self, index):
        item = real_getitem(self, index)
        served.append(item["key"])
        return item

    monkeypatch.setattr(h5py, "File", spy_file)
    monkeypatch.setattr(ShardDataset, "__getitem__", spy_getitem)
    out = tmp_path / "run"
    summary = train(_cfg(toy_shards, out, max_steps=3, sync_report=True))  # default: --val-split holdout
    monkeypatch.undo()

    assert opened and all(name.startswith("train-") for name in opened), sorted(set(opened))
    test_keys, train_keys = _keys(toy_shards, "test"), _keys(toy_shards, "train")
    assert len(test_keys) == 4 and not set(served) & test_keys
    run = json.loads((out / "run.json").read_text())
    sel = run["selection"]
    val_keys = set(sel["keys"])
    assert sel["on"] == "holdout" and sel["n"] == len(val_keys) >= 1 and sel["fraction"] == 0.05
    assert val_keys <= train_keys and not val_keys & test_keys
    assert sel["keys_sha256"] == hashlib.sha256("\n".join(sorted(val_keys)).encode()).hexdigest()
    # validation evaluated exactly the holdout; training never saw it
    trained_on = set(json.loads((out / "sync" / "rank-0.json").read_text())["keys_seen"])
    assert trained_on and not trained_on & val_keys and not trained_on & test_keys
    assert val_keys <= set(served)
    assert run["train"]["n"] == len(train_keys) - len(val_keys) == 7
    assert summary["selected_on"] == "holdout" and run["summary"]["steps"] == 3
    assert "never read" in run["test_split"]
    ck = torch.load(out / "best.pt", weights_only=True)
    assert ck["val"]["n"] == len(val_keys) and ck["selection"]["keys_sha256"] == sel["keys_sha256"]
    assert ck["config"]["val_fraction"] == 0.05 and ck["config"]["val_salt"] == "val"


def test_the_test_split_is_refused_for_training_and_validation(toy_shards, tmp_path):
    with pytest.raises(ConfigError, match="never reads the test split"):
        train(_cfg(toy_shards, tmp_path / "a", val_split="test"))
    with pytest.raises(ConfigError, match="never reads the test split"):
        train(_cfg(toy_shards, tmp_path / "b", train_split="test"))
    test_shard = next(toy_shards.glob("test-*.h5"))
    with pytest.raises(InputError, match="is a test shard"):
        train(_cfg(toy_shards, tmp_path / "c", val_shards=str(test_shard)))
    with pytest.raises(InputError, match="is a test shard"):
        train(_cfg(test_shard, tmp_path / "d", val_split="none"))
    only_test = tmp_path / "only_test"
    only_test.mkdir()
    (only_test / test_shard.name).write_bytes(test_shard.read_bytes())
    with pytest.raises(InputError, match="holds only test shards"):
        train(_cfg(toy_shards, tmp_path / "e", val_shards=str(only_test)))
    # --val-shards pointing at the training folder would select on training samples
    with pytest.raises(ConfigError, match="training shards too"):
        train(_cfg(toy_shards, tmp_path / "f", val_shards=str(toy_shards)))
    assert not list(tmp_path.glob("?/last.pt"))  # refused before any training


def test_val_shards_is_a_separate_set_and_must_not_share_keys(toy_shards, tmp_path):
    other = tmp_path / "other"
    write_shard(other / "val-00000-of-00001.h5",
                [toy_sample(f"toy/val/{i}", rng_for(5, f"toy/val/{i}")) for i in range(3)], compression="none")
    s = train(_cfg(toy_shards, tmp_path / "run", val_shards=str(other)))
    assert s["val"]["n"] == 3 and s["selected_on"] == f"--val-shards {other}"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["train"]["n"] == 8 and run["selection"]["shards"] == ["val-00000-of-00001.h5"]
    # a validation set holding training keys is refused
    dup = tmp_path / "dup"
    write_shard(dup / "val-00000-of-00001.h5", [toy_sample("toy/train/00003", rng_for(0, "x"))], compression="none")
    with pytest.raises(InputError, match="1 validation key.* training keys too"):
        train(_cfg(toy_shards, tmp_path / "run2", val_shards=str(dup)))


def test_a_checkpoint_that_selected_on_test_loads_but_does_not_resume(toy_shards, tmp_path):
    train(_cfg(toy_shards, tmp_path / "old", max_steps=1, val_split="none"))
    last = tmp_path / "old" / "last.pt"
    ck = torch.load(last, weights_only=True)
    # what an older blurgen wrote: no holdout settings, validation on the test split
    for k in ("val_fraction", "val_salt"):
        del ck["config"][k]
    ck["config"]["val_split"] = "test"
    ck.pop("selection")
    save_checkpoint(last, ck)
    model, _ = load_model(last, torch.device("cpu"))  # eval / predict / --init-from still work
    assert TrainConfig.from_dict(ck["config"]).val_fraction == 0.05
    with pytest.raises(ConfigError, match="read the test split.*--init-from"):
        train(_cfg(toy_shards, tmp_path / "old"), resume=True)
    s = train(_cfg(toy_shards, tmp_path / "new", max_steps=1, init_from=str(last)))
    assert s["selected_on"] == "holdout"


def test_default_crop_is_the_largest_multiple_of_64_that_fits(tmp_path, capsys):
    assert resolve_crop(None, [(Path("a.h5"), (720, 1280)), (Path("b.h5"), (540, 960))]) == (256, None)
    crop, note = resolve_crop(None, [(Path("a.h5"), (540, 960)), (Path("s.h5"), (180, 320))])
    assert crop == 128 and "180x320" in note and "s.h5" in note and "256" in note
    assert resolve_crop(192, [(Path("a.h5"), (200, 400))]) == (192, None)
    with pytest.raises(InputError, match=r"s\.h5: frames are 180x320, smaller than the 256x256 crop.*--crop 128"):
        resolve_crop(256, [(Path("s.h5"), (180, 320))])
    with pytest.raises(InputError, match="smaller than the 64x64"):
        resolve_crop(None, [(Path("t.h5"), (48, 320))])
    # end to end: 96x160 shards train with the default crop (64), and say so in one line
    d = tmp_path / "shards"
    write_toy_shards(d, n_train=4, n_test=1, size=(96, 160), seed=2)
    s = train(_cfg(d, tmp_path / "run", crop=None, quiet=False, max_steps=1))
    err = capsys.readouterr().err
    assert [ln for ln in err.splitlines() if ln.startswith("crop 64x64: the default 256x256 does not fit")]
    ck = torch.load(s["last"], weights_only=True)
    assert ck["config"]["crop"] == 64  # the run records the crop it used (resume takes it)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["crop"] == {
        "size": 64, "auto": True, "note": err.split("\n")[0]}
    with pytest.raises(InputError, match="smaller than the 128x128 crop"):
        train(_cfg(d, tmp_path / "run2", crop=128))
