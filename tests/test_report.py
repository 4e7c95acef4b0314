import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from blurgen import report
from blurgen.cli import cli
from blurgen.errors import InputError
from blurgen.io.frames import read_image
from blurgen.jobs import build_job
from blurgen.manifest import verify
from blurgen.pipeline import run


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "out"
    job = build_job("pattern", {"splits": {"train": 10, "test": 3}, "sizes": [[24, 32]],
                                "arrays": ["blur", "flow", "first", "last"],
                                "skip_keys": ["pattern/train/00004"]}, None)
    run(job, out, seed=3, samples_per_shard=4, quiet=True)
    return out


def test_contact_sheet_shows_each_picked_sample(dataset):
    sheet = report.contact_sheet(dataset, n=5, seed=1, tile_width=64)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    # 4 tiles per row (blur, flow, first, last), 5 rows of 48 px tiles plus a label each
    assert sheet.shape[1] == 4 * 64
    assert sheet.shape[0] >= 5 * 48
    recs = report.read_records(dataset)
    assert len(recs) == 12  # 13 planned, 1 deliberately skipped
    # each tile shows its sample: below the name tag, row 0's blur and last tiles are the
    # (resized) blur and last frame of one and the same sample of the dataset
    tiles = {}
    for r in recs:
        with h5py.File(dataset / r["shard"]) as f:
            tiles[r["key"]] = (report._fit(f["blur"][r["index"]], 64), report._fit(f["last"][r["index"]], 64))
    blur0, last0 = sheet[20:48, 0:64], sheet[20:48, 192:256]
    hits = [k for k, (b, l) in tiles.items() if np.array_equal(b[20:48], blur0) and np.array_equal(l[20:48], last0)]
    assert len(hits) == 1


def test_preview_command_writes_png(dataset, tmp_path):
    png = tmp_path / "grid.png"
    res = CliRunner().invoke(cli, ["preview", str(dataset), "--out", str(png), "-n", "3"])
    assert res.exit_code == 0, res.output
    img = read_image(png)
    assert img.shape[1] == 4 * 200


def test_stats_counts_splits_and_skips(dataset, tmp_path):
    st = report.compute_stats(dataset)
    assert st["samples"] == 12
    assert st["by_split"] == {"train": 9, "test": 3}
    assert st["skipped"] == {"pattern skip": 1}
    # flow magnitudes are sampled from the shards themselves
    with h5py.File(sorted(dataset.glob("train-*.h5"))[0]) as f:
        m = np.linalg.norm(f["flow"][0], axis=-1)
    assert max(st["flow_magnitude"]) >= 0.5 * m.max()
    res = CliRunner().invoke(cli, ["stats", str(dataset), "--plot", str(tmp_path / "s.png"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["by_split"] == {"train": 9, "test": 3}
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_dataset_card_and_companions_keep_verify_green(dataset):
    report.write_preview(dataset, dataset / "preview.png", n=2)
    card = report.write_card(dataset).read_text()
    assert "samples: 12" in card and "h5py" in card and "![preview](preview.png)" in card
    assert "pattern skip (1)" in card
    assert verify(dataset).ok


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such output folder"):
        report.contact_sheet(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no samples"):
        report.contact_sheet(tmp_path / "empty")
    with pytest.raises(InputError, match="empty: no shards and no manifest: not a blurgen dataset"):
        report.compute_stats(tmp_path / "empty")  # not "samples: 0"


def test_a_folder_of_datasets_is_looked_at_as_one(dataset, tmp_path):
    import shutil

    for name in ("a", "b"):
        shutil.copytree(dataset, tmp_path / "all" / name)
    st = report.compute_stats(tmp_path / "all")
    assert st["samples"] == 24 and st["by_split"] == {"train": 18, "test": 6}
    assert st["skipped"] == {"pattern skip": 2}
    recs = report.read_records(tmp_path / "all")
    assert {r["shard"].split("/")[0] for r in recs} == {"a", "b"}
    sheet = report.contact_sheet(tmp_path / "all", n=4, tile_width=64)  # reads each row's shard in its folder
    assert sheet.shape[1] == 4 * 64
    res = CliRunner().invoke(cli, ["verify", str(tmp_path / "all")])
    assert res.exit_code == 0 and res.output.count("verify OK") == 2, res.output
    shard = sorted((tmp_path / "all" / "b").glob("train-*.h5"))[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    res = CliRunner().invoke(cli, ["verify", str(tmp_path / "all")])
    assert res.exit_code == 1 and f"verify OK: 4 shards, 12 samples match {tmp_path / 'all' / 'a'}" in res.output
    assert f"problem(s) in {tmp_path / 'all' / 'b'}" in res.output


def test_every_run_and_rerun_writes_its_card_and_preview(tmp_path):
    from blurgen.pipeline import rerun

    out = tmp_path / "a"
    job = build_job("pattern", {"splits": {"train": 5}, "sizes": [[24, 32]]}, None)
    run(job, out, seed=1, samples_per_shard=2, quiet=True)
    assert "samples: 5" in (out / "README.md").read_text()
    assert read_image(out / "preview.png").shape[1] == 2 * 200
    rerun(out / "manifest.json", None, tmp_path / "b", quiet=True)
    assert "samples: 5" in (tmp_path / "b" / "README.md").read_text()
    assert (tmp_path / "b" / "preview.png").is_file()
    assert verify(tmp_path / "b").ok


def test_preview_refuses_a_shard_that_links_outside_itself(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with h5py.File(tmp_path / "elsewhere.h5", "w") as f:
        f["blur"] = np.zeros((1, 8, 8, 3), np.uint8)
    with h5py.File(out / "train-00000-of-00001.h5", "w") as f:
        f["blur"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/blur")
        f["flow"] = np.zeros((1, 8, 8, 2), np.float32)
        f["key"] = np.array([b"k"])
        f["meta"] = np.array([b"{}"])
        f.attrs["schema_version"] = 1
    with pytest.raises(InputError, match="train-00000-of-00001.h5"):
        report.contact_sheet(out)
