import numpy as np
import pytest

from blurgen.io.flowviz import flow_to_color, make_colorwheel, write_flow_png
from blurgen.io.frames import read_image


def test_colorwheel_segments():
    wheel = make_colorwheel()
    assert wheel.shape == (55, 3)
    # segment starts are the pure hues red, yellow, green, cyan, blue, magenta
    starts = np.cumsum([0, 15, 6, 4, 11, 13])
    pure = [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255), (255, 0, 255)]
    for i, c in zip(starts, pure):
        assert tuple(wheel[i]) == c
    assert wheel.min() >= 0 and wheel.max() <= 255


def test_flow_to_color_key_points():
    flow = np.array([[[1, 0], [0, 0], [np.nan, 1], [2, 0], [0.5, 0], [0, np.inf]]], np.float32)
    img = flow_to_color(flow, max_mag=1.0)
    assert img.dtype == np.uint8 and img.shape == (1, 6, 3)
    assert tuple(img[0, 0]) == (255, 0, 0)  # +x at full magnitude: red
    assert tuple(img[0, 1]) == (255, 255, 255)  # zero flow: white
    assert tuple(img[0, 2]) == (0, 0, 0)  # NaN: black
    assert tuple(img[0, 3]) == (191, 0, 0)  # beyond max_mag: darkened to 75 %
    assert tuple(img[0, 4]) == (255, 127, 127)  # half magnitude: halfway to white
    assert tuple(img[0, 5]) == (0, 0, 0)  # inf: black


def test_default_normalisation_and_hue_circle():
    ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    flow = np.stack([np.cos(ang), np.sin(ang)], axis=1)[None] * 3.0
    img = flow_to_color(flow)  # max magnitude 3 -> every pixel saturated
    assert (img.min(axis=2) <= 1).all()
    assert np.abs(img.astype(int) - flow_to_color(flow * 10)).max() <= 1  # scale-invariant by default
    # neighbouring directions have neighbouring colours; opposite ones differ strongly
    step = np.abs(np.diff(img.astype(int), axis=1)).max()
    assert step < 60
    assert np.abs(img[0, 0].astype(int) - img[0, 32]).sum() > 300
    # a shared max_mag keeps magnitudes comparable
    assert flow_to_color(flow, max_mag=6.0).min(axis=2).min() > 100


def test_write_flow_png(tmp_path):
    flow = np.random.default_rng(0).normal(size=(8, 10, 2)).astype(np.float32)
    p = tmp_path / "flow.png"
    write_flow_png(p, flow, max_mag=2.0)
    np.testing.assert_array_equal(read_image(p), flow_to_color(flow, 2.0))


def test_bad_args():
    with pytest.raises(ValueError):
        flow_to_color(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError):
        flow_to_color(np.zeros((4, 4, 2)), max_mag=0)
