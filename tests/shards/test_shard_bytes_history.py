"""Shard bytes must not depend on what the writing process did before.

A resumed run writes a shard in a process whose history differs from the uninterrupted
run's; any compressor that reads uninitialised memory (LZF's hash table in h5py's filter)
then gives other bytes for the same content, and resume, rerun and worker-count
independence all break.
"""

import subprocess
import sys

import pytest

from blurgen.shards.writer import DEFAULT_COMPRESSION

SCRIPT = r"""
import sys
import numpy as np
from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard

out, history, compression = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def samples(seed, n=3, h=96, w=160):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    res = []
    for i in range(n):
        # piecewise-constant content with repeats, like rendered frames and their flow:
        # many equal byte runs at varying distances for the compressor to match
        img = (127 + 60 * np.sin(x / (5 + i) + y / 7)[..., None] + rng.normal(0, 3, (h, w, 3))).clip(0, 255)
        img[rng.integers(0, h // 2):, : rng.integers(w // 4, w)] = rng.integers(0, 255, 3)
        flow = np.zeros((h, w, 2), np.float32)
        for _ in range(6):
            y0, x0 = rng.integers(0, h - 8), rng.integers(0, w - 8)
            flow[y0:y0 + rng.integers(4, 40), x0:x0 + rng.integers(4, 60)] = rng.normal(0, 20, 2).round(1)
        res.append(Sample(f"k/{seed}/{i}", {"blur": img.astype(np.uint8), "flow": flow}, {"i": i}))
    return res
# a different history: compress other data first (as a resumed run has made other shards)
for s in range(history):
    write_shard(out + f".warm{s}.h5", samples(100 + s, n=4), compression=compression)
write_shard(out, samples(1), compression=compression)
"""


def _write(path, history, compression):
    subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(history), compression], check=True)
    return path.read_bytes()


@pytest.mark.parametrize("compression", sorted({DEFAULT_COMPRESSION, "none", "gzip-4"}))
def test_same_content_same_bytes_whatever_the_process_did_before(tmp_path, compression):
    a = _write(tmp_path / "a.h5", 0, compression)
    b = _write(tmp_path / "b.h5", 3, compression)
    assert a == b, f"{compression}: shard bytes depend on the writing process's history"
