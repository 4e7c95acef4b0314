"""`blurgen train`, `blurgen eval`, `blurgen predict` end to end on toy shards."""

import datetime
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from blurgen.cli import cli, main
from blurgen.errors import ConfigError
from blurgen.io import read_flo, read_image, write_flo, write_image
from blurgen.train.evaluate import evaluate_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toy_shards):
    run = tmp_path_factory.mktemp("cli") / "run"
    # default --crop (64 on these 64x64 shards) and --val-split (holdout)
    res = CliRunner().invoke(cli, ["train", "--shards", str(toy_shards), "--out", str(run), "--width", "0.05",
                                   "--max-steps", "2", "--threads", "1", "--lr", "1e-3"])
    assert res.exit_code == 0, res.output
    assert (f"crop 64x64: the default 256x256 does not fit the 64x64 frames of {toy_shards.name}/"
            "train-00000-of-00001.h5") in res.output
    assert json.loads(res.output.strip().splitlines()[-1])["selected_on"] == "holdout"
    return run


def test_train_prints_parameters_and_summary(trained, toy_shards, tmp_path):
    ck = torch.load(trained / "last.pt", weights_only=True)
    assert ck["step"] == 2 and ck["config"]["preset"] == "monkaa" and ck["config"]["epochs"] == 300
    res = CliRunner().invoke(cli, ["train", "--shards", str(toy_shards), "--out", str(tmp_path / "r"),
                                   "--width", "0.05", "--crop", "64", "--max-steps", "1", "--threads", "1",
                                   "--no-stn", "--no-refine", "--preset", "finetune", "--val-split", "none",
                                   "--amp", "bf16", "--channels-last", "--loss-direction", "min"])
    assert res.exit_code == 0, res.output
    assert "parameters (width 0.05, STN off, refining block off)" in res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["steps"] == 1 and summary["best_epe"] is None  # no validation: null, valid JSON
    ck = torch.load(tmp_path / "r" / "last.pt", weights_only=True)
    assert ck["model_config"]["stn"] is False and ck["config"]["milestones"] == [60, 80, 100]
    assert ck["config"]["amp"] == "bf16" and ck["config"]["loss_direction"] == "min"
    assert all(torch.isfinite(v).all() for v in ck["model"].values())


