"""The bundled procedural sample: layouts, exactness of its flows and blur, determinism."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blurgen.cli import cli, main
from blurgen.errors import ConfigError
from blurgen.io import probe_video, read_flo, read_image, read_pfm, read_pfm_flow
from blurgen.sources import sample as sample_mod
from blurgen.sources.procedural.motion import CameraMotion, Clock, SpriteMotion, Wave
from blurgen.sources.procedural.scene import Background, Scene, Sprite
from blurgen.sources.procedural.textures import colour_field, periodic_noise, sdf_box
from blurgen.sources.sample import SampleConfig, band_counts, scene_for, write_sample

cv2 = pytest.importorskip("cv2")

W, H = 96, 64
MONKAA_SCENES = ("drifting_pebbles_x2", "paper_kites_x2", "spinning_tops_x2")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "S"
    res = CliRunner().invoke(cli, ["sample", str(out), "--size", f"{W}x{H}", "--seed", "0"])
    assert res.exit_code == 0, res.output
    assert "monkaa" in res.output and "s bands" in res.output and "windows" in res.output
    return out


def _digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(p) = img(p + flow(p)), bilinear; NaN outside."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.asarray(img, np.float32), gx + flow[..., 0], gy + flow[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)


def _fb_consistent(fwd: np.ndarray, bwd: np.ndarray, tol: float) -> np.ndarray:
    """Pixels whose forward flow lands inside the image and comes back within ``tol`` px."""
    back = _warp(bwd, fwd)
    err = np.hypot(fwd[..., 0] + back[..., 0], fwd[..., 1] + back[..., 1])
    return np.isfinite(err) & (err < tol)


# -- layouts ----------------------------------------------------------------------------

def test_sample_json_written_last_with_parameters(sample_dir):
    meta = json.loads((sample_dir / "sample.json").read_text())
    assert meta["seed"] == 0 and meta["size"] == [W, H]
    from blurgen import __version__
    assert meta["blurgen_version"] == __version__
    assert set(meta["layouts"]) == {"monkaa", "gopro", "nfs", "video"}
    # Completion marker: no file of the sample is newer than sample.json.
    t_meta = (sample_dir / "sample.json").stat().st_mtime_ns
    assert max(p.stat().st_mtime_ns for p in sample_dir.rglob("*") if p.is_file()) <= t_meta
    assert (sample_dir / "truth" / "README.md").read_text().startswith("# Ground truth")


def test_monkaa_layout(sample_dir):
    root = sample_dir / "monkaa"
    assert sorted(p.name for p in (root / "frames_cleanpass").iterdir()) == sorted(MONKAA_SCENES)
    for scene in MONKAA_SCENES:
        frames = sorted(p.name for p in (root / "frames_cleanpass" / scene / "left").iterdir())
        assert frames == [f"{i:04d}.png" for i in range(10)]
        fut = sorted(p.name for p in (root / "optical_flow" / scene / "into_future" / "left").iterdir())
        past = sorted(p.name for p in (root / "optical_flow" / scene / "into_past" / "left").iterdir())
        # As in the real data: one flow file per frame in each direction.
        assert fut == [f"OpticalFlowIntoFuture_{i:04d}_L.pfm" for i in range(10)]
        assert past == [f"OpticalFlowIntoPast_{i:04d}_L.pfm" for i in range(10)]
        assert read_image(root / "frames_cleanpass" / scene / "left" / "0000.png").shape == (H, W, 3)
        head = (root / "optical_flow" / scene / "into_future" / "left" / fut[0]).read_bytes()[:16]
        assert head.startswith(b"PF\n%d %d\n-1" % (W, H))


def test_gopro_layout_with_one_gap(sample_dir):
    base = sample_dir / "gopro" / "GOPRO_Large_all"
    seqs = {f"{p.parent.name}/{p.name}": p for p in base.glob("*/*") if p.is_dir()}
    assert set(seqs) == {"train/GOPR0372_07_00", "train/GOPR0374_11_01", "test/GOPR0384_11_05"}
    for name, folder in seqs.items():
        files = sorted(p.name for p in folder.iterdir())
        assert all(re.fullmatch(r"\d{6}\.png", f) for f in files)
        nums = [int(f[:6]) for f in files]
        assert nums[0] == 1 and 43 <= len(nums) <= 50
        missing = sorted(set(range(1, nums[-1] + 1)) - set(nums))
        assert missing == ([20, 21, 22] if name.endswith("GOPR0384_11_05") else [])


def test_nfs_layout_and_annotations(sample_dir):
    seqs = sorted(p.name for p in (sample_dir / "nfs").iterdir())
    assert len(seqs) == 3
    for seq in seqs:
        folder = sample_dir / "nfs" / seq / "240" / seq
        files = sorted(p.name for p in folder.iterdir())
        assert files == [f"{i:05d}.jpg" for i in range(1, len(files) + 1)] and len(files) >= 30
        lines = (sample_dir / "nfs" / seq / "240" / f"{seq}.txt").read_text().splitlines()
        assert len(lines) == len(files)
        centres = []
        for k, line in enumerate(lines, start=1):
            f = line.split()
            assert len(f) == 10 and f[0] == "1" and int(f[5]) == k and f[9].startswith('"')
            x0, y0, x1, y1 = map(int, f[1:5])
            assert 0 <= x0 < x1 < W and 0 <= y0 < y1 < H
            centres.append(((x0 + x1) / 2, (y0 + y1) / 2))
        # The tracked object moves smoothly: a 240 fps box does not jump.
        assert np.abs(np.diff(np.array(centres), axis=0)).max() < 6
        assert (sample_dir / "nfs" / seq / "30" / seq / "00001.jpg").is_file()


def test_video_is_240fps_mp4(sample_dir):
    info = probe_video(sample_dir / "video" / "walk_240fps.mp4")
    assert (info.width, info.height, info.n_frames) == (W, H, 60)
    assert abs(info.fps - 240) < 1e-6
    # Decoded frame k is the render at t = k, up to H.264 loss (compared on luma: 4:2:0
    # chroma subsampling blurs the colours of such a small, colourful frame).
    from blurgen.io import iter_video_frames

    def luma(rgb):
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)

    spec, scene = scene_for(sample_dir, "video", "walk_240fps")
    frames = list(iter_video_frames(sample_dir / "video" / "walk_240fps.mp4"))
    for k in (0, 30, 59):
        err = np.abs(luma(frames[k]) - luma(scene.frame(k))).mean()
        other = np.abs(luma(frames[k]) - luma(scene.frame(k + (1 if k < 59 else -1)))).mean()
        assert err < 5 and err < 0.6 * other, (k, err, other)


def test_truth_index_points_to_files(sample_dir):
    index = json.loads((sample_dir / "truth" / "index.json").read_text())
    layouts = {it["layout"] for it in index["items"]}
    assert layouts == {"monkaa", "gopro", "nfs", "video"}
    assert sum(it["layout"] == "monkaa" for it in index["items"]) == 27
    for it in index["items"]:
        for key in ("blur", "flow_fwd", "flow_bwd"):
            assert (sample_dir / it[key]).is_file(), it[key]
        if it["layout"] != "monkaa":
            assert it["last"] - it["first"] == 6 and it["t1"] - it["t0"] == 6
        assert read_pfm(sample_dir / it["blur"]).shape == (H, W, 3)
    # The gap of GOPR0384_11_05 cuts one window, which is listed and has no truth.
    (drop,) = index["dropped_windows"]
    assert drop["sequence"] == "GOPR0384_11_05" and drop["gap"] == [20, 22]
    firsts = [it["first"] for it in index["items"] if it["sequence"] == "GOPR0384_11_05"]
    assert firsts == [1, 8, 23, 30, 37]


# -- flows ------------------------------------------------------------------------------

def _monkaa_pair(root: Path, scene: str, k: int):
    fr = root / "monkaa" / "frames_cleanpass" / scene / "left"
    of = root / "monkaa" / "optical_flow" / scene
    i0 = read_image(fr / f"{k:04d}.png").astype(np.float32)
    i1 = read_image(fr / f"{k + 1:04d}.png").astype(np.float32)
    fwd = read_pfm_flow(of / "into_future" / "left" / f"OpticalFlowIntoFuture_{k:04d}_L.pfm")
    bwd = read_pfm_flow(of / "into_past" / "left" / f"OpticalFlowIntoPast_{k + 1:04d}_L.pfm")
    return i0, i1, fwd, bwd


def test_monkaa_flows_explain_the_frames(sample_dir):
    """Backward warping with the PFM flows beats zero flow by far, in both directions."""
    err_f, zero_f, err_b, zero_b, n_valid = [], [], [], [], 0
    for scene in MONKAA_SCENES:
        for k in range(9):
            i0, i1, fwd, bwd = _monkaa_pair(sample_dir, scene, k)
            m = _fb_consistent(fwd, bwd, 0.5)
            if m.sum() >= 50:
                err_f.append(np.abs(_warp(i1, fwd) - i0).mean(axis=2)[m])
                zero_f.append(np.abs(i1 - i0).mean(axis=2)[m])
                n_valid += 1
            mb = _fb_consistent(bwd, fwd, 0.5)
            if mb.sum() >= 50:
                err_b.append(np.abs(_warp(i0, bwd) - i1).mean(axis=2)[mb])
                zero_b.append(np.abs(i0 - i1).mean(axis=2)[mb])
    assert n_valid >= 18
    ef, zf = np.concatenate(err_f).mean(), np.concatenate(zero_f).mean()
    eb, zb = np.concatenate(err_b).mean(), np.concatenate(zero_b).mean()
    assert ef < 0.15 * zf and eb < 0.15 * zb, (ef, zf, eb, zb)
    assert ef < 6 and eb < 6


def test_monkaa_displacement_bands(sample_dir):
    """s = max |into_future flow| over the image, for the 27 pairs whose frames exist."""
    s = []
    for scene in MONKAA_SCENES:
        for k in range(9):
            f = read_pfm_flow(sample_dir / "monkaa" / "optical_flow" / scene / "into_future" / "left"
                              / f"OpticalFlowIntoFuture_{k:04d}_L.pfm").astype(np.float64)
            s.append(float(np.sqrt((f ** 2).sum(axis=2)).max()))
    bands = band_counts(s)
    assert all(bands[b] >= 3 for b in ("<5", "5-20", "20-50", "50-100")), bands
    assert bands[">100"] >= 2, bands
    assert min(s) < 1.5  # sub-pixel to about one pixel at the slow end
    index = json.loads((sample_dir / "truth" / "index.json").read_text())
    recorded = [it["s"] for it in index["items"] if it["layout"] == "monkaa"]
    assert np.allclose(sorted(recorded), sorted(s), atol=1e-3)


def _compose(flows: list[np.ndarray], ids: list[np.ndarray]):
    """Chain per-step flows by bilinear sampling. ``ids`` holds the layer maps at the
    start of every step and at the end (one more than ``flows``). Valid where the tracked
    point stays inside and its 4 neighbours lie on the layer it started on at every time
    (so each affine flow is sampled exactly)."""
    h, w = flows[0].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    qx, qy = xs.copy(), ys.copy()
    valid = np.ones((h, w), bool)
    for k, lid in enumerate(ids):
        valid &= (qx >= 0) & (qy >= 0) & (qx <= w - 1) & (qy <= h - 1)
        cx, cy = np.clip(qx, 0, w - 1), np.clip(qy, 0, h - 1)
        x0, y0 = np.floor(cx).astype(int), np.floor(cy).astype(int)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        for yy, xx in ((y0, x0), (y0, x1), (y1, x0), (y1, x1)):
            valid &= lid[yy, xx] == ids[0]
        if k == len(flows):
            break
        f = flows[k]
        ax, ay = (cx - x0)[..., None], (cy - y0)[..., None]
        d = ((1 - ax) * (1 - ay) * f[y0, x0] + ax * (1 - ay) * f[y0, x1]
             + (1 - ax) * ay * f[y1, x0] + ax * ay * f[y1, x1])
        qx, qy = qx + d[..., 0], qy + d[..., 1]
    return np.stack([qx - xs, qy - ys], axis=2), valid


@pytest.mark.parametrize("layout,name", [("gopro", "GOPR0372_07_00"), ("nfs", "kite_1"), ("video", "walk_240fps")])
def test_window_flows_compose_from_frame_flows(sample_dir, layout, name):
    spec, scene = scene_for(sample_dir, layout, name)
    index = json.loads((sample_dir / "truth" / "index.json").read_text())
    items = [it for it in index["items"] if it["sequence"] == name]
    assert len(items) >= 5
    for it in items[:2]:
        ts = [it["t0"] + j for j in range(7)]
        steps = [scene.flow(a, a + 1) for a in ts[:-1]]
        ids = [scene.layer_map(a) for a in ts]
        composed, valid = _compose(steps, ids)
        fwd = read_flo(sample_dir / it["flow_fwd"])
        bwd = read_flo(sample_dir / it["flow_bwd"])
        assert valid.mean() > 0.4
        assert np.abs(composed - fwd)[valid].max() < 2e-3
        # last -> first undoes first -> last where the surface stays visible.
        back = _warp(bwd, fwd)
        ok = valid & np.isfinite(back[..., 0])
        assert np.abs(back + fwd)[ok].max() < 5e-3
        assert 1.5 < it["s"] < 26  # 240 fps: a 7-frame window moves a few to ~25 px


def test_monkaa_flows_compose(sample_dir):
    spec, scene = scene_for(sample_dir, "monkaa", "drifting_pebbles_x2")
    for k in (0, 4):
        f0 = _monkaa_pair(sample_dir, spec.name, k)[2]
        f1 = _monkaa_pair(sample_dir, spec.name, k + 1)[2]
        composed, valid = _compose([f0, f1], [scene.layer_map(t) for t in (k, k + 1, k + 2)])
        direct = scene.flow(k, k + 2)
        assert valid.mean() > 0.5
        assert np.abs(composed - direct)[valid].max() < 2e-3


def _smooth_scene(steps=(2, 3, 4, 5, 6)) -> Scene:
    """Low-frequency textures (so bilinear resampling is nearly lossless) and a spinning,
    scaling sprite that drifts across the right edge and comes back on the left."""
    rng = np.random.default_rng(5)
    octaves, weights = (64, 32, 16), (1.0, 0.7, 0.5)
    bg = colour_field(rng, periodic_noise(rng, 128, 128, octaves=octaves, weights=weights))
    cam = CameraMotion(centre=((W - 1) / 2, (H - 1) / 2), start=(10.0, 20.0), heading=0.4,
                       sway=Wave(3, 30, 0), roll=Wave(0.05, 40, 0.3), zoom=Wave(0.05, 50, 1.0))
    n, half = 41, 20
    ys, xs = (np.mgrid[0:n, 0:n] - half).astype(np.float64)
    tex = colour_field(rng, periodic_noise(rng, 64, 64, octaves=octaves, weights=weights))[:n, :n]
    sdf = sdf_box(xs, ys, 14, 9, 0.3, 3).astype(np.float32)
    sprite = Sprite(tex, sdf, (half, half), float(np.hypot(14, 9)),
                    SpriteMotion(start=(70.0, 30.0), velocity=(3.0, 0.3), angle0=0.2, spin=0.02,
                                 breath=Wave(0.1, 40, 0)), period=(W + 40, H + 40))
    return Scene(W, H, Clock.from_steps(list(steps)), Background(bg, cam), [sprite])


def _edges(ids: np.ndarray) -> np.ndarray:
    lap = cv2.Laplacian(ids.astype(np.float32), cv2.CV_32F) != 0
    return cv2.dilate(lap.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def test_flow_is_exact_up_to_resampling():
    """On smooth textures, warping a float render with the exact flow leaves only the
    resampling error; a flow off by 0.3 px is far worse. Covers rotation, zoom, scaling
    and a sprite wrapping around the image edge."""
    scene = _smooth_scene()
    assert (scene.layer_map(5)[:, :4] == 1).any()  # the sprite came back on the left
    errs, errs_off, sprite_errs = [], [], []
    for k in range(5):
        i0, i1 = scene.render(k), scene.render(k + 1)  # float renders: no rounding error
        fwd, bwd = scene.flow(k, k + 1), scene.flow(k + 1, k)
        m = _fb_consistent(fwd, bwd, 0.1) & ~_edges(scene.layer_map(k))
        m &= _warp(_edges(scene.layer_map(k + 1)).astype(np.float32), fwd) == 0
        off = _warp(i1, fwd + np.float32(0.3))
        m &= np.isfinite(off[..., 0])
        assert m.mean() > 0.5
        err = np.abs(_warp(i1, fwd) - i0).mean(axis=2)
        on_sprite = m & (scene.layer_map(k) == 1)
        errs.append(err[m].mean())
        if on_sprite.sum() > 40:  # the sprite is partly out of view while it wraps
            sprite_errs.append(err[on_sprite].mean())
        errs_off.append(np.abs(off - i0).mean(axis=2)[m].mean())
    assert len(sprite_errs) >= 3
    errs += sprite_errs
    # About 0.07 levels is left from resampling twice; a 0.3 px error costs about 1 level.
    assert max(errs) < 0.1, errs
    assert min(errs_off) > 5 * max(errs), (errs, errs_off)


def test_flow_backward_in_time_inverts_forward():
    scene = _smooth_scene()
    fwd, bwd = scene.flow(1.3, 3.7), scene.flow(3.7, 1.3)
    ids0 = scene.layer_map(1.3)
    m = _fb_consistent(fwd, bwd, 1e-3)
    assert m.mean() > 0.6 and (ids0[m] == 1).any() and (ids0[m] == 0).any()


# -- blur -------------------------------------------------------------------------------

def test_blur_of_a_static_scene_is_the_frame():
    scene = _smooth_scene(steps=(0.0,))
    blur, n = scene.blur(0.0, 1.0, 0.5)
    assert n == 1
    assert np.array_equal(blur, scene.render(0.0))


def _box_blur_x(tex: np.ndarray, d: float, width: int) -> np.ndarray:
    """Exact mean over s in [0, d] of the bilinear (here piecewise-linear in x) periodic
    texture rows shifted right by s, at x = 0..width-1: (F(x) - F(x - d)) / d."""
    t = tex.astype(np.float64)
    period = t.shape[1]
    seg = (t + np.roll(t, -1, axis=1)) / 2
    cum = np.concatenate([np.zeros_like(t[:, :1]), np.cumsum(seg, axis=1)], axis=1)

    def integral(x):
        j = np.floor(x).astype(int)
        a = (x - j)[None, :, None]
        q, r = np.divmod(j, period)
        tj, tj1 = t[:, r], t[:, (r + 1) % period]
        return cum[:, r] + q[None, :, None] * cum[:, -1:] + a * tj + a * a / 2 * (tj1 - tj)

    xs = np.arange(width, dtype=np.float64)
    return (integral(xs) - integral(xs - d)) / d


@pytest.mark.parametrize("d", [0.7, 5.3, 23.0])
def test_blur_of_a_translation_is_the_analytic_box_blur(d):
    rng = np.random.default_rng(3)
    tex = colour_field(rng, periodic_noise(rng, 128, 192))
    # heading pi: the view slides left over the texture, the content moves right by d per frame.
    cam = CameraMotion(centre=((W - 1) / 2, (H - 1) / 2), start=((W - 1) / 2, (H - 1) / 2), heading=np.pi)
    scene = Scene(W, H, Clock.linear(d), Background(tex, cam), [])
    assert np.array_equal(scene.render(0.0), tex[:H, :W])
    blur, n = scene.blur(0.0, 1.0, 0.5)
    assert n == max(8, int(np.ceil(d / 0.5)))
    err = np.abs(blur - _box_blur_x(tex[:H], d, W))
    assert err.mean() < 0.06 and err.max() < 0.6, (err.mean(), err.max())


def test_blur_truth_files(sample_dir):
    """The written blur is the scene's blur; on the slowest pair it is close to the mean of
    its two frames; with finer sub-steps it barely changes (enough sub-samples)."""
    index = json.loads((sample_dir / "truth" / "index.json").read_text())
    slow = min((it for it in index["items"] if it["layout"] == "monkaa"), key=lambda it: it["s"])
    spec, scene = scene_for(sample_dir, "monkaa", slow["sequence"])
    blur = read_pfm(sample_dir / slow["blur"])
    again, n = scene.blur(slow["t0"], slow["t1"], 0.5)
    assert n == slow["n_sub"] and np.array_equal(blur, again)
    i0, i1 = (read_image(sample_dir / p).astype(np.float32) for p in slow["frames"])
    assert np.abs(blur - (i0 + i1) / 2).mean() < 0.25 * np.abs(i1 - i0).mean()
    lo, hi = np.minimum(i0, i1) - 2, np.maximum(i0, i1) + 2
    assert ((blur >= lo) & (blur <= hi)).mean() > 0.97

    win = next(it for it in index["items"] if it["layout"] == "gopro" and it["s"] > 10)
    spec, scene = scene_for(sample_dir, "gopro", win["sequence"])
    fine, n_fine = scene.blur(win["t0"], win["t1"], 0.15)
    stored = read_pfm(sample_dir / win["blur"])
    assert n_fine > 3 * win["n_sub"]
    diff = np.abs(fine - stored)
    assert diff.mean() < 0.1 and diff.max() < 2.0
    # It is a real blur: far from the first frame, and from a plain 7-frame average.
    frames = [read_image(sample_dir / p).astype(np.float32) for p in win["frames"]]
    assert np.abs(stored - frames[0]).mean() > 5 * diff.mean()


# -- determinism, errors, crash safety ---------------------------------------------------

def test_same_seed_same_bytes_other_seed_differs(sample_dir, tmp_path):
    again = tmp_path / "again"
    write_sample(again, SampleConfig(W, H, seed=0))
    assert _digest_tree(again) == _digest_tree(sample_dir)
    other = tmp_path / "other"
    write_sample(other, SampleConfig(W, H, seed=1, only=("monkaa", "nfs")))
    a, b = _digest_tree(sample_dir), _digest_tree(other)
    shared = [k for k in b if k in a and not k.endswith("README.md")]
    assert len(shared) > 100
    assert all(a[k] != b[k] for k in shared), [k for k in shared if a[k] == b[k]][:5]


def test_subset_and_workers_do_not_change_the_files(sample_dir, tmp_path):
    """A sequence's files depend only on (seed, size, sequence): not on --only, nor on
    the number of worker processes."""
    out = tmp_path / "nfs_only"
    write_sample(out, SampleConfig(W, H, seed=0, only=("nfs",), workers=2))
    sub = {k: v for k, v in _digest_tree(out).items() if k.startswith(("nfs/", "truth/nfs/"))}
    full = _digest_tree(sample_dir)
    assert len(sub) > 100 and all(full[k] == v for k, v in sub.items())


def test_cli_errors_are_one_line(tmp_path, capsys, sample_dir):
    for argv in (["sample", str(sample_dir), "--size", f"{W}x{H}"],  # not empty
                 ["sample", str(tmp_path / "a"), "--size", "97x64"],  # odd size with video
                 ["sample", str(tmp_path / "b"), "--size", "big"],
                 ["sample", str(tmp_path / "c"), "--only", "monkaa,sintel"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()


def test_killed_run_does_not_look_complete(tmp_path, monkeypatch):
    out = tmp_path / "S"
    write_sample(out, SampleConfig(W, H, only=("nfs",)))
    assert (out / "sample.json").is_file()
    real = sample_mod.write_sequence
    calls = []

    def dies_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sample_mod, "write_sequence", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_sample(out, SampleConfig(W, H, only=("nfs",)), overwrite=True)
    assert not (out / "sample.json").exists()
    with pytest.raises(ConfigError, match="not a complete sample"):
        scene_for(out, "nfs", "kite_1")
