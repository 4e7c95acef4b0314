"""The checkpoint zoo: a registry of weights the pipeline can use, found by name.

The registry ships inside the package (``blurgen/resources/model_zoo/registry.toml``,
shown at the repository's top level as ``model_zoo/registry.toml``). The zoo folder holds
the files in ``weights/``: ``$BLURGEN_ZOO`` (a shared cluster folder, say), else the
checkout's ``model_zoo/`` when blurgen runs from a source checkout, else
``~/.cache/blurgen/model_zoo``. A ``registry.toml`` in the zoo folder replaces the shipped
one. Files added with ``blurgen zoo add`` under a name the registry does not know are
recorded in ``weights/local.toml``.

Nothing the pipeline runs downloads anything. Only ``fetch`` (``blurgen zoo fetch NAME``,
asked for by the user) downloads an entry's ``url``. Where the registry holds only the
torch.hub-style prefix of a file's sha256, the first accepted file's full sha256 is pinned in
``weights/local.toml`` (trust on first use) and every later check compares the full digest.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path

from blurgen.download import download
from blurgen.errors import ConfigError, InputError
from blurgen.resources import resource
from blurgen.utils import atomic_path, atomic_write_text, file_sha256

KINDS = ("ptlflow", "superslomo", "b2fnet", "other")


@dataclass
class ZooEntry:
    """One checkpoint the pipeline knows by name."""

    name: str
    kind: str
    file: str
    model: str = ""
    ptlflow_ckpt: str = ""
    sha256: str = ""
    sha256_prefix: str = ""
    source: str = ""
    url: str = ""  # a direct download address for `blurgen zoo fetch`; empty: get it by hand
    licence: str = ""
    used_by: str = ""
    notes: str = ""
    local: bool = False  # registered by the user, not in the committed registry
    pinned: bool = False  # sha256 pinned on first use in weights/local.toml (registry: prefix only)
    extra: dict = field(default_factory=dict)


def zoo_dir() -> Path:
    """The zoo folder: ``$BLURGEN_ZOO``, else the checkout's ``model_zoo/``, else ~/.cache.

    A source checkout is recognised by its ``pyproject.toml`` beside the package; an
    installed wheel has none, and its package folder is never written to.
    """
    env = os.environ.get("BLURGEN_ZOO")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "model_zoo").is_dir():
        return checkout / "model_zoo"
    return Path.home() / ".cache" / "blurgen" / "model_zoo"


def weights_dir(root: Path | None = None) -> Path:
    return (root or zoo_dir()) / "weights"


def _registry_file(root: Path) -> Path | Traversable:
    """The zoo folder's own ``registry.toml`` if it has one, else the shipped registry."""
    own = root / "registry.toml"
    if own.is_file():
        return own
    return resource("model_zoo", "registry.toml")


def _read_toml(path: Path | Traversable) -> list[dict]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, f"not valid TOML: {e}", "fix or delete the file") from None
    rows = data.get("checkpoint", [])
    if not isinstance(rows, list):
        raise InputError(path, "expected [[checkpoint]] tables")
    return rows


def _entry(row: dict, path: Path, local: bool) -> ZooEntry:
    known = set(ZooEntry.__dataclass_fields__) - {"local", "pinned", "extra"}
    missing = [k for k in ("name", "kind", "file") if not row.get(k)]
    if missing:
        raise InputError(path, f"checkpoint entry {row.get('name', '?')!r} lacks {', '.join(missing)}")
    if "/" in row["file"] or "\\" in row["file"] or row["file"] in (".", ".."):
        raise InputError(path, f"checkpoint {row['name']!r}: file must be a plain file name, got {row['file']!r}")
    return ZooEntry(**{k: v for k, v in row.items() if k in known}, local=local,
                    extra={k: v for k, v in row.items() if k not in known})


def load_registry(root: Path | None = None) -> dict[str, ZooEntry]:
    """Name -> entry, the committed registry first, then the user's local registrations."""
    root = root or zoo_dir()
    out: dict[str, ZooEntry] = {}
    reg = _registry_file(root)
    for row in _read_toml(reg):
        e = _entry(row, reg, local=False)
        out[e.name] = e
    local = weights_dir(root) / "local.toml"
    for row in _read_toml(local):
        e = _entry(row, local, local=True)
        if e.name not in out:
            out[e.name] = e
        else:
            _apply_pin(out[e.name], e, local)
    return out


