import numpy as np
import pytest

from blurgen.errors import ConfigError, InputError
from blurgen.flow import get_estimator

from .scenes import translating_frames


def epe(flow, gt):
    return float(np.linalg.norm(flow - gt, axis=-1).mean())


def test_sintel_alley_epe(sintel_pair):
    """Real Sintel pair: measured DIS-medium 0.34 px, Farneback 0.93 px, zero flow 2.98 px."""
    a, b, gt = sintel_pair
    zero = epe(get_estimator("zero").estimate_pair(a, b), gt)
    dis = epe(get_estimator("dis").estimate_pair(a, b), gt)
    farneback = epe(get_estimator("farneback").estimate_pair(a, b), gt)
    assert abs(zero - 2.98) < 0.01
    assert dis < 0.6
    assert farneback < 1.5


def test_sintel_swapped_images_give_the_wrong_flow(sintel_pair):
    """The flow direction convention: estimating 3 -> 2 must not match GT 2 -> 3."""
    a, b, gt = sintel_pair
    assert epe(get_estimator("dis").estimate_pair(b, a), gt) > 2.0


@pytest.mark.parametrize("name", ["dis", "dis-fast", "farneback"])
def test_translation_recovered(name):
    f0, f1 = translating_frames(2, 64, 80, dx=3, dy=-2)
    flow = get_estimator(name).estimate_pair(f0, f1)
    assert flow.shape == (64, 80, 2) and flow.dtype == np.float32
    inner = flow[12:-12, 12:-12]
    assert np.abs(inner[..., 0] - 3).mean() < 0.3
    assert np.abs(inner[..., 1] + 2).mean() < 0.3


def test_batch_matches_single_pairs():
    frames = translating_frames(3, 48, 64, dx=2, dy=1)
    est = get_estimator("dis")
    batch = est.estimate(frames[:2], frames[1:])
    assert batch.shape == (2, 48, 64, 2)
    np.testing.assert_array_equal(batch[1], est.estimate_pair(frames[1], frames[2]))
    # the same call twice gives the same flow (deterministic)
    np.testing.assert_array_equal(batch, est.estimate(np.stack(frames[:2]), np.stack(frames[1:])))


def test_initial_flow_is_used():
    """Farneback fails on a 24 px jump from zero, but not when started near the answer."""
    f0, f1 = translating_frames(2, 96, 128, dx=24, dy=0, seed=3)
    est = get_estimator("farneback")
    gt = np.zeros((96, 128, 2), np.float32)
    gt[..., 0] = 24
    inner = (slice(16, -16), slice(32, -32))
    cold = epe(est.estimate_pair(f0, f1)[inner], gt[inner])
    warm = epe(est.estimate_pair(f0, f1, init=gt + 1.5)[inner], gt[inner])
    assert warm < 0.5 < cold


def test_size_mismatch_names_the_files():
    a = np.zeros((32, 40, 3), np.uint8)
    b = np.zeros((32, 48, 3), np.uint8)
    with pytest.raises(InputError, match=r"one\.png: size 40x32 differs from two\.png \(48x32\)"):
        get_estimator("dis").estimate([a], [b], names1=["one.png"], names2=["two.png"])
    with pytest.raises(InputError, match="differs"):
        get_estimator("farneback").estimate_pair(a, b)


def test_bad_image_arrays_rejected():
    est = get_estimator("dis")
    with pytest.raises(InputError, match="uint8"):
        est.estimate_pair(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        est.estimate_pair(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="2 first images but 1"):
        est.estimate([np.zeros((8, 8, 3), np.uint8)] * 2, [np.zeros((8, 8, 3), np.uint8)])


def test_unknown_name_and_stray_checkpoint():
    with pytest.raises(ConfigError, match="needs no checkpoint"):
        get_estimator("dis", ckpt="things")
    with pytest.raises(ConfigError, match="--device cuda has no effect here: .* farneback runs on the CPU"):
        get_estimator("farneback", device="cuda")
    assert get_estimator("DIS").name == "dis"
    assert get_estimator("dis-ultrafast").name == "dis-ultrafast"
    assert get_estimator("dis").checkpoint_path is None


@pytest.mark.parametrize("name", ["dis", "dis-fast"])
def test_a_reused_dis_gives_what_a_fresh_one_gives(sintel_pair, name):
    """The DIS estimator keeps its OpenCV object between calls of one size: its flows must
    not depend on what it computed before (another size, an initial flow: OpenCV crashed
    when an object that took one was used at another size), nor on being pickled."""
    import pickle

    a, b, _ = sintel_pair
    small_a, small_b = np.ascontiguousarray(a[:200, :300]), np.ascontiguousarray(b[:200, :300])
    used = get_estimator(name)
    used.estimate([small_a], [small_b], init=np.ones((1, 200, 300, 2), np.float32))
    used.estimate([small_a], [small_b])
    used.estimate([b], [a])
    fresh = get_estimator(name).estimate([a], [b])
    np.testing.assert_array_equal(used.estimate([a], [b]), fresh)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(used)).estimate([a], [b]), fresh)
    np.testing.assert_array_equal(used.estimate([small_a], [small_b]), get_estimator(name).estimate([small_a], [small_b]))
    warm = used.estimate([small_a], [small_b], init=np.ones((1, 200, 300, 2), np.float32))
    np.testing.assert_array_equal(
        warm, get_estimator(name).estimate([small_a], [small_b], init=np.ones((1, 200, 300, 2), np.float32)))


@pytest.mark.parametrize("name", ["dis", "dis-fast"])
def test_a_reused_dis_on_small_images_gives_what_a_fresh_one_gives(name):
    """OpenCV lowers a DIS object's finest scale for an image too small for its preset and
    keeps it lowered: the estimator must not carry such an object into its next call (a
    24x40 video window's flow then depended on the windows made before it in the process).
    Each call must give what a fresh estimator gives, as a window's both directions."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (44, 80, 3), dtype=np.uint8)
    frames = [np.ascontiguousarray(base[k:k + 24, 2 * k:2 * k + 40]) for k in range(4)]
    windows = [(frames[0], frames[3]), (frames[1], frames[2]), (frames[3], frames[1])]
    fresh = [get_estimator(name).estimate([a, b], [b, a]) for a, b in windows]
    used = get_estimator(name)
    in_turn = [used.estimate([a, b], [b, a]) for a, b in windows[::-1]][::-1]
    for f, t in zip(fresh, in_turn):
        np.testing.assert_array_equal(t, f)
