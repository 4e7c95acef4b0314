import json

import pytest

from blurgen.demo import run_demo
from blurgen.errors import ConfigError
from blurgen.io.frames import read_image
from blurgen.manifest import verify
from blurgen.report import _label
from blurgen.train.evaluate import evaluate_checkpoint


def test_demo_runs_the_whole_chain(tmp_path):
    out = tmp_path / "demo"
    lines = []
    # training with blurgen train's defaults: the crop that fits (64 here), holdout validation
    head = run_demo(out, size="128x96", workers=1, train_steps=3, width=0.125, quiet=True, echo=lines.append)
    assert head["status"] == "complete"
    assert json.loads((out / "demo.json").read_text())["status"] == "complete"
    for name in ("monkaa", "gopro", "nfs", "video"):
        d = out / name
        assert verify(d).ok, name
        assert head["datasets"][name]["samples"] > 0
        assert "h5py" in (d / "README.md").read_text()
    # the Monkaa skip rule is visible in the demo's numbers
    assert head["datasets"]["monkaa"]["skipped"] >= 1
    assert read_image(out / "preview.png").shape[0] > 100
    assert (out / "run" / "last.pt").is_file()
    assert head["eval"]["epe_min"] > 0 and head["eval"]["zero_epe_min"] > 0
    text = "\n".join(lines)
    assert "preview.png" in text and "EPE min" in text
    # best.pt was selected on training samples held out by key; the test split only reported
    run = json.loads((out / "run" / "run.json").read_text())
    assert head["selection"]["on"] == "holdout" and head["selection"]["crop"] == 64
    assert head["reported_on"] == "monkaa test split" and head["eval"]["n"] >= 1
    man = json.loads((out / "monkaa" / "manifest.json").read_text())
    test_keys = {s["key"] for s in man["samples"] if s["split"] == "test"}
    assert test_keys and run["selection"]["keys"] and not set(run["selection"]["keys"]) & test_keys
    assert "selected on a holdout of" in text and "reported on the monkaa test split" in text
    # also on centre crops of the training crop, as validation scored it: blurgen eval --crop 64
    crop = evaluate_checkpoint(out / "run" / head["selection"]["checkpoint"], out / "monkaa", split="test", crop=64)
    assert head["eval_crop"] == {"crop": 64, **{k: crop[k] for k in ("epe_min", "epe_fwd", "epe_bwd",
                                                                      "zero_epe_min", "n")}}
    assert f"centre crops 64x64 (the size it was trained and selected on): EPE min {crop['epe_min']:.3f} px" in text
    assert f"full frames given whole: EPE min {head['eval']['epe_min']:.3f} px" in text
    tiled = evaluate_checkpoint(out / "run" / head["selection"]["checkpoint"], out / "monkaa", split="test",
                                tile=64)
    assert head["eval_tiled"]["tile"] == 64 and head["eval_tiled"]["epe_min"] == tiled["epe_min"]
    assert f"full frames in 64x64 tiles (blurgen eval --tile auto): EPE min {tiled['epe_min']:.3f} px" in text
    _check_results(out, head, text)


def _check_results(out, head, text):
    """results.png: a title, one row per test image (four 200x150 tiles of the 128x96 frames
    and a two-line caption), the training curve; each image's EPE is the evaluation's."""
    res = head["results"]
    assert res["png"] == "results.png" and str(out / "results.png") in text
    ev = evaluate_checkpoint(out / "run" / head["selection"]["checkpoint"], out / "monkaa", split="test",
                             per_sample=True, tile=64)  # drawn in tiles of the training crop
    assert [(r["key"], r["epe_min"]) for r in res["images"]] == [(s["key"], s["epe_min"]) for s in ev["samples"]]
    assert len(res["images"]) == head["eval"]["n"] == ev["n"]  # every test image (<= 8 of them)
    png = read_image(out / "results.png")
    title, caption = _label(800, [""]).shape[0], _label(800, ["", ""]).shape[0]
    assert png.shape == (title + ev["n"] * (150 + caption) + 300, 4 * 200, 3)
    assert read_image(out / res["curve"]).shape == (300, 800, 3)
    assert json.loads((out / "demo.json").read_text())["results"] == res


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ConfigError, match="not empty"):
        run_demo(tmp_path, quiet=True, echo=lambda s: None)
    with pytest.raises(ConfigError, match="not a blurgen demo folder"):
        run_demo(tmp_path, overwrite=True, quiet=True, echo=lambda s: None)
    assert (tmp_path / "keep.txt").read_text() == "precious"
