import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.io.flo import read_flo, write_flo
from blurgen.io.pfm import read_pfm, read_pfm_flow, write_pfm


def _hand_pfm(path, arr, big_endian):
    """A PFM written independently of write_pfm: header, scale sign, rows bottom to top."""
    magic = b"Pf" if arr.ndim == 2 else b"PF"
    h, w = arr.shape[:2]
    scale = b"1.0" if big_endian else b"-1.0"
    body = np.ascontiguousarray(np.flipud(arr), dtype=">f4" if big_endian else "<f4").tobytes()
    path.write_bytes(magic + b"\n" + f"{w} {h}".encode() + b"\n" + scale + b"\n" + body)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3)])
def test_read_hand_written_pfm(tmp_path, shape, big_endian):
    arr = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    p = tmp_path / "a.pfm"
    _hand_pfm(p, arr, big_endian)
    out = read_pfm(p)
    assert out.dtype == np.float32 and out.shape == shape
    np.testing.assert_array_equal(out, arr)
    out[0, 0] = 1  # writable


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 3)])
def test_pfm_round_trip(tmp_path, shape):
    arr = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * 0.5 - 3
    p = tmp_path / "a.pfm"
    write_pfm(p, arr)
    np.testing.assert_array_equal(read_pfm(p), arr.astype(np.float32))
    raw = p.read_bytes()
    assert raw.startswith(b"Pf\n" if len(shape) == 2 else b"PF\n")
    assert b"\n-1.0\n" in raw[:20]  # little endian
    # first stored row is the bottom row
    first = np.frombuffer(raw[raw.index(b"-1.0\n") + 5 :], "<f4", count=shape[1] * (1 if len(shape) == 2 else 3))
    np.testing.assert_array_equal(first, arr[-1].ravel().astype(np.float32))
    assert list(tmp_path.iterdir()) == [p]  # no temp file left behind


def test_pfm_flow_round_trip_pads_third_channel(tmp_path):
    flow = np.random.default_rng(1).normal(size=(3, 5, 2)).astype(np.float32) * 10
    p = tmp_path / "f.pfm"
    write_pfm(p, flow)
    full = read_pfm(p)
    assert full.shape == (3, 5, 3) and not full[..., 2].any()
    np.testing.assert_array_equal(read_pfm_flow(p), flow)


def test_pfm_flow_rejects_nonfinite(tmp_path):
    flow = np.zeros((3, 4, 3), np.float32)
    flow[0, 0, 0] = np.nan
    flow[1, 1, 1] = np.inf
    flow[2, 2, 0] = np.nan
    p = tmp_path / "bad_flow.pfm"
    write_pfm(p, flow)
    with pytest.raises(InputError, match=r"bad_flow\.pfm.*2 NaN, 1 inf"):
        read_pfm_flow(p)
    write_pfm(tmp_path / "one.pfm", np.zeros((2, 2), np.float32))
    with pytest.raises(InputError, match="one.pfm.*1 channel"):
        read_pfm_flow(tmp_path / "one.pfm")


@pytest.mark.parametrize(
    "content, msg",
    [
        (b"", "zero bytes"),
        (b"P6\n2 2\n255\n" + bytes(12), "magic"),
        (b"PF\n2 x\n-1.0\n" + bytes(48), "bad PFM header"),
        (b"PF\n0 2\n-1.0\n", "out of range"),
        (b"Pf\n2 2\n0.0\n" + bytes(16), "scale"),
        (b"Pf\n2 2\n-1.0\n" + bytes(10), "expected 16 bytes .* found 10"),
        (b"Pf\n2 2\n-1.0\n" + bytes(20), "size mismatch"),
        (b"Pf\n2 2", "bad PFM header|truncated"),
    ],
)
def test_pfm_bad_files(tmp_path, content, msg):
    p = tmp_path / "broken_file.pfm"
    p.write_bytes(content)
    with pytest.raises(InputError, match=msg) as e:
        read_pfm(p)
    assert "broken_file.pfm" in str(e.value)


