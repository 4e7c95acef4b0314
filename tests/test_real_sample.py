"""`blurgen real` on the bundled sample's GoPro, NfS and video trees, checked against its truth."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.io.flo import read_flo
from blurgen.io.frames import read_image
from blurgen.io.video import iter_video_frames
from blurgen.sources.sample import SampleConfig, write_sample
from real_helpers import read_all


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "S"
    write_sample(out, SampleConfig(width=128, height=72, only=("gopro", "nfs", "video"), blur_step=2.0))
    return out


@pytest.fixture(scope="module")
def runs(sample, tmp_path_factory):
    """source -> output folder of `blurgen real --flow-model dis` on the sample."""
    base = tmp_path_factory.mktemp("real")
    outs = {}
    for source in ("gopro", "nfs", "video"):
        out = base / source
        res = CliRunner().invoke(cli, ["real", "--source", source, "--root", str(sample / source), "--out", str(out),
                                       "--flow-model", "dis", "--quiet"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        outs[source] = out
    return outs




@pytest.mark.parametrize("source", ["gopro", "nfs", "video"])
def test_shards_verify_and_windows_match_the_truth(sample, runs, source):
    res = CliRunner().invoke(cli, ["verify", str(runs[source])])
    assert res.exit_code == 0, res.output
    index = json.loads((sample / "truth" / "index.json").read_text())
    want = sorted((it["sequence"], it["first"], it["last"]) for it in index["items"] if it["layout"] == source)
    got = read_all(runs[source])
    assert sorted((m["sequence"], *m["frames"]) for _, m in got.values()) == want
    man = json.loads((runs[source] / "manifest.json").read_text())
    dropped = [d for d in index["dropped_windows"] if d["layout"] == source]
    assert [(s["key"].rsplit("/", 1)[1], s["reason"]) for s in man["skipped"]] == \
        [(f"{d['first']:06d}", d["reason"]) for d in dropped]


def test_gopro_keys_splits_and_exact_blur(sample, runs):
    got = read_all(runs["gopro"])
    assert "gopro/test/GOPR0384_11_05/000023" in got and "gopro/train/GOPR0372_07_00/000001" in got
    for key, (arrays, meta) in got.items():
        assert meta["split"] == key.split("/")[1]  # the standard list agrees with the folders
    seq = sample / "gopro" / "GOPRO_Large_all" / "test" / "GOPR0384_11_05"
    frames = [read_image(seq / f"{i:06d}.png") for i in range(23, 30)]
    ref = np.floor(np.stack(frames).astype(np.float64).mean(axis=0) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(got["gopro/test/GOPR0384_11_05/000023"][0]["blur"], ref)


def test_video_frames_and_blur(sample, runs):
    got = read_all(runs["video"])
    (video,) = sorted((sample / "video").glob("*.mp4"))
    ref = list(iter_video_frames(video))
    for key, (arrays, meta) in got.items():
        first, last = meta["frames"]
        exp = np.floor(np.stack(ref[first:last + 1]).astype(np.float64).mean(axis=0) + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(arrays["blur"], exp, err_msg=key)
        assert meta["fps"] == 240 and meta["decode"] == "seek"


@pytest.mark.parametrize("source", ["gopro", "nfs", "video"])
def test_pseudo_gt_labels_follow_the_true_flow(sample, runs, source):
    """flow is first -> last and flow_bwd last -> first: far closer to the truth than zero
    flow (a swapped direction would be about twice as far), and closer where valid; flow_bwd
    is closer where valid_bwd (its own mask, last frame's grid) than where valid says."""
    index = json.loads((sample / "truth" / "index.json").read_text())
    truth = {(it["sequence"], it["first"]): it for it in index["items"] if it["layout"] == source}
    epe, epe_bwd, zero, zero_bwd, epe_valid, bwd_own, bwd_fwd_mask = [], [], [], [], [], [], []
    for arrays, meta in read_all(runs[source]).values():
        it = truth[(meta["sequence"], meta["frames"][0])]
        f = read_flo(sample / it["flow_fwd"])
        b = read_flo(sample / it["flow_bwd"])
        err = np.linalg.norm(arrays["flow"] - f, axis=2)
        epe.append(err.mean())
        epe_valid.append(err[arrays["valid"] > 0].mean())
        err_b = np.linalg.norm(arrays["flow_bwd"] - b, axis=2)
        epe_bwd.append(err_b.mean())
        bwd_own.append(err_b[arrays["valid_bwd"] > 0].mean())
        bwd_fwd_mask.append(err_b[arrays["valid"] > 0].mean())
        zero.append(np.linalg.norm(f, axis=2).mean())
        zero_bwd.append(np.linalg.norm(b, axis=2).mean())
    # medians: on these tiny frames DIS can lose one large-motion window
    assert np.median(epe) < 0.3 * np.median(zero)
    assert np.median(epe_bwd) < 0.3 * np.median(zero_bwd)
    assert np.median(epe_valid) <= np.median(epe)
    print(f"\n{source}: flow_bwd EPE all {np.mean(epe_bwd):.3f}, on valid_bwd {np.mean(bwd_own):.3f}, on valid {np.mean(bwd_fwd_mask):.3f}; medians {np.median(epe_bwd):.3f} {np.median(bwd_own):.3f} {np.median(bwd_fwd_mask):.3f}")
    assert np.mean(bwd_own) < np.mean(epe_bwd) and np.mean(bwd_own) < np.mean(bwd_fwd_mask)


def test_frames_source_on_the_sample_gopro_folders(sample, tmp_path):
    out = tmp_path / "frames"
    res = CliRunner().invoke(cli, ["real", "--source", "frames", "--root", str(sample / "gopro" / "GOPRO_Large_all"),
                                   "--out", str(out), "--flow-model", "dis", "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert CliRunner().invoke(cli, ["verify", str(out)]).exit_code == 0
    man = json.loads((out / "manifest.json").read_text())
    keys = {s["key"] for s in man["samples"]}
    assert "frames/train/GOPR0372_07_00/000001" in keys and "frames/test/GOPR0384_11_05/000023" in keys
    assert {s["split"] for s in man["samples"]} == {"train"}  # frame folders: train unless a split file says
    assert [s["key"] for s in man["skipped"]] == ["frames/test/GOPR0384_11_05/000015"]
