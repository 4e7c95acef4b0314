"""A full disk during a run, and an output folder blurgen may not write.

The full disk is a small private tmpfs (a mount namespace made with ``unshare``; it goes
away with the command). Read-only and missing permissions use a read-only tmpfs, a root
process without the capabilities that let root ignore file modes, and a path under a
regular file. Expect: a one-line message naming the path and the reason, no traceback,
the completed shards intact, and for the permission cases, an answer before any sample
is made.
"""

from __future__ import annotations

import stat

import pytest

from .cases import CASES, PATTERN
from .harness import (
    cli_env,
    drop_dac_prefix,
    fingerprint,
    intact_against,
    leftovers,
    load_manifest,
    mount_prefix,
    run,
    shard_files,
    tmpfs_unavailable,
)


@pytest.mark.parametrize("case_name", [
    pytest.param(n, marks=() if n in ("pattern", "synth-monkaa") else pytest.mark.slow(reason="one full-disk run per command"))
    for n in CASES
])
def test_full_disk_keeps_completed_shards(case_name, tmp_path, reference, reliability, scratch):
    why = tmpfs_unavailable(scratch)
    if why:
        pytest.skip(f"no small file system to fill: {why}")
    case = CASES[case_name]
    ref = reference(case)
    total = sum(p.stat().st_size for p in shard_files(ref["out"]))
    size_k = max(16, int(total * 0.45) // 1024)
    row = reliability.row("disk", f"disk full ({size_k} KiB tmpfs, {100 * size_k * 1024 // total}% of the dataset)", case.label)
    mnt, copy = tmp_path / "mnt", tmp_path / "copy"
    mnt.mkdir()
    copy.mkdir()
    prefix, env = mount_prefix(mnt, f"size={size_k}k", copy_to=copy)
    res = run([*prefix, *case.argv(mnt / "out", ref["sample"])], env=cli_env(env), timeout=600)
    out = copy / "out"
    row.did = f"exit {res.rc}: {res.error_line()[:220]}"
    assert res.rc == 1, str(res)
    assert not res.has_traceback(), str(res)
    line = res.error_line()
    assert "No space left on device" in line and str(mnt / "out") in line, str(res)
    assert "--resume" in line, str(res)
    man = load_manifest(out)
    assert man is not None and man["status"] == "partial"
    assert 0 < len(man["shards"]) < ref["shards"], "the tmpfs size should let some shards fit"
    assert intact_against(out, ref["print"]) == []
    assert leftovers(out) == [], "a failed write must not leave temporary files or the lock"
    assert {p.name for p in shard_files(out)} == {s["name"] for s in man["shards"]}

    # with room again, --resume finishes the same dataset
    res2 = run([*case.argv(out, ref["sample"]), "--resume"], timeout=600)
    assert res2.rc == 0, str(res2)
    assert fingerprint(out) == ref["print"]
    row.lost = (
        f"nothing: the {len(man['shards'])} completed shards were intact and listed in the manifest; "
        "no temporary file left; --resume with room finished the same dataset"
    )


# -- outputs blurgen may not write ------------------------------------------------------------
def _slow_pattern(out) -> list[str]:
    # each sample takes 5 s: an answer within that time comes before any sample is made
    argv = PATTERN.argv(out)
    i = argv.index("--delay")
    argv[i + 1] = "5"
    return argv


def _check_refused(res, path, row):
    row.did = f"exit {res.rc} after {res.seconds:.1f} s: {res.error_line()[:200]}"
    assert res.rc not in (0, None), str(res)
    assert not res.has_traceback(), str(res)
    assert str(path) in res.error_line(), str(res)
    assert res.seconds < 5, f"the refusal should come before the first sample (5 s)\n{res}"


def test_read_only_mount(tmp_path, reliability, scratch):
    why = tmpfs_unavailable(scratch)
    if why:
        pytest.skip(f"cannot make a read-only file system: {why}")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    for target, what in ((mnt, "the --out folder itself"), (mnt / "out", "a new folder inside it")):
        row = reliability.row("permissions", f"--out on a read-only file system ({what})", PATTERN.label)
        prefix, env = mount_prefix(mnt, "size=64k,ro")
        res = run([*prefix, *_slow_pattern(target)], env=cli_env(env), timeout=120)
        _check_refused(res, target, row)
        assert "Read-only file system" in res.error_line(), str(res)
        row.lost = "nothing (no work started)"


def test_folder_without_write_permission(tmp_path, reliability):
    prefix = drop_dac_prefix()
    if prefix is None:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE (setpriv missing), so chmod cannot deny writes")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        for target, what in ((locked, "the --out folder, mode 0555"), (locked / "out", "a new folder inside a 0555 folder")):
            row = reliability.row("permissions", f"no write permission: {what}", PATTERN.label)
            res = run([*prefix, *_slow_pattern(target)], timeout=120)
            _check_refused(res, target, row)
            assert "Permission denied" in res.error_line(), str(res)
            row.lost = "nothing (no work started)"
    finally:
        locked.chmod(0o755)


def test_out_under_a_regular_file(tmp_path, reliability):
    f = tmp_path / "plain-file"
    f.write_text("not a folder")
    target = f / "out"
    row = reliability.row("permissions", "--out is a path under a regular file", PATTERN.label)
    res = run(_slow_pattern(target), timeout=120)
    _check_refused(res, target, row)
    row.lost = "nothing (no work started)"
    assert f.read_text() == "not a folder"


def test_out_is_a_regular_file(tmp_path, reliability):
    f = tmp_path / "plain-file"
    f.write_text("not a folder")
    row = reliability.row("permissions", "--out is an existing regular file", PATTERN.label)
    res = run(_slow_pattern(f), timeout=120)
    _check_refused(res, f, row)
    row.lost = "nothing: the file is unchanged"
    assert f.read_text() == "not a folder"
