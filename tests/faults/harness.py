"""Helpers of the fault-injection suite: run the real CLI in subprocesses, kill it at
chosen moments, fingerprint a dataset folder, and confine a run to a small or read-only
file system.

Everything here runs blurgen the way a user does: ``python -m blurgen ...`` in a child
process (its own session, so a signal can reach the whole process group as Ctrl-C does).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared_data import REALDATA  # noqa: F401  (defined once for the tests, in tests/shared_data.py)

REPO = Path(__file__).resolve().parents[2]
SHARD_RE = re.compile(r"^[A-Za-z0-9_.+=-]+-\d{5,}-of-\d{5,}\.h5$")
TEMP_MARKERS = (".tmp-", ".new-", ".stale-")
LOCK_NAME = ".blurgen.lock"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a CLI child: the checkout first on the path, one thread per library,
    a private model zoo, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("BLURGEN_WRITE_RELIABILITY", None)
    env.update(extra or {})
    return env


def blurgen_argv(args) -> list[str]:
    return [sys.executable, "-m", "blurgen", *map(str, args)]


@dataclass
class Result:
    """A finished CLI child: exit status, output, wall seconds."""

    argv: list[str]
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out + self.err

    def error_line(self) -> str:
        """The last line of stderr that starts with 'Error' (the CLI's one-line message),
        else the last non-empty stderr line."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        errs = [ln for ln in lines if ln.startswith("Error")]
        return (errs or lines or [""])[-1]

    def has_traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.err

    def __str__(self) -> str:  # what an assertion shows
        return f"$ {' '.join(self.argv)}\nrc={self.rc} ({self.seconds:.1f} s)\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


def run(argv: list[str], *, timeout: float = 300, env: dict | None = None, cwd: Path | None = None) -> Result:
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or cli_env(), cwd=cwd)
    return Result(list(map(str, argv)), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def run_cli(*args, timeout: float = 300, env: dict | None = None, prefix: list[str] | None = None) -> Result:
    """``python -m blurgen ARGS`` to completion; ``prefix`` wraps the command (unshare, setpriv)."""
    return run([*(prefix or []), *blurgen_argv(args)], timeout=timeout, env=env)


class Child:
    """A CLI child started in its own session; output goes to files (no pipe can fill up)."""

    def __init__(self, argv: list[str], log_dir: Path, env: dict | None = None):
        log_dir.mkdir(parents=True, exist_ok=True)
        self.argv = list(map(str, argv))
        self._out = open(log_dir / "stdout.txt", "w+")
        self._err = open(log_dir / "stderr.txt", "w+")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, stdout=self._out, stderr=self._err, env=env or cli_env(), start_new_session=True
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int, group: bool = False) -> None:
        try:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = 300) -> Result:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self.reap_group()
        self._out.seek(0)
        self._err.seek(0)
        res = Result(self.argv, self.proc.returncode, self._out.read(), self._err.read(), time.monotonic() - self.t0)
        self._out.close()
        self._err.close()
        return res

    def reap_group(self) -> None:
        """SIGKILL whatever is left of the child's process group (orphaned workers)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=30)


def start_cli(*args, log_dir: Path, env: dict | None = None, prefix: list[str] | None = None) -> Child:
    return Child([*(prefix or []), *blurgen_argv(args)], log_dir, env)


def wait_until(pred, timeout: float, interval: float = 0.01) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


# -- the state of an output folder ---------------------------------------------------------
def shard_files(out: Path) -> list[Path]:
    """Complete shards (final names) in ``out``."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if SHARD_RE.match(p.name))


def leftovers(out: Path) -> list[str]:
    """Temporary files, the run lock and anything hidden under ``out``."""
    if not out.is_dir():
        return []
    found = []
    for dirpath, _, files in os.walk(out):
        for fn in files:
            if fn == LOCK_NAME or fn.startswith(".") or any(m in fn for m in TEMP_MARKERS):
                found.append(os.path.relpath(os.path.join(dirpath, fn), out))
    return sorted(found)