def test_eval_table_and_json(trained, toy_shards):
    res = CliRunner().invoke(cli, ["eval", "--ckpt", str(trained / "last.pt"), "--shards", str(toy_shards),
                                   "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "split test, 4 samples" in res.output
    assert "zero_min" in res.output and "toy" in res.output
    assert "was trained on" not in res.output  # 64x64 frames, trained on 64x64 crops
    res = CliRunner().invoke(cli, ["eval", "--ckpt", str(trained / "last.pt"), "--shards", str(toy_shards),
                                   "--threads", "1", "--crop", "32"])
    assert res.exit_code == 0, res.output
    assert ("The network was trained on 64x64 crops; its output depends on the input size (--tile auto runs it "
            "on tiles of that size, --crop 64 evaluates centre crops of it") in res.output
    res = CliRunner().invoke(cli, ["eval", "--ckpt", str(trained / "last.pt"), "--shards", str(toy_shards),
                                   "--json", "--split", "all", "--threads", "1"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"epe_min", "epe_fwd", "epe_bwd", "per_source", "zero_epe_min", "n"} <= set(out)
    assert out["input_sizes"] == [[64, 64]] and out["train_crop"] == 64
    assert out["n"] == 12 and out["per_source"]["toy"]["n"] == 12
    assert out["epe_min"] <= min(out["epe_fwd"], out["epe_bwd"]) + 1e-6
    # zero flow: EPE = |d| in both directions (flow_bwd = -flow), mean of 1..6 px motions
    assert out["zero_epe_fwd"] == pytest.approx(out["zero_epe_bwd"], rel=1e-5)
    assert 1.0 < out["zero_epe_min"] < 8.5


def test_eval_in_tiles_of_the_training_crop(trained, toy_shards_80):
    # 80x80 frames, a network trained on 64x64 crops: whole frames are another size (the
    # hint says so), tiles of 64 are not
    base = ["eval", "--ckpt", str(trained / "last.pt"), "--shards", str(toy_shards_80), "--threads", "1"]
    whole = CliRunner().invoke(cli, base)
    tiled = CliRunner().invoke(cli, [*base, "--tile", "auto"])
    assert whole.exit_code == 0 and tiled.exit_code == 0, (whole.output, tiled.output)
    assert "was trained on 64x64" in whole.output and "was trained on" not in tiled.output
    assert "full frames, in tiles of 64 px)" in tiled.output
    out = json.loads(CliRunner().invoke(cli, [*base, "--tile", "auto", "--json"]).output)
    assert out["tile"] == 64 and out["input_sizes"] == [[64, 64]]
    assert json.loads(CliRunner().invoke(cli, [*base, "--json"]).output)["input_sizes"] == [[80, 80]]
    res = CliRunner().invoke(cli, [*base, "--tile", "100"])
    assert isinstance(res.exception, ConfigError) and "multiple of 64 px" in str(res.exception)


def test_evaluate_checkpoint_is_what_eval_json_prints(trained, toy_shards):
    ckpt = trained / "last.pt"
    for flags, kw, n in (([], {}, 4),
                         (["--split", "all", "--batch-size", "4", "--limit", "5"], dict(split="all", batch_size=4, limit=5), 5),
                         (["--split", "train", "--crop", "64"], dict(split="train", crop=64), 8),
                         (["--tile", "64", "--tile-overlap", "8"], dict(tile=64, tile_overlap=8), 4)):
        res = CliRunner().invoke(cli, ["eval", "--ckpt", str(ckpt), "--shards", str(toy_shards), "--json",
                                       "--threads", "1", *flags])
        assert res.exit_code == 0, res.output
        printed = json.loads(res.output)
        assert printed["n"] == n and printed["per_source"]["toy"]["n"] == n
        assert evaluate_checkpoint(ckpt, toy_shards, device="cpu", **kw) == printed
        assert printed["input_sizes"] == [[64, 64]] and printed["train_crop"] == 64


def test_evaluate_checkpoint_refuses_mixed_sizes_in_a_batch(trained, toy_shards, toy_shards_80, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "train-00000-of-00001.h5").write_bytes((toy_shards / "train-00000-of-00001.h5").read_bytes())
    (mixed / "val-00000-of-00001.h5").write_bytes((toy_shards_80 / "train-00000-of-00001.h5").read_bytes())
    ckpt = trained / "last.pt"
    with pytest.raises(ConfigError, match=r"frames of several sizes \[\(64, 64\), \(80, 80\)\] cannot share a batch"):
        evaluate_checkpoint(ckpt, mixed, batch_size=2, device="cpu")
    assert evaluate_checkpoint(ckpt, mixed, batch_size=1, device="cpu")["n"] == 16  # no test split: every shard
    cropped = evaluate_checkpoint(ckpt, mixed, batch_size=2, crop=64, device="cpu")
    assert cropped["n"] == 16 and cropped["split"] == "all"


def test_predict_any_size_writes_flo_and_png(trained, tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    write_image(a, rng.integers(0, 255, (50, 70, 3), dtype=np.uint8))
    write_image(b, rng.integers(0, 255, (64, 130, 3), dtype=np.uint8))
    res = CliRunner().invoke(cli, ["predict", str(a), str(b), "--ckpt", str(trained / "last.pt"),
                                   "--out", str(tmp_path / "out"), "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert ("Note: the network was trained on 64x64 crops and its output depends on the input size; --tile auto "
            "runs it on tiles of that size") in res.output  # 50x70 and 64x130 images, whole
    fa = read_flo(tmp_path / "out" / "a.flo")
    assert fa.shape == (50, 70, 2) and np.isfinite(fa).all()
    assert read_flo(tmp_path / "out" / "b.flo").shape == (64, 130, 2)
    assert read_image(tmp_path / "out" / "a.png").shape == (50, 70, 3)
    # one image, a .flo name
    res = CliRunner().invoke(cli, ["predict", str(a), "--ckpt", str(trained / "last.pt"),
                                   "--out", str(tmp_path / "single.flo"), "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "single.flo").exists() and (tmp_path / "single.png").exists()
    np.testing.assert_array_equal(read_flo(tmp_path / "single.flo"), fa)  # deterministic


def test_predict_in_tiles_of_the_training_crop(trained, tmp_path):
    # trained on 64x64 crops: --tile auto cuts the 64x130 image into 4 tiles, at 0, 22, 44
    # and 66; columns 0..21 belong to the first tile alone, so they are the network's output
    # on that 64x64 crop
    import torch

    from blurgen.train.checkpoint import load_model
    from blurgen.train.evaluate import infer_flow

    rgb = np.random.default_rng(1).integers(0, 255, (64, 130, 3), dtype=np.uint8)
    write_image(tmp_path / "b.png", rgb)
    res = CliRunner().invoke(cli, ["predict", str(tmp_path / "b.png"), "--ckpt", str(trained / "last.pt"),
                                   "--out", str(tmp_path / "out"), "--threads", "1", "--tile", "auto"])
    assert res.exit_code == 0, res.output
    assert "(64x130 in tiles of 64 px, mean |flow|" in res.output and "Note:" not in res.output
    flow = read_flo(tmp_path / "out" / "b.flo")
    model, _ = load_model(trained / "last.pt")
    with torch.inference_mode():
        first = infer_flow(model, torch.from_numpy(rgb[:, :64]).permute(2, 0, 1)[None].float() / 255)
    np.testing.assert_allclose(flow[:, :22], first[0].permute(1, 2, 0).numpy()[:, :22], atol=1e-5)
    res = CliRunner().invoke(cli, ["predict", str(tmp_path / "b.png"), "--ckpt", str(trained / "last.pt"),
                                   "--out", str(tmp_path / "o2"), "--tile", "64", "--tile-overlap", "64"])
    assert isinstance(res.exception, ConfigError)
    assert str(res.exception) == "--tile-overlap must be 0 .. 63 for tiles of 64 px, got 64"
    assert not (tmp_path / "o2").exists()


def test_predict_an_unreadable_image_is_one_line_and_the_others_are_done(trained, tmp_path, capsys):
    rng = np.random.default_rng(2)
    good = [tmp_path / "a.png", tmp_path / "c.png"]
    for p in good:
        write_image(p, rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
    (tmp_path / "b.png").write_bytes(good[0].read_bytes()[:300])  # cut short
    with pytest.raises(SystemExit) as e:
        main(["predict", str(good[0]), str(tmp_path / "b.png"), str(good[1]), "--ckpt", str(trained / "last.pt"),
              "--out", str(tmp_path / "out"), "--threads", "1"])
    assert e.value.code == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()  # the bad image's one line, and the note on the input size (40x48, not 64)
    assert [x for x in lines if not x.startswith("Note:")] == [
        f"Error: {tmp_path / 'b.png'}: cannot decode image (truncated PNG: no IEND chunk)"]
    assert len(lines) == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.flo", "a.png", "c.flo", "c.png"]
    assert out.count(" -> ") == 2
    # a folder stands for its image files
    (tmp_path / "b.png").unlink()
    (tmp_path / "notes.txt").write_text("not an image")
    res = CliRunner().invoke(cli, ["predict", str(tmp_path), "--ckpt", str(trained / "last.pt"),
                                   "--out", str(tmp_path / "out2"), "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["a.flo", "a.png", "c.flo", "c.png"]
    (tmp_path / "none").mkdir()
    with pytest.raises(SystemExit):
        main(["predict", str(tmp_path / "none"), "--ckpt", str(trained / "last.pt"), "--out", str(tmp_path / "o")])
    assert "none: no image files in this folder" in capsys.readouterr().err


def test_bad_checkpoint_is_one_clear_line(tmp_path, capsys, toy_shards):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as e:
        main(["eval", "--ckpt", str(bad), "--shards", str(toy_shards)])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.pt" in err and "cannot be read as a checkpoint" in err
    # a pickle holding a non-tensor object is refused by torch.load(weights_only=True)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"model": {}, "model_config": {}, "timestamp": datetime.datetime(2020, 1, 1)}, unsafe)
    img = tmp_path / "img.png"
    write_image(img, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SystemExit):
        main(["predict", str(img), "--ckpt", str(unsafe), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert "unsafe.pt" in err and len(err.splitlines()) == 1


def test_selection_flags_act_or_are_refused_in_one_line(toy_shards, tmp_path, capsys):
    base = ["train", "--shards", str(toy_shards), "--width", "0.05", "--max-steps", "1", "--threads", "1", "--quiet"]
    for extra, msg in ((["--val-split", "test"], "--val-split test: training never reads the test split"),
                       (["--train-split", "test"], "--train-split test: training never reads the test split"),
                       (["--val-split", "none", "--val-fraction", "0.2"], "--val-fraction sets the size of"),
                       (["--crop", "128"], "smaller than the 128x128 crop")):
        with pytest.raises(SystemExit) as e:
            main([*base, "--out", str(tmp_path / "r"), *extra])
        assert e.value.code == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err, err
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "half"), "--val-fraction", "0.5"])
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "half" / "run.json").read_text())
    assert run["selection"]["fraction"] == 0.5 and 2 <= run["selection"]["n"] <= 6
    assert run["selection"]["n"] + run["train"]["n"] == 8


def test_eval_per_sample_gives_the_numbers_the_means_are_made_of(trained, toy_shards):
    base = ["eval", "--ckpt", str(trained / "last.pt"), "--shards", str(toy_shards), "--threads", "1", "--per-sample"]
    res = CliRunner().invoke(cli, [*base, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    keys = [s["key"] for s in out["samples"]]
    assert keys == [f"toy/test/{i:05d}" for i in range(4)]
    for name in ("epe_min", "epe_fwd", "epe_bwd", "zero_epe_min"):
        assert np.mean([s[name] for s in out["samples"]]) == pytest.approx(out[name], rel=1e-9), name
    assert all(s["epe_min"] == min(s["epe_fwd"], s["epe_bwd"]) for s in out["samples"])
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith(keys[2]))
    assert line.split()[2] == f"{out['samples'][2]['epe_min']:.3f}"


def test_predict_with_a_label_writes_the_side_by_side_and_its_epe(trained, tmp_path, capsys):
    rng = np.random.default_rng(1)
    img = tmp_path / "a.png"
    write_image(img, rng.integers(0, 255, (50, 70, 3), dtype=np.uint8))
    label = rng.normal(0, 2, (50, 70, 2)).astype(np.float32)
    label[:10] = np.nan  # not trusted: left out of the EPE
    write_flo(tmp_path / "a.flo", label)
    res = CliRunner().invoke(cli, ["predict", str(img), "--ckpt", str(trained / "last.pt"), "--out",
                                   str(tmp_path / "out"), "--label", str(tmp_path / "a.flo"), "--threads", "1"])
    assert res.exit_code == 0, res.output
    pred = read_flo(tmp_path / "out" / "a.flo")
    epe = np.linalg.norm(pred[10:] - label[10:], axis=-1).mean()
    assert f"EPE {epe:.3f} px against the label" in res.output
    side = read_image(tmp_path / "out" / "a-vs-label.png")
    assert side.shape[1] == 4 * 200 and side.shape[0] > round(50 * 200 / 70)  # 4 tiles, a caption below
    img2 = tmp_path / "b.png"
    write_image(img2, rng.integers(0, 255, (50, 70, 3), dtype=np.uint8))
    with pytest.raises(SystemExit):
        main(["predict", str(img), str(img2), "--ckpt", str(trained / "last.pt"), "--out", str(tmp_path / "o2"),
              "--label", str(tmp_path / "a.flo")])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 --label file(s) for 2 image(s): give one label per image" in err, err
    write_flo(tmp_path / "small.flo", label[:20])
    with pytest.raises(SystemExit):
        main(["predict", str(img), "--ckpt", str(trained / "last.pt"), "--out", str(tmp_path / "o3"),
              "--label", str(tmp_path / "small.flo")])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "small.flo" in err and "70x20" in err and "70x50" in err, err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
