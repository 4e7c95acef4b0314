"""Averaging: exact integer srgb mean, gamma 2.2, crf tables, and the rounding rule."""

import numpy as np
import pytest

from blurgen.errors import ConfigError, InputError
from blurgen.synth.average import (
    Accumulator,
    Averaging,
    average_frames,
    check_crf,
    default_crf,
    load_crf,
    srgb_mean_reference,
)


def _frames(n, shape=(9, 11, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 256, 257, 300])
def test_srgb_equals_float_mean_rounded_half_up(n):
    frames = _frames(n, shape=(4, 5, 3), seed=n)
    out = average_frames(frames, "srgb")
    ref = np.floor(np.stack(frames).astype(np.float64).mean(axis=0) + 0.5).astype(np.uint8)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out, ref)


def test_srgb_extremes_do_not_overflow():
    for n in (7, 256, 257, 258):
        white = [np.full((2, 2, 3), 255, np.uint8)] * n
        assert (average_frames(white, "srgb") == 255).all()
    assert (average_frames([np.zeros((2, 2, 3), np.uint8)] * 7) == 0).all()


def test_rounding_is_half_up_not_half_even():
    # means 0.5, 2.5, 254.5: half-even would give 0, 2, 254.
    a = np.array([[[0, 2, 254]]], np.uint8)
    b = np.array([[[1, 3, 255]]], np.uint8)
    np.testing.assert_array_equal(average_frames([a, b], "srgb"), [[[1, 3, 255]]])
    # gamma of two frames equal to v is v, whatever the rounding.
    np.testing.assert_array_equal(average_frames([a, a], "gamma"), a)


def test_srgb_matches_reference_helper():
    frames = _frames(7, seed=3)
    np.testing.assert_array_equal(average_frames(frames), srgb_mean_reference(frames))


def test_gamma_formula():
    frames = _frames(7, seed=4)
    x = np.stack(frames).astype(np.float64) / 255.0
    ref = np.floor(np.mean(x ** 2.2, axis=0) ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(average_frames(frames, "gamma"), ref)


def test_gamma_is_brighter_than_srgb_on_mixed_edges():
    # Averaging black and white in linear light gives a brighter grey than the plain mean.
    frames = [np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8)]
    assert average_frames(frames, "gamma")[0, 0, 0] == round(255 * 0.5 ** (1 / 2.2))
    assert average_frames(frames, "srgb")[0, 0, 0] == 128


def test_constant_frames_are_fixed_points_in_every_mode():
    for mode in ("srgb", "gamma", "crf"):
        for v in (0, 1, 17, 128, 254, 255):
            f = np.full((2, 3, 3), v, np.uint8)
            np.testing.assert_array_equal(average_frames([f] * 7, mode), f, err_msg=f"{mode} {v}")


def test_crf_matches_interpolation_of_the_inverse_table():
    rng = np.random.default_rng(5)
    table = np.sort(rng.random((256, 3)), axis=0) + np.arange(256)[:, None] * 1e-3  # strictly increasing
    frames = _frames(7, seed=6)
    out = average_frames(frames, Averaging("crf", table))
    stack = np.stack(frames)
    for c in range(3):
        mean = table[stack[..., c], c].mean(axis=0)
        ref = np.floor(np.interp(mean, table[:, c], np.arange(256.0)) + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(out[..., c], ref)


def test_crf_default_is_srgb_transfer_function():
    t = default_crf()
    assert t.shape == (256, 3) and t[0, 0] == 0 and t[255, 2] == pytest.approx(1.0)
    assert t[10, 0] == pytest.approx(10 / 255 / 12.92)
    assert t[128, 1] == pytest.approx(((128 / 255 + 0.055) / 1.055) ** 2.4)
    # default crf and gamma differ (different curves) but both brighten black/white mixes.
    frames = [np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8)]
    assert average_frames(frames, "crf")[0, 0, 0] > 128


def test_crf_tables_load_and_validate(tmp_path):
    t = default_crf() * 7.0
    np.save(tmp_path / "t.npy", t)
    np.testing.assert_allclose(load_crf(tmp_path / "t.npy"), t)
    np.savetxt(tmp_path / "t.txt", t)
    np.testing.assert_allclose(load_crf(tmp_path / "t.txt"), t)
    np.savetxt(tmp_path / "t.csv", t, delimiter=",")
    np.testing.assert_allclose(load_crf(tmp_path / "t.csv"), t)
    np.save(tmp_path / "t3.npy", t.T)
    np.testing.assert_allclose(load_crf(tmp_path / "t3.npy"), t)
    np.save(tmp_path / "bad.npy", np.zeros((255, 3)))
    with pytest.raises(InputError, match="bad.npy.*shape"):
        load_crf(tmp_path / "bad.npy")
    flat = t.copy()
    flat[100, 1] = flat[99, 1]
    np.save(tmp_path / "flat.npy", flat)
    with pytest.raises(InputError, match="increasing"):
        load_crf(tmp_path / "flat.npy")
    (tmp_path / "junk.txt").write_text("a b c\n")
    with pytest.raises(InputError, match="junk.txt"):
        load_crf(tmp_path / "junk.txt")
    with pytest.raises(InputError, match="not found"):
        load_crf(tmp_path / "missing.npy")
    with pytest.raises(InputError, match="non-finite"):
        check_crf(np.full((256, 3), np.nan))


def test_bad_mode_and_mixed_sizes():
    with pytest.raises(ConfigError, match="averaging"):
        Averaging("linear")
    acc = Accumulator("srgb")
    acc.add(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        acc.add(np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="no frames"):
        Accumulator().result()