def test_pfm_missing_file(tmp_path):
    with pytest.raises(InputError, match="nothere.pfm"):
        read_pfm(tmp_path / "nothere.pfm")


def test_write_pfm_rejects_bad_shape(tmp_path):
    with pytest.raises(ValueError):
        write_pfm(tmp_path / "x.pfm", np.zeros((2, 2, 4)))


def test_flo_round_trip(tmp_path):
    flow = np.random.default_rng(2).normal(size=(6, 9, 2)) * 5
    p = tmp_path / "a.flo"
    write_flo(p, flow)
    raw = p.read_bytes()
    assert raw[:4] == b"PIEH" and len(raw) == 12 + 6 * 9 * 8
    assert np.frombuffer(raw[4:12], "<i4").tolist() == [9, 6]
    out = read_flo(p)
    assert out.dtype == np.float32 and out.shape == (6, 9, 2)
    np.testing.assert_array_equal(out, flow.astype(np.float32))


def test_flo_nonfinite(tmp_path):
    flow = np.zeros((2, 3, 2), np.float32)
    flow[0, 1, 1] = -np.inf
    p = tmp_path / "nf.flo"
    write_flo(p, flow)
    with pytest.raises(InputError, match=r"nf\.flo.*0 NaN, 1 inf"):
        read_flo(p)
    assert np.isinf(read_flo(p, allow_nonfinite=True)[0, 1, 1])


@pytest.mark.parametrize(
    "content, msg",
    [
        (b"", "truncated"),
        (b"PIEH\x02\x00", "truncated"),
        (b"XXXX" + np.array([2, 2], "<i4").tobytes() + bytes(32), "tag"),
        (b"PIEH" + np.array([2, 10**8], "<i4").tobytes(), "out of range"),
        (b"PIEH" + np.array([-2, 2], "<i4").tobytes(), "out of range"),
        (b"PIEH" + np.array([2, 2], "<i4").tobytes() + bytes(30), "expected 32 bytes .* found 30"),
        (b"PIEH" + np.array([2, 2], "<i4").tobytes() + bytes(40), "size mismatch"),
    ],
)
def test_flo_bad_files(tmp_path, content, msg):
    p = tmp_path / "broken_flow.flo"
    p.write_bytes(content)
    with pytest.raises(InputError, match=msg) as e:
        read_flo(p)
    assert "broken_flow.flo" in str(e.value)


@pytest.mark.parametrize(
    "rel, mean, maxv, shape",
    [
        ("flyingchairs/0000000-gt.flo", 6.05, 77.95, (384, 512, 2)),
        ("sintel_alley_1/flow_0002_0003.flo", 2.98, 10.65, (436, 1024, 2)),
    ],
)
def test_real_flo(realdata, rel, mean, maxv, shape):
    flow = read_flo(realdata / rel)
    mag = np.linalg.norm(flow, axis=2)
    assert flow.shape == shape
    assert mag.mean() == pytest.approx(mean, abs=0.01)
    assert mag.max() == pytest.approx(maxv, abs=0.01)


def test_real_mmflow_pfm(realdata):
    occ = read_pfm(realdata / "mmflow_tiny" / "0000000-occ_weights_01.pfm")
    assert occ.shape == (50, 50) and occ.dtype == np.float32
    assert occ.min() >= 0 and occ.max() <= 1 and 0 < occ.mean() < 1


def test_sceneflow_disparity_warp(realdata):
    """Backward-warping the right view with the left disparity must match the left view.

    A reader that forgets PFM's bottom-to-top rows gets about 20 here instead of about 6.
    """
    import cv2

    from blurgen.io.frames import read_image

    d = realdata / "sceneflow"
    disp = read_pfm(d / "disparity_left_0.pfm")
    left = read_image(d / "left_0.png").astype(np.float32)
    right = read_image(d / "right_0.png").astype(np.float32)
    assert disp.shape == left.shape[:2] == (540, 960)
    assert 1.0 < disp.min() and disp.max() < 80
    h, w = disp.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(right, xs - disp, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    no_warp = np.abs(right - left).mean()
    err = np.abs(warped - left).mean()
    assert no_warp > 20
    assert err < 8
