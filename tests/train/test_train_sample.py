"""On the bundled sample: a short CPU training with the default crop and validation beats zero
flow on the test split, which training never read."""

import json

import pytest
from click.testing import CliRunner

from blurgen.cli import cli


@pytest.mark.slow(reason="sample + synth-monkaa + 150 CPU training steps: 2-4 minutes on 2 shared cores")
@pytest.mark.parametrize("direction", ["fwd", "min"])
def test_short_training_on_the_sample_beats_zero_flow(tmp_path, direction):
    r = CliRunner()
    res = r.invoke(cli, ["sample", str(tmp_path / "s"), "--only", "monkaa"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["synth-monkaa", "--root", str(tmp_path / "s" / "monkaa"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    # default crop (128: 256 does not fit the 320x180 frames) and validation (a holdout of train)
    res = r.invoke(cli, ["train", "--shards", str(tmp_path / "o"), "--out", str(tmp_path / "run"), "--width", "0.125",
                         "--crop-mode", "random", "--lr", "1e-3", "--max-steps", "150",
                         "--val-every", "5", "--threads", "1", "--loss-direction", direction])
    assert res.exit_code == 0, res.output
    assert "crop 128x128: the default 256x256 does not fit the 180x320 frames" in res.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["selection"]["on"] == "holdout" and run["crop"]["size"] == 128
    print(f"\n--loss-direction {direction}: holdout {run['selection']['keys']}, {run['train']['n']} training samples; "
          f"best val epe_min {run['summary']['best_epe']:.3f}")
    for name in ("best.pt", "last.pt"):
        res = r.invoke(cli, ["eval", "--ckpt", str(tmp_path / "run" / name), "--shards", str(tmp_path / "o"),
                             "--json", "--threads", "1"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        print(f"{name} on the sample's test split: n {out['n']}, epe_min {out['epe_min']:.3f} "
              f"(fwd {out['epe_fwd']:.3f}, bwd {out['epe_bwd']:.3f}), zero flow {out['zero_epe_min']:.3f}")
        assert out["split"] == "test" and out["n"] >= 1
    assert out["epe_min"] < 0.8 * out["zero_epe_min"]  # last.pt
    res = r.invoke(cli, ["eval", "--ckpt", str(tmp_path / "run" / "last.pt"), "--shards", str(tmp_path / "o"),
                         "--threads", "1"])
    print("\n".join(ln for ln in res.output.splitlines() if "eval:" not in ln))  # the table, for docs/training.md
