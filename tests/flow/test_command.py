import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.errors import ConfigError, InputError
from blurgen.flow import get_estimator
from blurgen.io.flo import read_flo
from blurgen.io.frames import read_image, write_image

from .scenes import translating_frames


def write_pair(tmp_path, dx=3, dy=1):
    f0, f1 = translating_frames(2, 60, 80, dx=dx, dy=dy)
    write_image(tmp_path / "a.png", f0)
    write_image(tmp_path / "b.png", f1)
    return tmp_path / "a.png", tmp_path / "b.png"


def test_flow_command_writes_flo_and_png(tmp_path):
    a, b = write_pair(tmp_path)
    out = tmp_path / "res" / "f.flo"
    res = CliRunner().invoke(cli, ["flow", str(a), str(b), "--model", "dis", "--out", str(out)])
    assert res.exit_code == 0, res.output
    flow = read_flo(out)
    want = get_estimator("dis").estimate_pair(read_image(a), read_image(b))
    np.testing.assert_array_equal(flow, want)
    assert abs(float(np.median(flow[..., 0])) - 3) < 0.2
    png = read_image(tmp_path / "res" / "f.png")
    assert png.shape == (60, 80, 3)
    assert "dis: 80x60" in res.output


def test_flow_command_backward_and_valid(tmp_path):
    a, b = write_pair(tmp_path)
    out = tmp_path / "f.flo"
    res = CliRunner().invoke(cli, ["flow", str(a), str(b), "--model", "farneback", "--out", str(out), "--backward"])
    assert res.exit_code == 0, res.output
    bwd = read_flo(tmp_path / "f.bwd.flo")
    assert abs(float(np.median(bwd[..., 0])) + 3) < 0.2
    valid = read_image(tmp_path / "f.valid.png")[..., 0]
    assert set(np.unique(valid)) <= {0, 255}
    assert (valid[10:-10, 10:-10] == 255).mean() > 0.9
    assert not valid[:, -2:].any()  # targets leave the frame


def test_flow_command_errors(tmp_path):
    a, _ = write_pair(tmp_path)
    write_image(tmp_path / "small.png", np.zeros((30, 40, 3), np.uint8))
    runner = CliRunner()
    res = runner.invoke(cli, ["flow", str(a), str(tmp_path / "small.png"), "--out", str(tmp_path / "f.flo")])
    assert isinstance(res.exception, InputError)
    assert "a.png: size 80x60 differs from" in str(res.exception) and "small.png" in str(res.exception)
    res = runner.invoke(cli, ["flow", str(a), str(a), "--out", str(tmp_path / "f.png")])
    assert isinstance(res.exception, ConfigError)
    assert not (tmp_path / "f.png").exists()


def test_flow_command_error_is_one_line_and_exit_1(tmp_path):
    a, b = write_pair(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "blurgen", "flow", str(a), str(b), "--model", "dis", "--ckpt", "things",
         "--out", str(tmp_path / "f.flo")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["Error: flow estimator dis needs no checkpoint (got 'things')"]
