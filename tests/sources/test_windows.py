"""Windows over frame numbers: non-overlapping by default, never across a gap."""

import pytest

from blurgen.errors import ConfigError
from blurgen.sources.windows import Window, plan_stream_windows, plan_windows, runs


def firsts(ws):
    return [w.first for w in ws]


def test_non_overlapping_default():
    ws, dropped = plan_windows(range(1, 23), 7)
    assert firsts(ws) == [1, 8, 15]
    assert ws[0].frames == (1, 2, 3, 4, 5, 6, 7) and ws[-1].last == 21
    assert dropped == []  # frame 22 is the tail, not a gap


def test_stride_overlap_and_skip():
    assert firsts(plan_windows(range(10), 7, 1)[0]) == [0, 1, 2, 3]
    assert firsts(plan_windows(range(30), 7, 10)[0]) == [0, 10, 20]
    assert firsts(plan_windows(range(30), 3, 2)[0]) == list(range(0, 28, 2))


def test_window_never_spans_a_gap():
    idx = list(range(0, 10)) + list(range(13, 30))  # 10, 11, 12 missing
    ws, dropped = plan_windows(idx, 7)
    for w in ws:
        assert set(w.frames) <= set(idx)
        assert w.frames == tuple(range(w.first, w.first + 7))
    assert firsts(ws) == [0, 13, 20]
    assert len(dropped) == 1
    d = dropped[0]
    assert d.first == 7 and d.present == (7, 8, 9) and d.gap == (10, 12)
    assert "10..12" in d.reason and "gap" in d.reason


def test_gap_exactly_at_window_boundary_drops_nothing():
    idx = list(range(0, 14)) + list(range(20, 27))
    ws, dropped = plan_windows(idx, 7)
    assert firsts(ws) == [0, 7, 20] and dropped == []


def test_single_missing_frame_reason_and_unsorted_input():
    idx = [5, 3, 4, 1, 2, 0, 7, 8, 9, 10, 11, 12, 13]  # 6 missing
    ws, dropped = plan_windows(idx, 3)
    assert firsts(ws) == [0, 3, 7, 10]
    assert dropped == []  # run 0..5 holds exactly two windows of 3
    ws, dropped = plan_windows(idx, 4)
    assert firsts(ws) == [0, 7]
    assert [d.first for d in dropped] == [4] and dropped[0].reason.endswith("frame 6 is missing")


def test_runs_and_duplicates():
    assert runs([4, 1, 2, 3, 9, 10]) == [(1, 4), (9, 10)]
    assert runs([]) == []
    with pytest.raises(ValueError, match="twice"):
        runs([1, 2, 2])


def test_bad_window_settings():
    with pytest.raises(ConfigError, match="--window"):
        plan_windows(range(10), 0)
    with pytest.raises(ConfigError, match="--stride"):
        plan_windows(range(10), 7, 0)


def test_stream_windows_and_short_sequences():
    assert firsts(plan_stream_windows(36, 7)) == [0, 7, 14, 21, 28]
    assert plan_stream_windows(6, 7) == []
    assert plan_stream_windows(0, 7) == []
    assert firsts(plan_stream_windows(14, 7, first=1)) == [1, 8]
    assert Window((3, 4, 5)).last == 5
