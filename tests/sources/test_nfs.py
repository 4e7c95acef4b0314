"""The NfS source: <seq>/240/<seq>/NNNNN.jpg, deterministic 70/30 split."""

import pytest

from blurgen.errors import InputError
from blurgen.sources import nfs
from blurgen.sources.splits import SPLITS, ranked_split, read_split_file
from real_helpers import nfs_tree


def test_standard_split_is_70_30_and_follows_the_rule():
    m = read_split_file("nfs_standard")
    assert len(m) == 100
    assert sum(v == "train" for v in m.values()) == 70
    assert ranked_split(m, nfs.TRAIN_FRACTION, nfs.SALT) == m
    assert "airboard_1" in m and "zebra_fish" in m
    from blurgen.resources import resource

    assert resource(*SPLITS.split("/"), "nfs_standard.txt").is_file()


def test_sequences_and_splits(tmp_path):
    nfs_tree(tmp_path, names=("airboard_1", "mine_a", "mine_b", "mine_c"))
    seqs = nfs.find_sequences(tmp_path, read_split_file("nfs_standard"))
    assert [s.name for s in seqs] == ["airboard_1", "mine_a", "mine_b", "mine_c"]
    assert seqs[0].folder == "airboard_1/240/airboard_1" and seqs[0].digits == 5
    assert seqs[0].indices[0] == 1
    std = read_split_file("nfs_standard")
    assert seqs[0].split == std["airboard_1"]
    # names the list does not know are split among themselves by the same rule
    mine = {s.name: s.split for s in seqs[1:]}
    assert mine == ranked_split(["mine_a", "mine_b", "mine_c"], 0.7, "nfs")
    assert sorted(mine.values()) == ["test", "train", "train"]


def test_wrong_roots(tmp_path):
    with pytest.raises(InputError, match=r"not an NfS tree.*<root>/<sequence>/240/<sequence>/NNNNN.jpg"):
        nfs.find_sequences(tmp_path / "missing")
    nfs_tree(tmp_path / "a", names=("bee",))
    with pytest.raises(InputError, match="one NfS sequence, not the dataset root"):
        nfs.find_sequences(tmp_path / "a" / "bee")
    (tmp_path / "b" / "bee" / "30" / "bee").mkdir(parents=True)
    with pytest.raises(InputError, match="only 30 fps frames"):
        nfs.find_sequences(tmp_path / "b")
    (tmp_path / "c" / "stuff").mkdir(parents=True)
    with pytest.raises(InputError, match="no NfS 240 fps frames found; found stuff/"):
        nfs.find_sequences(tmp_path / "c")
