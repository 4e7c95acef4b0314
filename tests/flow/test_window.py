import numpy as np
import pytest

from blurgen.errors import ConfigError, InputError
from blurgen.flow import FlowEstimator, estimate_window, fb_consistency, get_estimator

from .scenes import translating_frames


class CountingZero(FlowEstimator):
    """Zero flow that records how many pairs it was asked for."""

    name = "counting"

    def __init__(self):
        self.pairs = 0

    def _estimate(self, firsts, seconds, inits):
        self.pairs += len(firsts)
        h, w = firsts[0].shape[:2]
        return np.zeros((len(firsts), h, w, 2), np.float32)


@pytest.mark.parametrize("mode", ["direct", "chained", "chained-init"])
def test_window_modes_recover_translation(mode):
    """7 frames, 2 px right and 1 px up per frame: exact flow 0 -> 6 is (12, -6)."""
    frames = translating_frames(7, 64, 96, dx=2, dy=-1, seed=1)
    fwd, bwd = estimate_window(get_estimator("dis"), frames, mode=mode)
    assert fwd.shape == bwd.shape == (64, 96, 2) and fwd.dtype == np.float32
    inner = (slice(14, -14), slice(20, -20))
    np.testing.assert_allclose(np.median(fwd[inner].reshape(-1, 2), axis=0), (12, -6), atol=0.25)
    np.testing.assert_allclose(np.median(bwd[inner].reshape(-1, 2), axis=0), (-12, 6), atol=0.25)
    assert np.abs(fwd[inner] - (12, -6)).mean() < 0.5
    valid = fb_consistency(fwd, bwd)
    assert valid[inner].mean() > 0.95


def test_chained_is_the_composition_of_the_steps():
    """A 3 px / frame motion chained over 6 steps matches 6 x the one-step estimate."""
    frames = translating_frames(7, 64, 96, dx=3, dy=0, seed=2)
    est = get_estimator("dis")
    fwd, _ = estimate_window(est, frames, mode="chained")
    inner = (slice(10, -10), slice(30, -30))
    assert abs(float(np.median(fwd[inner][..., 0])) - 18) < 0.25


class ZoomOracle(FlowEstimator):
    """Frames carry their index as pixel value; step i -> i+1 is the exact zoom about
    centre C[i] by S (and i+1 -> i its inverse). Consecutive steps do not commute, so this
    checks the order in which estimate_window composes each direction."""

    name = "zoom-oracle"
    S = 0.96
    C = [(20.0, 30.0), (40.0, 25.0), (30.0, 40.0), (25.0, 20.0), (35.0, 35.0), (30.0, 30.0)]

    @classmethod
    def step(cls, i, j, h, w):
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        lo = min(i, j)
        s = cls.S if j > i else 1 / cls.S
        cx, cy = cls.C[lo]
        return np.stack([(s - 1) * (xs - cx), (s - 1) * (ys - cy)], axis=-1).astype(np.float32)

    def _estimate(self, firsts, seconds, inits):
        h, w = firsts[0].shape[:2]
        out = []
        for a, b in zip(firsts, seconds):
            i, j = int(a[0, 0, 0]), int(b[0, 0, 0])
            assert abs(i - j) == 1, "only consecutive steps are expected"
            out.append(self.step(i, j, h, w))
        return np.stack(out)


def test_chained_composes_each_direction_in_time_order():
    h, w = 61, 61
    frames = [np.full((h, w, 3), i, np.uint8) for i in range(7)]
    fwd, bwd = estimate_window(ZoomOracle(), frames, mode="chained")
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    # exact maps: forward applies zoom 0, 1, ..., 5; backward undoes 5, 4, ..., 0
    px, py = xs.copy(), ys.copy()
    for cx, cy in ZoomOracle.C:
        px, py = cx + ZoomOracle.S * (px - cx), cy + ZoomOracle.S * (py - cy)
    qx, qy = xs.copy(), ys.copy()
    for cx, cy in ZoomOracle.C[::-1]:
        qx, qy = cx + (qx - cx) / ZoomOracle.S, cy + (qy - cy) / ZoomOracle.S
    centre = (slice(20, 41), slice(20, 41))  # stays inside the frame along every path
    np.testing.assert_allclose(fwd[centre][..., 0], (px - xs)[centre], atol=1e-3)
    np.testing.assert_allclose(fwd[centre][..., 1], (py - ys)[centre], atol=1e-3)
    np.testing.assert_allclose(bwd[centre][..., 0], (qx - xs)[centre], atol=1e-3)
    np.testing.assert_allclose(bwd[centre][..., 1], (qy - ys)[centre], atol=1e-3)


def test_pass_counts_per_mode():
    frames = [np.zeros((8, 8, 3), np.uint8)] * 7
    est = CountingZero()
    estimate_window(est, frames, mode="direct")
    assert est.pairs == 2
    estimate_window(est, frames, mode="chained")
    assert est.pairs == 2 + 12


def test_window_errors():
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    with pytest.raises(ConfigError, match="unknown flow window mode"):
        estimate_window(get_estimator("dis"), frames, mode="sideways")
    with pytest.raises(ConfigError, match="at least 2 frames"):
        estimate_window(get_estimator("dis"), frames[:1])
    with pytest.raises(ConfigError, match="initial flow"):
        estimate_window(CountingZero(), frames, mode="chained-init")
    odd = frames[:2] + [np.zeros((8, 9, 3), np.uint8)]
    with pytest.raises(InputError, match="f0.png: size 8x8 differs from f2.png"):
        estimate_window(get_estimator("dis"), odd, names=["f0.png", "f1.png", "f2.png"])