def _apply_pin(base: ZooEntry, pin: ZooEntry, path: Path) -> None:
    """A local row under a registry name pins the full sha256 of a prefix-only entry.

    Ignored once the registry holds a full digest or names another file; refused when it
    contradicts the registry's prefix.
    """
    if base.sha256 or not pin.sha256 or pin.file != base.file:
        return
    if base.sha256_prefix and not pin.sha256.lower().startswith(base.sha256_prefix.lower()):
        raise InputError(path, f"the sha256 pinned for {base.name!r} does not start with the registry's "
                         f"prefix {base.sha256_prefix}", f"delete its entry from {path.name} and fetch it again")
    base.sha256 = pin.sha256.lower()
    base.pinned = True


def check_digest(entry: ZooEntry, path: Path, digest: str | None = None) -> str | None:
    """None when ``path`` matches the entry's sha256 prefix and full sha256, else the reason."""
    digest = digest or file_sha256(path)
    if entry.sha256_prefix and not digest.startswith(entry.sha256_prefix.lower()):
        return f"sha256 {digest} does not start with the registry's prefix {entry.sha256_prefix.lower()}"
    if entry.sha256 and digest != entry.sha256.lower():
        whose = "the one pinned on first use in weights/local.toml" if entry.pinned else "the registry's"
        return f"sha256 {digest} differs from {whose} {entry.sha256.lower()}"
    return None


@dataclass
class ZooStatus:
    entry: ZooEntry
    path: Path
    present: bool
    problem: str | None = None  # digest mismatch etc.


def status(root: Path | None = None, check: bool = True) -> list[ZooStatus]:
    """Every registry entry with whether its file is present (and intact, if ``check``)."""
    root = root or zoo_dir()
    rows = []
    for e in load_registry(root).values():
        p = weights_dir(root) / e.file
        present = p.is_file()
        problem = check_digest(e, p) if (present and check) else None
        rows.append(ZooStatus(e, p, present, problem))
    return rows


def _get(name: str, root: Path) -> ZooEntry:
    reg = load_registry(root)
    if name not in reg:
        raise ConfigError(f"no checkpoint named {name!r} in the model zoo ({_registry_file(root)}); "
                          f"known: {', '.join(sorted(reg)) or 'none'}")
    return reg[name]


def find(name: str, root: Path | None = None, verify: bool = True) -> Path:
    """The path of the checkpoint registered as ``name``; a clear error if absent or altered."""
    root = root or zoo_dir()
    e = _get(name, root)
    p = weights_dir(root) / e.file
    if not p.is_file():
        fetch = f"run `blurgen zoo fetch {name}`, or " if e.url else ""
        raise InputError(p, f"checkpoint {name!r} is not in the model zoo",
                         f"{fetch}get {e.file} from {e.url or e.source or 'its source'}, then run "
                         f"`blurgen zoo add FILE --name {name}`")
    if verify:
        problem = check_digest(e, p)
        if problem:
            raise InputError(p, problem, f"replace it with the file from {e.source or 'its source'}")
    return p


def entry_for_file(file_name: str, root: Path | None = None) -> ZooEntry | None:
    """The entry whose weights file is called ``file_name`` (with any pinned sha256), or None."""
    for e in load_registry(root).values():
        if e.file == file_name:
            return e
    return None


def _check_loadable(path: Path, kind: str) -> None:
    """Refuse files that torch cannot read safely (weights_only) for the kinds that need it."""
    if kind == "superslomo":
        return  # the public format needs an explicit trust flag at load time; see docs
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means: not a safe checkpoint
        raise InputError(path, f"not a checkpoint torch can load with weights_only=True ({type(e).__name__})",
                         "only add files from a trusted source, in a safe format") from None
    if kind == "ptlflow" and not (isinstance(obj, dict) and "state_dict" in obj):
        raise InputError(path, "not a ptlflow checkpoint (a dict with 'state_dict' expected)")


def add(file: Path, name: str, kind: str | None = None, root: Path | None = None,
        link: bool = False, source: str = "", licence: str = "") -> tuple[ZooEntry, Path]:
    """Check ``file`` and put it into the zoo under ``name``; returns the entry and its path.

    A registry name: the file must match the registry's digest, and ``kind`` must agree.
    A new name: ``kind`` is required and the entry is recorded in ``weights/local.toml``.
    """
    root = root or zoo_dir()
    file = Path(file)
    if not file.is_file():
        raise InputError(file, "no such file")
    reg = load_registry(root)
    digest = file_sha256(file)
    if name in reg and not reg[name].local:
        e = reg[name]
        if kind and kind != e.kind:
            raise ConfigError(f"{name!r} is a {e.kind} checkpoint in the registry, not {kind}")
        problem = check_digest(e, file, digest)
        if problem:
            raise InputError(file, f"does not match the registry entry {name!r}: {problem}",
                             f"get the file from {e.source or 'its source'}")
    else:
        if kind is None:
            raise ConfigError(f"{name!r} is not in the registry: give --kind ({', '.join(KINDS)})")
        if kind not in KINDS:
            raise ConfigError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        suffix = file.suffix or ".ckpt"
        e = ZooEntry(name=name, kind=kind, file=f"{name}{suffix}", sha256=digest,
                     source=source or f"added from {file.name}", licence=licence, local=True)
    _check_loadable(file, e.kind)
    wdir = weights_dir(root)
    wdir.mkdir(parents=True, exist_ok=True)
    dest = wdir / e.file
    if link:
        if dest.exists() or dest.is_symlink():
            dest.unlink()
        os.symlink(file.resolve(), dest)
    else:
        with atomic_path(dest) as tmp:
            shutil.copyfile(file, tmp)
    if e.local:
        _write_local(wdir / "local.toml", e)
    elif not e.sha256:  # the registry knows only a prefix: trust on first use
        pin(e, digest, f"pinned when added from {file.name}", root)
    return e, dest


