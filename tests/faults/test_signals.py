"""SIGTERM and Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during
a dataset run: the run stops within a few seconds, leaves a manifest of what is complete,
says how to resume, and ``--resume`` then gives the uninterrupted dataset."""

from __future__ import annotations

import shutil
import signal
import time

import pytest

from .cases import CASES
from .harness import Child, Moment, fingerprint, intact_against, kill_at, leftovers, load_manifest, run

STOP_WITHIN_S = 5.0

VARIANTS = {
    "sigterm": (signal.SIGTERM, False, 1, "SIGTERM to the main process"),
    "ctrl-c": (signal.SIGINT, True, 1, "Ctrl-C (SIGINT to the process group)"),
    "ctrl-c-2-workers": (signal.SIGINT, True, 2, "Ctrl-C (SIGINT to the process group), 2 loky workers"),
    "sigterm-2-workers": (signal.SIGTERM, False, 2, "SIGTERM to the main process, 2 loky workers"),
}


# (case, variant) pairs in the default run; the others are marked slow
DEFAULT = {("pattern", "sigterm"), ("pattern", "ctrl-c-2-workers"), ("synth-monkaa", "sigterm"),
           ("real-gopro", "ctrl-c")}


def _params():
    out = []
    slow = pytest.mark.slow(reason="every command x signal x worker count takes minutes on 2 cores")
    for name in CASES:
        for v in VARIANTS:
            out.append(pytest.param(name, v, id=f"{name}-{v}", marks=() if (name, v) in DEFAULT else slow))
    return out


@pytest.mark.parametrize("case_name,variant", _params())
def test_interrupt_stops_and_resumes(case_name, variant, tmp_path, reference, reliability):
    case = CASES[case_name]
    sig, group, workers, what = VARIANTS[variant]
    ref = reference(case)
    row = reliability.row("signal", what + " after the first shard", case.label)
    out = tmp_path / "out"
    argv = case.argv(out, ref["sample"], "--workers", str(workers))

    child, rep = _interrupt(argv, out, tmp_path, ref, sig, group)
    assert rep.killed, "the run ended before the signal"
    assert rep.shards_at_kill < ref["shards"], "every shard was written before the signal"
    t_sig = time.monotonic()
    res = child.wait(60)
    stop_s = time.monotonic() - t_sig

    man = load_manifest(out)
    row.did = f"exit {res.rc} {stop_s:.1f} s after the signal; says: {res.error_line()[:200]}"
    assert stop_s <= STOP_WITHIN_S, str(res)
    assert res.rc != 0, str(res)
    assert not res.has_traceback(), str(res)
    assert "--resume" in res.err, str(res)
    assert man is not None and man["status"] == "partial", str(res)
    assert intact_against(out, ref["print"]) == []
    assert leftovers(out) == [], "an interrupted run should remove its temporary files and lock"
    done = len(man["shards"])

    res2 = run([*argv, "--resume"], timeout=600)
    assert res2.rc == 0, str(res2)
    assert fingerprint(out) == ref["print"]
    row.did += f"; manifest lists {done}/{ref['shards']} shards; --resume finished the run"
    row.lost = "nothing: completed shards intact, the resumed dataset equals the uninterrupted run"


def _interrupt(argv, out, tmp_path, ref, sig, group):
    """Start the run and signal it after its first shard, half a shard's time later; when
    every shard was written by then (samples that arrive together, as a video's stream
    groups with two workers do), run it again and signal it as soon as the first shard is
    there. ``(child, kill report)`` of the last try."""
    for i, delay in enumerate((ref["shard_seconds"] / 2, 0.0)):
        child = Child(argv, tmp_path / f"run{i}")
        rep = kill_at(child, out, Moment(1, delay), sig, group=group)
        if not rep.killed or rep.shards_at_kill < ref["shards"] or i == 1:
            return child, rep
        child.wait(60)
        shutil.rmtree(out)