def temp_files(out: Path) -> list[str]:
    return [f for f in leftovers(out) if any(m in f for m in TEMP_MARKERS)]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(out: Path) -> dict | None:
    p = out / "manifest.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def fingerprint(out: Path) -> dict:
    """What must be equal between two runs: the bytes of every shard on disk (sha256
    recomputed here), every sample's place and content digest and every skip the manifest
    records, and the manifest's status."""
    man = load_manifest(out) or {}
    return {
        "files": {p.name: sha256(p) for p in shard_files(out)},
        "status": man.get("status"),
        "shards": sorted((s["name"], s["samples"], s["sha256"]) for s in man.get("shards", [])),
        "samples": sorted((s["key"], s["shard"], s["index"], s["digest"]) for s in man.get("samples", [])),
        "skipped": sorted(json.dumps({k: v for k, v in s.items() if k != "shard"}, sort_keys=True) for s in man.get("skipped", [])),
    }


def intact_against(out: Path, reference: dict) -> list[str]:
    """Problems with the shards a (partial) manifest in ``out`` lists: each must exist with
    the sha256 the manifest records, equal to the reference run's shard of the same name.
    Returns [] when every completed shard is intact."""
    man = load_manifest(out)
    if man is None:
        return []
    ref = dict((n, h) for n, _, h in reference["shards"])
    problems = []
    for s in man["shards"]:
        p = out / s["name"]
        if not p.is_file():
            problems.append(f"{s['name']} listed but missing")
        elif sha256(p) != s["sha256"]:
            problems.append(f"{s['name']} differs from its manifest entry")
        elif ref.get(s["name"]) != s["sha256"]:
            problems.append(f"{s['name']} differs from the uninterrupted run")
    return problems


# -- kill moments --------------------------------------------------------------------------
@dataclass
class Moment:
    """When to kill: once ``shards`` complete shards exist (or, with ``mid_write``, while a
    shard's temporary file exists after that many), then ``delay`` seconds later."""

    shards: int
    delay: float
    mid_write: bool = False

    def describe(self) -> str:
        if self.mid_write:
            return f"while a temporary file exists, after {self.shards} shard(s)"
        return f"{self.shards} shard(s) done + {self.delay:.2f} s"


def moments(seed: int, n: int, n_shards: int, shard_seconds: float) -> list[Moment]:
    """``n`` seeded kill moments spread over a run of ``n_shards`` shards that take about
    ``shard_seconds`` each: the shard count is spread evenly over [0, n_shards - 2], the delay
    is random in [0, shard_seconds), and every fourth moment waits for a temporary file."""
    rng = random.Random(seed)
    top = max(0, n_shards - 2)
    out = []
    for i in range(n):
        k = round(i * top / max(1, n - 1)) if n > 1 else rng.randint(0, top)
        mid = i % 4 == 3
        out.append(Moment(k, 0.0 if mid else rng.uniform(0, shard_seconds), mid))
    return out


@dataclass
class KillReport:
    moment: Moment
    killed: bool          # the child was still running when the signal went out
    shards_at_kill: int
    temps_at_kill: list[str] = field(default_factory=list)
    seconds: float = 0.0


# A shard's temporary file lives a few milliseconds (its chunks are compressed ahead), too
# short for a poll to find it reliably. For a moment ``mid_write`` the child runs with
# blurgen.utils.atomic_path wrapped to wait between the temporary shard's last byte and its
# rename: the state a kill in the middle of a write leaves, held long enough to kill in.
_PAUSE_BOOT = """
import contextlib, runpy, sys, time
import blurgen.utils as u
module, pause = sys.argv.pop(1), float(sys.argv.pop(1))
_atomic = u.atomic_path
@contextlib.contextmanager
def atomic_path(path, *a, **k):
    with _atomic(path, *a, **k) as tmp:
        yield tmp
        if str(path).endswith(".h5"):
            time.sleep(pause)
u.atomic_path = atomic_path
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def start_for(argv: list, m: Moment, log_dir: Path, pause: float = 0.5) -> Child:
    """Start ``argv`` (``python -m MODULE ...``) for a kill at ``m``: with the pause before
    each shard's rename when ``m.mid_write`` (see ``_PAUSE_BOOT``)."""
    argv = list(map(str, argv))
    if m.mid_write:
        assert argv[1] == "-m", argv
        argv = [argv[0], "-c", _PAUSE_BOOT, argv[2], str(pause), *argv[3:]]
    return Child(argv, log_dir)


