"""ptlflow models through blurgen's estimator, with checkpoints the tests write themselves
(random weights saved as {'state_dict': ...}), so the real loading path runs offline."""

import datetime
import hashlib
import pickle

import numpy as np
import pytest

from blurgen.errors import ConfigError, InputError
from blurgen.flow import estimate_window, get_estimator

from .scenes import translating_frames

ptlflow = pytest.importorskip("ptlflow", reason="ptlflow is not installed")
torch = pytest.importorskip("torch")

from blurgen.flow import learned  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jsonargparse, via ptlflow


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Random-weight checkpoints written like a trained ptlflow checkpoint."""
    d = tmp_path_factory.mktemp("ckpts")
    out = {}
    for name in ("fastflownet", "pwcnet"):
        torch.manual_seed(0)
        net = learned._ptlflow().get_model(name)
        path = d / f"{name}-test.ckpt"
        torch.save({"state_dict": net.state_dict()}, path)
        out[name] = path
    return out


_REF_NETS = {}


def reference_flow(model, ckpt_path, img1, img2):
    """What ptlflow itself gives for this checkpoint: BGR, [0, 1], B x 2 x 3 x H x W."""
    if (model, ckpt_path) not in _REF_NETS:
        net = learned._ptlflow().get_model(model)
        net.load_state_dict(torch.load(ckpt_path, weights_only=True)["state_dict"])
        _REF_NETS[(model, ckpt_path)] = net.eval()
    net = _REF_NETS[(model, ckpt_path)]
    x = np.stack([img1[..., ::-1], img2[..., ::-1]])[None].astype(np.float32) / 255.0
    x = torch.from_numpy(x).permute(0, 1, 4, 2, 3)
    with torch.inference_mode():
        return net({"images": x})["flows"][0, 0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("model", ["fastflownet", "pwcnet"])
def test_loaded_checkpoint_gives_ptlflows_flow(model, ckpts):
    f0, f1 = translating_frames(2, 80, 96, dx=2, dy=1)
    est = get_estimator(model, ckpt=ckpts[model], device="cpu")
    assert est.checkpoint_path == ckpts[model].resolve()
    assert est.label == f"{model}/{ckpts[model].name}"
    flow = est.estimate_pair(f0, f1)
    assert flow.shape == (80, 96, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(flow, reference_flow(model, ckpts[model], f0, f1), rtol=1e-4, atol=1e-4)
    # channel order matters to the network: RGB fed as-is would give another flow
    rgb_fed = reference_flow(model, ckpts[model], f0[..., ::-1], f1[..., ::-1])
    assert np.abs(flow - rgb_fed).max() > 1e-3


def test_batches_pickling_and_windows(ckpts):
    frames = translating_frames(3, 80, 96, dx=1, dy=0)
    est = get_estimator("fastflownet", ckpt=ckpts["fastflownet"], device="cpu", batch_size=2)
    batch = est.estimate(frames + frames[:1], frames[1:] + frames[:2])  # 3 pairs, 2 passes
    single = est.estimate_pair(frames[1], frames[2])
    np.testing.assert_allclose(batch[1], single, rtol=1e-4, atol=1e-4)

    clone = pickle.loads(pickle.dumps(est))
    learned._NETS.clear()  # the clone must load the network again, from the file
    np.testing.assert_allclose(clone.estimate_pair(frames[1], frames[2]), single, rtol=1e-4, atol=1e-4)

    fwd, bwd = estimate_window(clone, frames, mode="chained")
    assert fwd.shape == bwd.shape == (80, 96, 2)
    with pytest.raises(ConfigError, match="initial flow"):
        estimate_window(clone, frames, mode="chained-init")


def test_bad_checkpoints_are_clear_errors(ckpts, tmp_path):
    no_sd = tmp_path / "weights-only.ckpt"
    torch.save({"weights": torch.zeros(3)}, no_sd)
    with pytest.raises(InputError, match=r"weights-only\.ckpt: not a ptlflow checkpoint: no 'state_dict'"):
        get_estimator("fastflownet", ckpt=no_sd, device="cpu").estimate_pair(*translating_frames(2, 32, 32, 1, 0))

    pickled = tmp_path / "with-a-date.ckpt"
    torch.save({"state_dict": {}, "timestamp": datetime.datetime(2020, 1, 1)}, pickled)
    with pytest.raises(InputError, match=r"with-a-date\.ckpt: refused by torch\.load\(weights_only=True\)"):
        get_estimator("fastflownet", ckpt=pickled, device="cpu").estimate_pair(*translating_frames(2, 32, 32, 1, 0))

    wrong = get_estimator("fastflownet", ckpt=ckpts["pwcnet"], device="cpu")
    with pytest.raises(InputError, match="cannot load as fastflownet weights"):
        wrong.estimate_pair(*translating_frames(2, 32, 32, 1, 0))

    with pytest.raises(InputError, match="checkpoint file not found"):
        get_estimator("pwcnet", ckpt=tmp_path / "missing.ckpt")
    with pytest.raises(ConfigError, match="unknown checkpoint 'kitty' for flow model pwcnet"):
        get_estimator("pwcnet", ckpt="kitty")
    with pytest.raises(ConfigError, match="unknown flow model 'no_such_net'"):
        get_estimator("no_such_net")


def test_named_checkpoint_missing_offline_says_what_to_get(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("BLURGEN_ZOO", str(tmp_path / "zoo"))
    if any((d / "pwcdcnet-things-cc223701.ckpt").is_file() for d in learned.weight_dirs()):
        pytest.skip("the real PWC-Net checkpoint is installed here")
    with pytest.raises(InputError) as err:
        get_estimator("pwcnet")  # default checkpoint: things, as in the paper
    msg = str(err.value)
    assert "pwcdcnet-things-cc223701.ckpt" in msg
    assert f"put it in {tmp_path / 'zoo' / 'weights'}" in msg
    assert "blurgen zoo add pwcdcnet-things-cc223701.ckpt --name pwcnet-things" in msg
    assert "--flow-model dis" in msg and "\n" not in msg


def test_named_checkpoint_found_offline_and_hash_checked(ckpts, tmp_path, monkeypatch):
    """A checkpoint name resolves to its release file in the zoo or torch's hub cache."""
    data = ckpts["fastflownet"].read_bytes()
    fname = f"fastflownet-things-{hashlib.sha256(data).hexdigest()[:8]}.ckpt"
    # ptlflow's table of release URLs, narrowed to a file this test can write
    monkeypatch.setattr(learned, "pretrained_checkpoints", lambda model: {"things": f"https://example.invalid/{fname}"})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("BLURGEN_ZOO", str(tmp_path / "zoo"))

    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fname).write_bytes(data)
    assert learned.resolve_checkpoint("fastflownet", None) == (hub / fname).resolve()

    zoo = tmp_path / "zoo" / "weights"
    zoo.mkdir(parents=True)
    (zoo / fname).write_bytes(data)
    est = get_estimator("fastflownet", ckpt="things", device="cpu")
    assert est.checkpoint_path == (zoo / fname).resolve()  # the zoo comes first
    assert est.label == "fastflownet/things"
    f0, f1 = translating_frames(2, 80, 96, 1, 1)
    np.testing.assert_allclose(
        est.estimate_pair(f0, f1), reference_flow("fastflownet", ckpts["fastflownet"], f0, f1), rtol=1e-4, atol=1e-4
    )

    (zoo / fname).write_bytes(data[:-10])  # truncated download
    with pytest.raises(InputError, match="sha256 starts with .* but the file name says"):
        get_estimator("fastflownet", ckpt="things")


def test_too_small_images_are_a_clear_error():
    est = get_estimator("fastflownet", ckpt="random", device="cpu")
    with pytest.raises(InputError, match="64x48 images, too small"):
        est.estimate_pair(*translating_frames(2, 48, 64, 1, 0))


def test_random_weights_and_devices():
    est = get_estimator("fastflownet", ckpt="random", device="cpu")
    assert est.checkpoint_path is None and est.label == "fastflownet/random"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            get_estimator("fastflownet", ckpt="random", device="cuda")
        assert get_estimator("fastflownet", ckpt="random").device == "cpu"


@pytest.mark.gpu
def test_gpu_matches_cpu(ckpts):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    f0, f1 = translating_frames(2, 80, 96, dx=2, dy=1)
    cpu = get_estimator("pwcnet", ckpt=ckpts["pwcnet"], device="cpu").estimate_pair(f0, f1)
    gpu_est = get_estimator("pwcnet", ckpt=ckpts["pwcnet"])
    assert gpu_est.device == "cuda"
    np.testing.assert_allclose(gpu_est.estimate_pair(f0, f1), cpu, atol=1e-2)
