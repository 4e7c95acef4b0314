"""Split files: '<sequence> <split>' lines, names in manifests/splits, the ranked rule."""

import pytest

from blurgen.errors import ConfigError
from blurgen.sources.splits import parse_split_text, ranked_split, read_split_file


def test_parse_and_round_trip(tmp_path):
    text = "# comment\nA train\n\nB test  # trailing\nC val\n"
    m = parse_split_text(text)
    assert m == {"A": "train", "B": "test", "C": "val"}
    p = tmp_path / "s.txt"
    p.write_text(text)
    assert read_split_file(p) == m


@pytest.mark.parametrize("text, msg", [
    ("A train extra\n", "expected '<sequence> <split>'"),
    ("A train\nA test\n", "two splits"),
    ("# nothing\n", "no sequences"),
    ("A tr/ain\n", "expected"),
])
def test_bad_split_files(text, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_split_text(text, "f.txt")


def test_unknown_name(tmp_path):
    with pytest.raises(ConfigError, match="split file not found.*gopro_standard"):
        read_split_file("no_such_split")


def test_ranked_split_is_deterministic_and_order_free():
    names = [f"s{i}" for i in range(10)]
    a = ranked_split(names, 0.7, "x")
    assert a == ranked_split(reversed(names), 0.7, "x")
    assert sum(v == "train" for v in a.values()) == 7
    assert ranked_split(names, 0.7, "y") != a  # the salt matters
    assert set(ranked_split(["a", "b"], 0.99).values()) == {"train", "test"}
    assert ranked_split(["a"], 0.7) == {"a": "train"}