def kill_at(child: Child, out: Path, m: Moment, sig: int = signal.SIGKILL, group: bool = True,
            timeout: float = 120) -> KillReport:
    """Wait for moment ``m`` of ``child``'s run into ``out``, then send ``sig``."""
    if m.mid_write:
        wait_until(lambda: not child.alive or (len(shard_files(out)) >= m.shards and temp_files(out)), timeout, 0.002)
    else:
        wait_until(lambda: not child.alive or len(shard_files(out)) >= m.shards, timeout)
        end = time.monotonic() + m.delay
        while child.alive and time.monotonic() < end:
            time.sleep(0.005)
    alive = child.alive
    n, temps = len(shard_files(out)), temp_files(out)
    child.signal(sig, group=group)
    return KillReport(m, alive, n, temps, time.monotonic() - child.t0)


# -- confined file systems ------------------------------------------------------------------
_MOUNT_SCRIPT = r"""
set -u
mount -t tmpfs -o "$BG_MOUNT_OPTS" tmpfs "$BG_MNT" || exit 97
if [ -n "${BG_SEED:-}" ]; then cp -a "$BG_SEED/." "$BG_MNT/" || exit 98; fi
if [ -n "${BG_REMOUNT:-}" ]; then mount -o "remount,$BG_REMOUNT" "$BG_MNT" || exit 96; fi
"$@"
rc=$?
if [ -n "${BG_COPY:-}" ]; then cp -a "$BG_MNT/." "$BG_COPY/"; fi
exit $rc
"""


def mount_prefix(mnt: Path, opts: str, copy_to: Path | None = None, seed_from: Path | None = None,
                 remount: str | None = None) -> tuple[list[str], dict[str, str]]:
    """A command prefix that runs the command in a private mount namespace with a tmpfs
    (mount options ``opts``, e.g. ``size=300k`` or ``ro``) at ``mnt``; the mount vanishes
    with the command. ``seed_from``: files copied in first; ``remount``: options applied
    after seeding (e.g. ``ro``); ``copy_to``: where the tmpfs contents are copied when the
    command ends (to inspect them). Returns (prefix, extra environment)."""
    env = {"BG_MNT": str(mnt), "BG_MOUNT_OPTS": opts}
    if copy_to is not None:
        env["BG_COPY"] = str(copy_to)
    if seed_from is not None:
        env["BG_SEED"] = str(seed_from)
    if remount:
        env["BG_REMOUNT"] = remount
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNT_SCRIPT, "sh"], env


_CAN_MOUNT: dict[str, str | None] = {}


def tmpfs_unavailable(scratch: Path) -> str | None:
    """None when a private tmpfs can be mounted here, else the reason why not."""
    if "r" not in _CAN_MOUNT:
        if not shutil.which("unshare"):
            _CAN_MOUNT["r"] = "the unshare tool is not installed"
        else:
            d = scratch / "mount-probe"
            d.mkdir(parents=True, exist_ok=True)
            prefix, env = mount_prefix(d, "size=64k")
            try:
                r = run([*prefix, "true"], env=cli_env(env), timeout=30)
                _CAN_MOUNT["r"] = None if r.rc == 0 else f"cannot mount a private tmpfs (rc {r.rc}: {r.err.strip()[:120]})"
            except (OSError, subprocess.SubprocessError) as e:
                _CAN_MOUNT["r"] = f"cannot mount a private tmpfs ({e})"
    return _CAN_MOUNT["r"]


def drop_dac_prefix() -> list[str] | None:
    """A prefix that runs a command as root without the capabilities that let root ignore
    file permissions (so chmod 0555 really denies writing), or None when not possible."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        return None
    caps = "-dac_override,-dac_read_search,-fowner"
    prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    try:
        r = run([*prefix, sys.executable, "-c", "pass"], timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if r.rc == 0 else None
