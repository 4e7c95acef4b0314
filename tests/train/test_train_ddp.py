"""Two processes under torchrun with the gloo backend on the CPU really train together."""

import json
import os
import subprocess
import sys

import torch

from blurgen.models.b2fnet import B2FNet, B2FNetConfig
from blurgen.train.records import param_digest


def test_torchrun_two_ranks_keep_identical_replicas(toy_shards, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "blurgen", "train", "--shards", str(toy_shards), "--out", str(out), "--width", "0.05",
           "--crop", "64", "--batch-size", "2", "--max-steps", "2", "--lr", "1e-3", "--device", "cpu",
           "--threads", "1", "--val-split", "none", "--sync-report", "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    reps = [json.loads((out / "sync" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in reps] == [2, 2]
    assert [r["step"] for r in reps] == [2, 2]
    # each rank read its own half of the epoch: 2 steps x 2 samples, disjoint, all 8 together
    k0, k1 = set(reps[0]["keys_seen"]), set(reps[1]["keys_seen"])
    assert len(k0) == len(k1) == 4 and not k0 & k1
    # different data, same parameters after the steps: the gradients were averaged
    assert reps[0]["param_sha256"] == reps[1]["param_sha256"]
    torch.manual_seed(0)
    start = param_digest(B2FNet(B2FNetConfig(width=0.05)))
    assert reps[0]["param_sha256"] != start
    ck = torch.load(out / "last.pt", weights_only=True)
    m = B2FNet(B2FNetConfig(width=0.05))
    m.load_state_dict(ck["model"])
    assert param_digest(m) == reps[0]["param_sha256"]
    assert ck["config"]["batch_size"] == 2 and ck["step"] == 2
