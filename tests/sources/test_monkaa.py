"""Monkaa: the on-disk layout, the split, and the synth-monkaa job and command on a tiny tree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.errors import ConfigError, InputError, SkipSample
from blurgen.io.frames import write_image
from blurgen.io.pfm import write_pfm
from blurgen.jobs import build_job
from blurgen.sources import monkaa as src

H, W = 24, 32


def _tex(shift: float, seed: int) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    x = gx - shift
    img = np.stack([128 + 60 * np.sin(0.3 * x + seed), 128 + 50 * np.cos(0.23 * gy + 0.1 * x),
                    128 + 40 * np.sin(0.17 * (x + gy))], -1)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _flow(dx: float) -> np.ndarray:
    f = np.zeros((H, W, 2), np.float32)
    f[..., 0] = dx
    return f


def make_tree(root: Path, *, cameras=("left", "right"), webp=False, skip_files=()) -> Path:
    """Two scenes: ``alpha_x2`` (4 frames moving 3 px/frame, both cameras, no into_past of
    frame 0) and ``beta_x2`` (3 frames, left only; its pair 1 moves 120 px: s > 100)."""
    fdir = "frames_cleanpass_webp" if webp else "frames_cleanpass"
    ext = ".webp" if webp else ".png"
    scenes = {"alpha_x2": ([3.0] * 4, cameras), "beta_x2": ([6.0, 120.0, 6.0], ("left",))}
    for scene, (steps, cams) in scenes.items():
        pos = np.concatenate([[0.0], np.cumsum(steps)])
        for cam in cams:
            for i in range(len(steps)):
                p = root / fdir / scene / cam / f"{i:04d}{ext}"
                p.parent.mkdir(parents=True, exist_ok=True)
                img = _tex(pos[i], seed=len(scene))
                if webp:
                    import cv2

                    cv2.imwrite(str(p), img[..., ::-1], [cv2.IMWRITE_WEBP_QUALITY, 101])
                else:
                    write_image(p, img)
                fut = root / src.flow_path(scene, cam, i, "future")
                past = root / src.flow_path(scene, cam, i, "past")
                fut.parent.mkdir(parents=True, exist_ok=True)
                past.parent.mkdir(parents=True, exist_ok=True)
                write_pfm(fut, _flow(pos[i + 1] - pos[i]))
                if not (scene == "alpha_x2" and i == 0):
                    write_pfm(past, _flow(pos[i - 1] - pos[i] if i > 0 else -steps[0]))
    for rel in skip_files:
        (root / rel).unlink()
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "monkaa")


# ----------------------------------------------------------------------------- layout
def test_pairs_follow_the_layout(tree):
    pairs, notes = src.find_pairs(tree)
    assert [p.key for p in pairs] == ["monkaa/alpha_x2/left/0000", "monkaa/alpha_x2/left/0001",
                                      "monkaa/alpha_x2/left/0002", "monkaa/beta_x2/left/0000",
                                      "monkaa/beta_x2/left/0001"]
    p = pairs[1]
    assert p.frame0 == "frames_cleanpass/alpha_x2/left/0001.png" and p.frame1.endswith("/0002.png")
    assert p.flow01 == "optical_flow/alpha_x2/into_future/left/OpticalFlowIntoFuture_0001_L.pfm"
    assert p.flow10 == "optical_flow/alpha_x2/into_past/left/OpticalFlowIntoPast_0002_L.pfm"
    both, notes = src.find_pairs(tree, camera="both")
    right = [p for p in both if p.camera == "right"]
    assert len(right) == 3 and right[0].flow01.endswith("OpticalFlowIntoFuture_0000_R.pfm")
    assert any(n["key"] == "monkaa/beta_x2/right" for n in notes)  # no right camera there


def test_webp_frames_are_found(tmp_path):
    root = make_tree(tmp_path / "m", webp=True, cameras=("left",))
    assert src.frames_dir(root) == "frames_cleanpass_webp"
    pairs, _ = src.find_pairs(root)
    assert pairs[0].frame0 == "frames_cleanpass_webp/alpha_x2/left/0000.webp"


@pytest.mark.parametrize("setup, needle", [
    (lambda r: (r / "images").mkdir(), "expected frames_cleanpass/"),
    (lambda r: (r / "frames_cleanpass").mkdir(), f"expected {src.FLOW_DIR}/"),
])
def test_a_root_that_is_not_monkaa_says_what_it_expected_and_found(tmp_path, setup, needle):
    root = tmp_path / "r"
    root.mkdir()
    setup(root)
    with pytest.raises(InputError) as e:
        src.find_pairs(root)
    msg = str(e.value)
    assert str(root) in msg and needle in msg and "found" in msg


def test_common_mistakes_get_a_fix(tree, tmp_path):
    with pytest.raises(InputError, match="give --root its parent"):
        src.frames_dir(tree / "frames_cleanpass")
    with pytest.raises(InputError, match="--pass clean"):
        src.frames_dir(tree, "final")
    with pytest.raises(InputError, match="does not exist"):
        src.frames_dir(tmp_path / "nowhere")


# ----------------------------------------------------------------------------- split
def test_split_is_deterministic_and_fills_the_quotas():
    keys = [f"monkaa/s{i % 7}/left/{i:04d}" for i in range(300)]
    a = src.split_pairs(keys, n_train=200, n_test=40, seed=3)
    b = src.split_pairs(list(reversed(keys)), n_train=200, n_test=40, seed=3)
    assert a == b
    assert sum(v == "test" for v in a.values()) == 40 and sum(v == "train" for v in a.values()) == 200
    assert len(a) == 240  # the rest is left out
    assert src.split_pairs(keys, n_train=200, n_test=40, seed=4) != a


@pytest.mark.parametrize("n", [2, 5, 27, 1000])
def test_small_sets_keep_every_pair_and_at_least_one_test_pair(n):
    keys = [f"k{i}" for i in range(n)]
    split = src.split_pairs(keys)
    assert len(split) == n
    n_test = sum(v == "test" for v in split.values())
    assert n_test == max(1, round(n * 1200 / 11200))
    assert n_test < n


def test_split_sizes_are_checked():
    with pytest.raises(ConfigError):
        src.split_pairs(["a"], n_train=0, n_test=0)


# ----------------------------------------------------------------------------- job
def job_for(root, **params):
    return build_job("synth-monkaa", params, root)


def test_job_plans_pairs_with_neighbour_flows(tree):
    job = job_for(tree)
    tasks = {t.key: t for t in job.tasks()}
    assert len(tasks) == 5 and all(t.size == (H, W) for t in tasks.values())
    t = tasks["monkaa/alpha_x2/left/0001"]
    assert t.payload["flow0m"].endswith("OpticalFlowIntoPast_0001_L.pfm")
    assert t.payload["flow12"].endswith("OpticalFlowIntoFuture_0002_L.pfm")
    files = job.inputs()
    assert "optical_flow/alpha_x2/into_past/left/OpticalFlowIntoPast_0000_L.pfm" not in files  # absent
    assert t.payload["flow01"] in files and t.payload["frame1"] in files
    assert {t.split for t in tasks.values()} == {"train", "test"}


def test_make_returns_blur_labels_and_meta(tree):
    job = job_for(tree, store_ends=True)
    tasks = {t.key: t for t in job.tasks()}
    sample = job.make(tasks["monkaa/alpha_x2/left/0001"])
    a = sample.arrays
    assert a["blur"].dtype == np.uint8 and a["blur"].shape == (H, W, 3)
    assert np.allclose(a["flow"][..., 0], 3.0) and np.allclose(a["flow_bwd"][..., 0], -3.0)
    assert a["first"].shape == (H, W, 3) and a["last"].shape == (H, W, 3)
    m = sample.meta
    assert (m["scene"], m["camera"], m["index"]) == ("alpha_x2", "left", 1)
    assert m["s"] == pytest.approx(3.0) and m["n"] == 5
    assert m["interpolator"] == "flow-guided/splat" and m["motion"] == "quadratic"
    # the first pair lacks into_past of frame 0: straight paths, recorded
    assert job.make(tasks["monkaa/alpha_x2/left/0000"]).meta["motion"] == "linear"
    # the blur lies between the sharp ends and differs from both
    assert not np.array_equal(a["blur"], a["first"]) and not np.array_equal(a["blur"], a["last"])


def test_pairs_over_the_limit_are_skipped_with_their_s(tree):
    job = job_for(tree)
    task = next(t for t in job.tasks() if t.key == "monkaa/beta_x2/left/0001")
    with pytest.raises(SkipSample) as e:
        job.make(task)
    assert e.value.reason == "s > 100" and e.value.info["s"] == pytest.approx(120.0)
    assert job_for(tree, max_s=150.0).make(task).meta["n"] == 120


@pytest.mark.parametrize("breaker, needle", [
    (lambda r: (r / src.flow_path("alpha_x2", "left", 1, "future")).unlink(), "OpticalFlowIntoFuture_0001_L.pfm"),
    (lambda r: write_pfm(r / src.flow_path("alpha_x2", "left", 2, "past"),
                         np.where(np.ones((H, W, 2), bool), np.nan, 0).astype(np.float32)), "OpticalFlowIntoPast_0002_L.pfm"),
    (lambda r: write_pfm(r / src.flow_path("alpha_x2", "left", 1, "future"), np.zeros((H, W + 2, 2), np.float32)),
     "OpticalFlowIntoFuture_0001_L.pfm"),
    (lambda r: (r / "frames_cleanpass/alpha_x2/left/0002.png").write_bytes(b""), "0002.png"),
    (lambda r: (r / "frames_cleanpass/alpha_x2/left/0002.png").unlink(), "0002.png"),
])
def test_bad_input_raises_input_error_naming_the_file(tree, breaker, needle):
    job = job_for(tree)
    task = next(t for t in job.tasks() if t.key == "monkaa/alpha_x2/left/0001")
    breaker(tree)
    with pytest.raises(InputError) as e:
        job.make(task)
    assert needle in str(e.value)


def test_config_is_checked(tree):
    with pytest.raises(ConfigError, match="slomo-ckpt"):
        job_for(tree, interpolator="superslomo")
    with pytest.raises(ConfigError, match="unknown synth-monkaa setting"):
        job_for(tree, speed=3)
    with pytest.raises(ConfigError, match="--camera"):
        job_for(tree, camera="middle")


def test_settings_the_interpolator_does_not_use_are_recorded_as_none():
    from blurgen.jobs.monkaa import MonkaaConfig

    p = MonkaaConfig(interpolator="linear", method="slomo", motion="linear", device="cuda", slomo_batch=4).to_params()
    assert (p["method"], p["motion"], p["device"], p["slomo_batch"]) == (None, None, None, None)
    p = MonkaaConfig(interpolator="superslomo", slomo_ckpt="s.ckpt", device="cpu", slomo_batch=2).to_params()
    assert (p["method"], p["motion"], p["slomo_ckpt"], p["device"], p["slomo_batch"]) == (None, None, "s.ckpt", "cpu", 2)
    assert MonkaaConfig(method="slomo", motion="linear").to_params()["motion"] is None
    p = MonkaaConfig(method=None, motion=None).to_params()  # flow-guided: None means the defaults
    assert (p["method"], p["motion"]) == ("splat", "quadratic")
    with pytest.raises(ConfigError, match="unknown flow-guided method"):
        MonkaaConfig(method="warp")


# ----------------------------------------------------------------------------- command
def test_command_writes_shards_that_verify_and_records_the_skip(tree, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(cli, ["synth-monkaa", "--root", str(tree), "--out", str(out), "--camera", "both",
                              "--store-ends", "--quiet"])
    assert res.exit_code == 0, res.output
    man = json.loads((out / "manifest.json").read_text())
    skipped = [s for s in man["skipped"] if s.get("reason") == "s > 100"]
    assert [s["key"] for s in skipped] == ["monkaa/beta_x2/left/0001"] and skipped[0]["s"] == pytest.approx(120.0)
    assert len(man["samples"]) == 7
    assert man["recipe"]["monkaa"]["camera"] == "both" and man["job"]["kind"] == "synth-monkaa"
    res = runner.invoke(cli, ["verify", str(out)])
    assert res.exit_code == 0, res.output
    from blurgen.shards.reader import ShardReader

    metas = [ShardReader(p).meta(i) for p in sorted(out.glob("*.h5")) for i in range(len(ShardReader(p)))]
    assert {m["camera"] for m in metas} == {"left", "right"}
    assert all(m["n"] == max(5, int(np.ceil(m["s"] - 1e-6))) for m in metas)


def test_committed_sample_split_list_follows_the_rule():
    path = Path(__file__).resolve().parents[2] / "manifests" / "splits" / "monkaa_sample.txt"
    rows = [line.split() for line in path.read_text().splitlines() if line and not line.startswith("#")]
    listed = {k: v for k, v in rows}
    assert len(listed) == 27
    assert src.split_pairs(list(listed), seed=0) == listed
