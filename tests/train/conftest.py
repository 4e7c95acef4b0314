from pathlib import Path

import pytest
import torch

from blurgen.train.toy import write_toy_shards


@pytest.fixture(autouse=True)
def _one_thread():
    # 2 shared cores: one intra-op thread is many times faster than two under load
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def toy_shards(tmp_path_factory) -> Path:
    """8 training + 4 test samples, 64x64, global translations of 1-6 px."""
    d = tmp_path_factory.mktemp("toy") / "shards"
    write_toy_shards(d, n_train=8, n_test=4, size=(64, 64), seed=0)
    return d


@pytest.fixture(scope="session")
def toy_shards_80(tmp_path_factory) -> Path:
    """8 training + 2 test samples of 80x80 (room for random 64x64 crops)."""
    d = tmp_path_factory.mktemp("toy80") / "shards"
    write_toy_shards(d, n_train=8, n_test=2, size=(80, 80), seed=1)
    return d
