"""The synthetic blur: which frames are averaged, and how."""

from __future__ import annotations

import numpy as np

from blurgen.synth.blur import psnr, synthesize_blur, to_uint8
from blurgen.synth.interpolate import blur_times


class Recorder:
    """An interpolator whose frame at time t is the constant image 1000 * t (records calls)."""

    def __init__(self):
        self.times = None

    def sum_frames(self, img0, img1, flow01, flow10, times, **extra):
        self.times = list(times)
        self.extra = extra
        return sum(np.full(np.shape(img0), 1000.0 * t, np.float32) for t in times)


def test_average_of_ends_and_n_interior_frames_with_equal_weights():
    rec = Recorder()
    a = np.full((2, 3, 3), 10, np.uint8)
    b = np.full((2, 3, 3), 40, np.uint8)
    n = 7
    blur = synthesize_blur(rec, a, b, None, None, n, accel0="A")
    assert np.allclose(rec.times, blur_times(n)[1:-1])
    assert rec.extra == {"accel0": "A"}
    expected = (10 + 40 + sum(1000.0 * k / (n + 1) for k in range(1, n + 1))) / (n + 2)
    assert np.allclose(blur, expected)


def test_to_uint8_rounds_and_clips():
    x = np.array([[-3.0, 0.49, 0.5, 1.5, 254.6, 300.0]], np.float32)
    assert to_uint8(x).tolist() == [[0, 0, 0, 2, 255, 255]]  # round half to even
    assert psnr(np.zeros((2, 2)), np.zeros((2, 2))) == float("inf")
    assert abs(psnr(np.zeros((2, 2)), np.full((2, 2), 255.0))) < 1e-9
