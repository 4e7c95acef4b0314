"""The GoPro source: GOPRO_Large_all layout, standard 22/11 split, split files."""

import pytest

from blurgen.errors import InputError
from blurgen.sources import gopro
from blurgen.sources.splits import read_split_file
from real_helpers import gopro_tree

# REFERENCE.md section 3: the deblurring release's test sequences.
TEST_11 = {"GOPR0384_11_00", "GOPR0384_11_05", "GOPR0385_11_01", "GOPR0396_11_00", "GOPR0410_11_00",
           "GOPR0854_11_00", "GOPR0862_11_00", "GOPR0868_11_00", "GOPR0869_11_00", "GOPR0871_11_00",
           "GOPR0881_11_01"}


def test_standard_split_is_22_train_11_test():
    m = read_split_file("gopro_standard")
    assert len(m) == 33
    assert {s for s, v in m.items() if v == "test"} == TEST_11
    assert sum(v == "train" for v in m.values()) == 22
    assert m["GOPR0372_07_00"] == "train"


def test_sequences_from_either_root_and_folder_fallback(tmp_path):
    layout = gopro_tree(tmp_path)
    for root in (tmp_path, tmp_path / "GOPRO_Large_all"):
        seqs = gopro.find_sequences(root, read_split_file("gopro_standard"))
        assert [s.name for s in seqs] == ["train/GOPR0372_07_00", "test/GOPR0384_11_00"]
        assert [s.split for s in seqs] == ["train", "test"]
        assert seqs[0].indices == layout["train/GOPR0372_07_00"]
        assert seqs[0].digits == 6
    assert seqs[0].folder == "train/GOPR0372_07_00"  # relative to the root given
    assert gopro.find_sequences(tmp_path)[0].folder == "GOPRO_Large_all/train/GOPR0372_07_00"


def test_split_file_moves_sequences(tmp_path):
    gopro_tree(tmp_path)
    seqs = gopro.find_sequences(tmp_path, {"GOPR0372_07_00": "test", "GOPR0384_11_00": "val"})
    assert [s.split for s in seqs] == ["test", "val"]
    # names not in the list keep their folder's split
    seqs = gopro.find_sequences(tmp_path, {"OTHER": "test"})
    assert [s.split for s in seqs] == ["train", "test"]


def test_wrong_roots(tmp_path):
    with pytest.raises(InputError, match=r"not a GoPro tree.*does not exist.*GOPRO_Large_all/\{train,test\}"):
        gopro.find_sequences(tmp_path / "nope")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "y.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"not a GoPro tree: found y.png"):
        gopro.find_sequences(tmp_path / "x")
    (tmp_path / "GOPRO_Large" / "train" / "GOPR0372_07_00" / "sharp").mkdir(parents=True)
    with pytest.raises(InputError, match="deblurring release"):
        gopro.find_sequences(tmp_path)
    empty = tmp_path / "e" / "GOPRO_Large_all"
    (empty / "train" / "GOPR0372_07_00").mkdir(parents=True)
    with pytest.raises(InputError, match="no GoPro sequence with frames"):
        gopro.find_sequences(tmp_path / "e")
