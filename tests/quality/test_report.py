"""stats, preview and the dataset card show the quality estimates."""

import json

import numpy as np
from click.testing import CliRunner

from blurgen import report
from blurgen.cli import cli
from blurgen.io.frames import read_image
from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard

H, W = 24, 32


def _write(folder, quality=True):
    samples = []
    for i in range(6):
        rng = np.random.default_rng(i)
        arrays = {"blur": rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
                  "flow": rng.standard_normal((H, W, 2)).astype(np.float32),
                  "flow_bwd": rng.standard_normal((H, W, 2)).astype(np.float32)}
        meta = {"source": "gopro", "window": 7}
        if quality:
            u = np.zeros((H, W), np.float16)
            u[:, W // 2:] = 8.0  # right half: far beyond the colour scale
            arrays.update(uncertainty=u, uncertainty_bwd=u)
            meta.update(label_epe_est=0.1 * (i + 1), quality_calibration="direct:dis")
        samples.append(Sample(f"gopro/s/{i:06d}", arrays, meta))
    write_shard(folder / "train-00000-of-00001.h5", samples)
    return folder


def test_stats_give_the_distributions_and_a_panel_each(tmp_path):
    out = _write(tmp_path)
    st = report.compute_stats(out)
    assert st["label_epe_est"] == [0.1 * (i + 1) for i in range(6)] and st["fidelity_db_est"] == []
    assert "label_epe_est: min 0.10  median 0.35  max 0.60 px (6 samples)" in report.format_stats(st)
    res = CliRunner().invoke(cli, ["stats", str(out), "--json", "--plot", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)["distributions"]
    assert d["label_epe_est"] == {"n": 6, "min": 0.1, "median": 0.35, "mean": 0.35, "max": 0.6}
    assert d["fidelity_db_est"] is None
    wide = read_image(tmp_path / "s.png").shape[1]
    report.write_stats_plot({**st, "label_epe_est": []}, tmp_path / "s2.png")
    assert wide > read_image(tmp_path / "s2.png").shape[1]  # one panel more


def test_preview_shows_the_uncertainty_map_when_present(tmp_path):
    out = _write(tmp_path)
    sheet = report.contact_sheet(out, n=2, tile_width=64)
    assert sheet.shape[1] == 3 * 64  # blur, flow, uncertainty
    tile = sheet[20:36, 128:192]  # below the tag: the left half is 0 px, the right half saturated
    assert tile[:, 4:28].mean() < 30 and tile[:, 36:60].mean() > 150
    assert report.contact_sheet(out, n=2, tile_width=64, uncertainty=False).shape[1] == 2 * 64
    res = CliRunner().invoke(cli, ["preview", str(out), "--out", str(tmp_path / "p.png"), "--no-uncertainty"])
    assert res.exit_code == 0 and read_image(tmp_path / "p.png").shape[1] == 2 * 200
    old = _write(tmp_path / "old", quality=False)  # shards from before the estimates
    assert report.contact_sheet(old, n=2, tile_width=64).shape[1] == 2 * 64
    assert report.contact_sheet(old, n=2, tile_width=64, uncertainty=True).shape[1] == 3 * 64  # a blank tile


def test_card_reports_the_estimates_or_says_there_are_none(tmp_path):
    card = report.dataset_card(_write(tmp_path / "new"))
    assert "## Quality of the samples" in card
    assert "`label_epe_est` (estimated label EPE, px), 6 of 6 samples: median 0.35" in card
    assert "calibration: `direct:dis` (6)" in card and "`uncertainty` / `uncertainty_bwd`" in card
    assert "unc = f['uncertainty'][0]" in card
    old = report.dataset_card(_write(tmp_path / "old", quality=False))
    assert "No quality estimates" in old and "uncertainty" not in old
