"""The results sheet: blur | label | prediction | error per held-out image, with the EPE that
evaluation computes for that image, and the training curve from the run's logs."""

import numpy as np
import pytest
import torch

from blurgen.io import flow_to_color, read_image
from blurgen.models.b2fnet import B2FNetConfig
from blurgen.report import _fit, _label
from blurgen.train.checkpoint import load_model
from blurgen.train.config import TrainConfig
from blurgen.train.evaluate import eval_dataset, evaluate_checkpoint
from blurgen.train.metrics import flow_metrics
from blurgen.train.predict import predict_flow
from blurgen.train.results import sample_row, scored_samples, write_results
from blurgen.train.trainer import train

TILE = 200


@pytest.fixture(scope="module")
def run(tmp_path_factory, toy_shards):
    out = tmp_path_factory.mktemp("results") / "run"
    train(TrainConfig(shards=str(toy_shards), out=str(out), preset=None, epochs=50, lr=1e-3, milestones=(100,),
                      batch_size=4, crop=64, max_steps=6, threads=1, quiet=True, log_every=1,
                      model=B2FNetConfig(width=0.05)))
    return out


def test_the_epe_on_each_row_is_the_evaluations_per_image_epe(run, toy_shards, tmp_path):
    ckpt = run / "last.pt"
    ev = evaluate_checkpoint(ckpt, toy_shards, device="cpu", per_sample=True)
    assert ev["split"] == "test" and len(ev["samples"]) == ev["n"] == 4
    res = write_results(ckpt, toy_shards, tmp_path / "r.png", run=run, device="cpu")
    assert [r["key"] for r in res["rows"]] == [s["key"] for s in ev["samples"]]
    for row, s in zip(res["rows"], ev["samples"]):
        assert row["epe_min"] == s["epe_min"] and row["epe_fwd"] == s["epe_fwd"], row["key"]
        assert row["zero_epe_min"] == s["zero_epe_min"]
    assert sum(s["epe_min"] for s in ev["samples"]) / 4 == pytest.approx(ev["epe_min"], rel=1e-12)
    # n: the first n images, the ones `blurgen eval --limit n` reads
    two = write_results(ckpt, toy_shards, tmp_path / "two.png", n=2, device="cpu")
    assert [r["key"] for r in two["rows"]] == [s["key"] for s in ev["samples"][:2]] and two["curve"] == 0


def test_the_sheet_shows_label_and_prediction_in_one_colour_scale(run, toy_shards, tmp_path):
    ckpt = run / "best.pt"
    res = write_results(ckpt, toy_shards, tmp_path / "r.png", run=run, device="cpu")
    img = read_image(tmp_path / "r.png")
    caption = _label(TILE, ["", ""]).shape[0]
    # 64x64 frames: tiles of 200x200, a two-line caption under each row, the curve below
    assert img.shape == (res["title"] + 4 * (TILE + caption) + res["curve"], 4 * TILE, 3)
    assert res["curve"] == 300 and [r["height"] for r in res["rows"]] == [TILE + caption] * 4
    model, _ = load_model(ckpt)
    ds, _ = eval_dataset(toy_shards)
    for row, rec in zip(res["rows"], scored_samples(model, ds, torch.device("cpu"), list(range(4)))):
        top, scale = row["top"], row["max_mag"]
        label = rec["flow"] if row["direction"] == "fwd" else rec["flow_bwd"]
        pred = predict_flow(model, rec["blur"])  # the prediction `blurgen predict` makes of this blur
        below_tag = slice(top + 20, top + TILE)
        for col, flow in ((1, label), (2, pred)):
            want = _fit(flow_to_color(flow, scale), TILE)[20:]
            np.testing.assert_array_equal(img[below_tag, col * TILE:(col + 1) * TILE], want)
        assert scale == pytest.approx(float(np.linalg.norm(label, axis=-1).max()), rel=1e-6)
        # the error map averages to the EPE written on the tile
        mask = rec["mask"] if row["direction"] == "fwd" else rec["mask_bwd"]
        err = np.linalg.norm(rec["pred"] - label, axis=-1)[mask].mean()
        assert err == pytest.approx(row["epe_min"], rel=1e-5)


def test_the_label_shown_is_the_direction_of_epe_min():
    rng = np.random.default_rng(0)
    d = rng.normal(0, 3, (48, 64, 2)).astype(np.float32)
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]  # noqa: E731
    ones = np.ones((48, 64), bool)
    for pred, want in ((-d + 0.1, "bwd"), (d + 0.1, "fwd")):
        m = flow_metrics(t(pred), t(d), t(-d))
        z = flow_metrics(torch.zeros_like(t(pred)), t(d), t(-d))
        rec = {"key": "k", "source": "s", "blur": np.zeros((48, 64, 3), np.uint8), "pred": pred, "flow": d,
               "flow_bwd": -d, "mask": ones, "mask_bwd": ones,
               **{name: float(m[name][0]) for name in m}, **{"zero_" + name: float(z[name][0]) for name in z}}
        row, info = sample_row(rec, tile_width=64)
        assert info["direction"] == want and info["epe_min"] == pytest.approx(0.1 * np.sqrt(2), rel=1e-4)
        shown = d if want == "fwd" else -d
        np.testing.assert_array_equal(row[20:48, 64:128], flow_to_color(shown, info["max_mag"])[20:48])
        assert row.shape == (48 + _label(64, ["", ""]).shape[0], 4 * 64, 3)
