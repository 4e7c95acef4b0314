"""SIGKILL at seeded moments during a dataset run, then ``--resume``.

Each moment is "k shards complete + a random delay" or "while a shard's temporary file
exists", spread over the run. After the kill the shards the manifest lists must be whole;
after ``--resume`` the dataset must equal the uninterrupted run (shard bytes, sample
digests, skips), ``blurgen verify`` must pass and no temporary file or lock may remain.
"""

from __future__ import annotations

import signal
import zlib

import pytest

from .cases import CASES
from .harness import intact_against, kill_at, leftovers, load_manifest, fingerprint, moments, run, run_cli, start_for

N_MOMENTS = 10
SLOW = pytest.mark.slow(reason="the full set of 10 kill moments per command takes minutes on 2 cores")


def _params():
    out = []
    for name in CASES:
        for i in range(N_MOMENTS):
            out.append(pytest.param(name, i, id=f"{name}-{i}", marks=() if i in CASES[name].default_moments else SLOW))
    return out


@pytest.mark.parametrize("case_name,i", _params())
def test_sigkill_then_resume(case_name, i, tmp_path, reference, reliability):
    case = CASES[case_name]
    ref = reference(case)
    seed = zlib.crc32(case.name.encode())
    m = moments(seed, N_MOMENTS, ref["shards"], ref["shard_seconds"])[i]
    row = reliability.row("kill", f"SIGKILL to the process group {m.describe()}", case.label)
    out = tmp_path / "out"
    workers = ["--workers", "2"] if i == 6 else []
    argv = case.argv(out, ref["sample"], *workers)

    child = start_for(argv, m, tmp_path / "killed")
    rep = kill_at(child, out, m, signal.SIGKILL, group=True)
    child.wait(60)
    assert rep.killed, f"the run ended before moment {m} ({rep.shards_at_kill} shards); moments need a longer run"

    # What a kill leaves: every shard the manifest lists is whole and equal to the reference.
    assert intact_against(out, ref["print"]) == []
    listed = len((load_manifest(out) or {"shards": []})["shards"])
    listed_samples = len((load_manifest(out) or {"samples": []})["samples"])

    res = run([*argv, "--resume"], timeout=600)
    assert res.rc == 0, str(res)
    assert fingerprint(out) == ref["print"]
    assert leftovers(out) == []
    made = load_manifest(out)["timings"]["runs"][-1]["samples"]
    assert made <= ref["samples"] - listed_samples, "resume made again samples of shards that were complete"
    ver = run_cli("verify", out)
    assert ver.rc == 0, str(ver)

    row.did = (
        f"killed with {rep.shards_at_kill}/{ref['shards']} shards on disk, {listed} in the manifest"
        + (f", temporary {', '.join(rep.temps_at_kill)} present" if rep.temps_at_kill else "")
        + f"; --resume made the other {made} samples and exited 0"
    )
    row.lost = "nothing: shard bytes, sample digests and skips equal the uninterrupted run; verify OK; no temporary files or lock left"


@pytest.mark.parametrize("case_name", [pytest.param(n, marks=() if n == "pattern" else SLOW) for n in CASES])
def test_kill_during_resume_chain(case_name, tmp_path, reference, reliability):
    """Kill, resume, kill the resume, ... four times, then let it finish."""
    case = CASES[case_name]
    ref = reference(case)
    seed = zlib.crc32(case.name.encode()) + 1
    out = tmp_path / "out"
    argv = case.argv(out, ref["sample"])
    row = reliability.row("kill", "SIGKILL four times in a row, each during the --resume of the last", case.label)
    at = []
    for j, m in enumerate(moments(seed, 4, ref["shards"], ref["shard_seconds"])):
        child = start_for(argv + (["--resume"] if j else []), m, tmp_path / f"k{j}")
        rep = kill_at(child, out, m, signal.SIGKILL, group=True)
        child.wait(60)
        assert intact_against(out, ref["print"]) == []
        at.append(f"{rep.shards_at_kill}" + ("*" if rep.killed else ""))
    res = run([*argv, "--resume"], timeout=600)
    assert res.rc == 0, str(res)
    assert fingerprint(out) == ref["print"]
    assert leftovers(out) == []
    assert run_cli("verify", out).rc == 0
    row.did = f"killed at {', '.join(at)} shards on disk (* = still running when killed); the last --resume exited 0"
    row.lost = "nothing: final dataset equals the uninterrupted run; verify OK"