def pin(entry: ZooEntry, digest: str, how: str, root: Path | None = None) -> None:
    """Record ``digest`` as the full sha256 of the prefix-only registry ``entry``.

    Trust on first use: the row goes to ``weights/local.toml`` under the entry's name, and
    ``load_registry`` hands it back as ``entry.sha256`` (``entry.pinned`` True), so every
    later check (``find``, ``status``, the flow estimators' checkpoint lookup) compares the
    full digest. ``how`` says where the file came from.
    """
    wdir = weights_dir(root)
    wdir.mkdir(parents=True, exist_ok=True)
    _write_local(wdir / "local.toml", ZooEntry(name=entry.name, kind=entry.kind, file=entry.file,
                                                sha256=digest, source=how, licence=entry.licence))
    entry.sha256, entry.pinned = digest, True


@dataclass
class Fetched:
    """What ``fetch`` did for one entry."""

    entry: ZooEntry
    path: Path
    sha256: str
    downloaded: bool  # False: the file was already present and intact
    pinned_now: bool  # the registry knew only a prefix; this fetch pinned the full sha256


def fetch(name: str, root: Path | None = None, *, timeout: float = 30.0, quiet: bool = False,
          force: bool = False, say=lambda line: None) -> Fetched:
    """Download the entry's ``url`` into the weights folder, checked against its digest.

    A present, intact file is kept (unless ``force``). The download resumes a ``.part`` left
    by an earlier try (``blurgen.download.download``). The file must match the registry's
    full sha256, or the one pinned earlier; where only a prefix is known it must start with
    it and its full sha256 is then pinned (``pin``). ``say`` gets progress lines.

    Raises:
        ConfigError: unknown name, or an entry without a url or any digest.
        DownloadError: the download failed or its digest does not match (file deleted).
    """
    root = root or zoo_dir()
    e = _get(name, root)
    if not e.url:
        raise ConfigError(f"{name!r} has no download address in the registry (source: {e.source or '?'}); "
                          f"get {e.file} there, then run `blurgen zoo add FILE --name {name}`")
    if not (e.sha256 or e.sha256_prefix):
        raise ConfigError(f"{name!r} has a url but no sha256 or sha256_prefix in the registry to check "
                          "the download against; add one")
    wdir = weights_dir(root)
    wdir.mkdir(parents=True, exist_ok=True)
    dest = wdir / e.file
    if dest.is_file() and not force:
        digest = file_sha256(dest)
        problem = check_digest(e, dest, digest)
        if problem is None:
            return Fetched(e, dest, digest, downloaded=False, pinned_now=False)
        say(f"{name}: {dest} is present but its {problem}; downloading it again")
    part = dest.with_name(dest.name + ".part")
    resume = f" (resuming after {part.stat().st_size} bytes)" if part.is_file() and part.stat().st_size else ""
    say(f"{name}: downloading {e.url}{resume}")
    digest = download(e.url, dest, timeout=timeout, quiet=quiet, verify=lambda d: check_digest(e, dest, d))
    pinned_now = not e.sha256
    if pinned_now:
        pin(e, digest, f"pinned on first download from {e.url}", root)
    return Fetched(e, dest, digest, downloaded=True, pinned_now=pinned_now)


def _toml_str(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_local(path: Path, e: ZooEntry) -> None:
    rows = [r for r in _read_toml(path) if r.get("name") != e.name]
    rows.append({"name": e.name, "kind": e.kind, "file": e.file, "sha256": e.sha256,
                 "source": e.source, "licence": e.licence})
    text = ("# Checkpoints registered with `blurgen zoo add` (not in the committed registry), and\n"
            "# full sha256 digests pinned on first use for registry entries that give only a prefix.\n")
    for r in rows:
        text += "\n[[checkpoint]]\n" + "".join(f"{k} = {_toml_str(str(v))}\n" for k, v in r.items())
    atomic_write_text(path, text)
