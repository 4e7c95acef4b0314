"""On the bundled sample: a short CPU training beats zero flow on the held-out shards."""

import json

import pytest
from click.testing import CliRunner

from blurgen.cli import cli


@pytest.mark.slow(reason="sample + synth-monkaa + 150 CPU training steps: 2-4 minutes on 2 shared cores")
def test_short_training_on_the_sample_beats_zero_flow(tmp_path):
    r = CliRunner()
    res = r.invoke(cli, ["sample", str(tmp_path / "s"), "--only", "monkaa"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["synth-monkaa", "--root", str(tmp_path / "s" / "monkaa"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["train", "--shards", str(tmp_path / "o"), "--out", str(tmp_path / "run"), "--width", "0.125",
                         "--crop", "128", "--crop-mode", "random", "--lr", "1e-3", "--max-steps", "150",
                         "--val-every", "5", "--threads", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["eval", "--ckpt", str(tmp_path / "run" / "last.pt"), "--shards", str(tmp_path / "o"),
                         "--json", "--threads", "1"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    print(f"\nsample test split: n {out['n']}, epe_min {out['epe_min']:.3f}, zero flow {out['zero_epe_min']:.3f}")
    assert out["split"] == "test" and out["n"] >= 1
    assert out["epe_min"] < 0.8 * out["zero_epe_min"]
