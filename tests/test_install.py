"""What a new user meets first, tested the way they meet it.

- A built wheel, installed outside the checkout, runs the dataset commands with the recipes,
  split lists and zoo registry it carries (nothing read from the source tree).
- A fresh ``git clone`` holds nothing that stops the README's first command
  (``python3 -m venv .venv`` then ``pip install -e .``), points nowhere outside itself, and
  is left as it was found.

Both reuse the dependencies of the running interpreter (no network): the wheel goes into
a target folder with ``--no-deps``, the clone's venv sees them through a ``.pth`` file.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What the wheel is built from: the package and the files pyproject.toml names.
BUILD_INPUTS = ("blurgen", "pyproject.toml", "README.md", "LICENSE")


def _run(argv: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, argv))} -> {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def _outside_env(home: Path, **extra: str) -> dict:
    """An environment with no trace of the developer's: a fresh HOME, no zoo override."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLURGEN_", "PYTHON"))}
    env.update(HOME=str(home), **extra)
    return env


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory) -> tuple[Path, dict]:
    """(folder the wheel is installed into, env to run it), built from a copy of the sources."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        p = REPO / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "weights"))
        else:
            shutil.copy(p, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", base / "dist", src], cwd=base)
    (wheel,) = (base / "dist").glob("blurgen-*.whl")
    target = base / "site"
    _run([*pip, "install", "--no-deps", "--no-compile", "--target", target, wheel], cwd=base)
    home = base / "home"
    home.mkdir()
    env = _outside_env(home, PYTHONPATH=str(target), PATH=f"{target / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return target, env


def test_wheel_runs_the_dataset_commands_outside_the_checkout(wheel_install, tmp_path):
    target, env = wheel_install
    work = tmp_path / "elsewhere"
    work.mkdir()
    blurgen = target / "bin" / "blurgen"

    where = _run([sys.executable, "-c", "import blurgen; print(blurgen.__file__)"], work, env).stdout.strip()
    assert Path(where).is_relative_to(target), f"imported {where}, not the installed wheel"

    listing = _run([blurgen, "zoo", "list"], work, env).stdout
    for name in ("pwcnet-things", "flownet2-things", "superslomo-adobe240"):
        assert name in listing, listing
    assert f"zoo: {Path(env['HOME']) / '.cache' / 'blurgen' / 'model_zoo'}" in listing, listing

    _run([blurgen, "sample", "s", "--only", "monkaa,gopro", "--quiet"], work, env)
    _run([blurgen, "synth-monkaa", "--root", "s/monkaa", "--out", "m", "--limit", "2", "--quiet"], work, env)
    _run([blurgen, "real", "--source", "gopro", "--root", "s/gopro/GOPRO_Large_all", "--out", "g",
          "--flow-model", "dis", "--limit", "2", "--quiet"], work, env)
    monkaa = json.loads((work / "m" / "manifest.json").read_text())
    gopro = json.loads((work / "g" / "manifest.json").read_text())
    # the shipped recipes were found and recorded as resolved
    assert monkaa["status"] == gopro["status"] == "complete"
    assert monkaa["recipe"]["monkaa"]["n_train"] == 10000, monkaa["recipe"]
    assert gopro["recipe"]["real"]["window"] == 7 and len(gopro["samples"]) == 2
    # the standard GoPro split list shipped too: the sample's test sequence is named in it
    assert {s["split"] for s in gopro["samples"]} <= {"train", "test"}
    _run([blurgen, "verify", "g"], work, env)


def test_wheel_carries_every_shipped_resource(wheel_install):
    target, _ = wheel_install
    shipped = {p.relative_to(REPO / "blurgen").as_posix() for p in (REPO / "blurgen" / "resources").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and "weights" not in p.parts}
    installed = {p.relative_to(target / "blurgen").as_posix() for p in (target / "blurgen" / "resources").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert shipped and shipped <= installed, sorted(shipped - installed)


def _tracked_links(repo: Path) -> list[tuple[str, str]]:
    out = subprocess.run(["git", "-C", repo, "ls-files", "-s"], capture_output=True, text=True, check=True).stdout
    links = []
    for line in out.splitlines():
        mode, _, _, path = line.split(maxsplit=3)
        if mode == "120000":
            links.append((path, os.readlink(repo / path)))
    return links


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path_factory.mktemp("clone") / "blurgen"
    _run(["git", "clone", "-q", "--no-hardlinks", REPO, clone], REPO.parent)
    return clone


def test_clone_holds_no_link_out_of_itself(fresh_clone):
    for path, target in _tracked_links(fresh_clone):
        resolved = (fresh_clone / path).resolve()
        assert resolved.is_relative_to(fresh_clone.resolve()), f"{path} -> {target} leaves the repository"
        assert resolved.exists(), f"{path} -> {target} dangles in a fresh clone"
    assert not (fresh_clone / ".venv").exists() and not (fresh_clone / ".venv").is_symlink()


def _dependencies_without_blurgen(folder: Path) -> Path:
    """A folder of links to this interpreter's installed packages, less blurgen itself (the
    developer's editable install must not reach the clone's environment)."""
    folder.mkdir()
    for sp in map(Path, site.getsitepackages()):
        for entry in sp.iterdir():
            low = entry.name.lower()
            if low.startswith(("blurgen", "__editable__")) or entry.suffix == ".pth" or (folder / entry.name).exists():
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


def test_readme_install_shape_works_in_a_fresh_clone(fresh_clone, tmp_path):
    """``python3 -m venv .venv && .venv/bin/pip install -e .`` (dependencies already present)."""
    env = _outside_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    _run([sys.executable, "-m", "venv", ".venv"], fresh_clone, env)
    py = fresh_clone / ".venv" / "bin" / "python"
    venv_site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], fresh_clone, env)
                     .stdout.strip())
    (venv_site / "_deps.pth").write_text(f"{_dependencies_without_blurgen(tmp_path / 'deps')}\n")
    # the venv's own setuptools (Python 3.11's ensurepip bundles an old one) would shadow the
    # one the build needs; pip's build isolation would fetch a new one from PyPI instead
    _run([py, "-m", "pip", "--disable-pip-version-check", "-q", "uninstall", "-y", "setuptools"], fresh_clone, env)
    _run([py, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps", "--no-build-isolation",
          "-e", "."], fresh_clone, env)
    where = _run([fresh_clone / ".venv" / "bin" / "python", "-c", "import blurgen; print(blurgen.__file__)"],
                 tmp_path, env).stdout.strip()
    assert Path(where).resolve().is_relative_to(fresh_clone.resolve()), where
    version = _run([fresh_clone / ".venv" / "bin" / "blurgen", "--version"], tmp_path, env).stdout
    assert "blurgen" in version
    listing = _run([fresh_clone / ".venv" / "bin" / "blurgen", "zoo", "list"], tmp_path, env).stdout
    assert f"zoo: {fresh_clone / 'model_zoo'}" in listing and "pwcnet-things" in listing, listing
    status = subprocess.run(["git", "-C", fresh_clone, "status", "--porcelain"], capture_output=True, text=True,
                            check=True).stdout
    assert status == "", f"installing changed the clone:\n{status}"
