"""A corpus of bad inputs, made by the tests, fed to the dataset commands.

Each case breaks one file of an otherwise good tiny dataset. With ``--on-error fail`` the
command must stop with one line that names the file and the reason (no traceback); with
``--on-error skip`` it must record the file in the manifest's ``skipped`` list, make every
sample that does not need it, and leave a dataset that ``blurgen verify`` accepts.
"""

from __future__ import annotations

import json
import re
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .harness import load_manifest, run_cli

W, H, N_FRAMES, WINDOW = 64, 48, 14, 7   # two sequences x two windows = 4 samples


def _frames(seed: int) -> list[np.ndarray]:
    """A textured image panning right by 2 px per frame: (H, W, 3) uint8 RGB each."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 255, (H + 8, W + 2 * N_FRAMES, 3), dtype=np.uint8)
    return [np.ascontiguousarray(big[4 : 4 + H, 2 * i : 2 * i + W]) for i in range(N_FRAMES)]


def make_frames_root(root: Path, ext: str) -> None:
    from blurgen.io.frames import write_image

    for s, seq in enumerate(("seqA", "seqB")):
        (root / seq).mkdir(parents=True)
        for i, img in enumerate(_frames(s)):
            write_image(root / seq / f"{i:06d}{ext}", img)


def make_video(path: Path, seed: int, faststart: bool) -> None:
    import imageio.v2 as imageio

    params = ["-movflags", "+faststart"] if faststart else []
    w = imageio.get_writer(path, fps=240, codec="libx264", quality=8, macro_block_size=16,
                           ffmpeg_params=["-g", "8", *params], ffmpeg_log_level="error")
    for img in _frames(seed) * 2:
        w.append_data(img)
    w.close()


def make_videos_root(root: Path, faststart: bool = True) -> None:
    root.mkdir(parents=True)
    for s, name in enumerate(("clipA.mp4", "clipB.mp4")):
        make_video(root / name, s, faststart)


# -- the corpus --------------------------------------------------------------------------------
def _truncate(p: Path, keep: float) -> Path:
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])
    return p


def _zero(p: Path) -> Path:
    p.write_bytes(b"")
    return p


def _resize(p: Path) -> Path:
    from blurgen.io.frames import read_image, write_image

    img = read_image(p)
    write_image(p, np.ascontiguousarray(img[: H // 2, : W // 2]))
    return p


def _rename_non_numeric(p: Path) -> Path:
    q = p.with_name("cover" + p.suffix)
    shutil.copyfile(p, q)
    return q


def _to_folder(p: Path) -> Path:
    p.unlink()
    p.mkdir()
    return p


def _to_broken_link(p: Path) -> Path:
    p.unlink()
    p.symlink_to(p.with_name("gone" + p.suffix))
    return p


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG whose header declares ``width`` x ``height`` RGB pixels but whose data
    is a few bytes: a decompression bomb for large sizes (OpenCV raises cv2.error)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def _png_bomb(p: Path) -> Path:
    p.write_bytes(png_declaring(100_000, 100_000))
    return p


def _png_zero_width(p: Path) -> Path:
    p.write_bytes(png_declaring(0, H))
    return p


def _jpeg_bomb(p: Path) -> Path:
    """The frame's own JPEG with its start-of-frame saying 65000 x 65000 pixels."""
    import struct

    data = bytearray(p.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    p.write_bytes(bytes(data))
    return p


def _mp4_huge_box(p: Path) -> Path:
    """The moov box's header rewritten as a 64-bit size of 2**62 bytes (a read that size fails)."""
    import struct

    data = p.read_bytes()
    i = data.find(b"moov") - 4
    p.write_bytes(data[:i] + struct.pack(">I4sQ", 1, b"moov", 1 << 62) + data[i + 8 :])
    return p


def _garbage(p: Path) -> Path:
    p.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return p


@dataclass(frozen=True)
class BadCase:
    what: str                                 # the row's "fault or input"
    layout: str                               # "png", "jpg" or "videos"
    target: str                               # file to break, relative to the root
    breaker: Callable[[Path], Path]           # breaks it, returns the bad file
    lost: int                                 # samples that need the bad file
    slow: bool = False                        # only in the full run (-m slow)

    @property
    def source(self) -> str:
        return "video" if self.layout == "videos" else "frames"


CASES = {
    "truncated-png": BadCase("truncated PNG frame", "png", "seqA/000003.png", lambda p: _truncate(p, 0.5), 1),
    "zero-byte-png": BadCase("zero-byte PNG frame", "png", "seqA/000009.png", _zero, 1, slow=True),
    "truncated-jpeg": BadCase("truncated JPEG frame", "jpg", "seqA/000003.jpg", lambda p: _truncate(p, 0.4), 1,
                              slow=True),
    "zero-byte-jpeg": BadCase("zero-byte JPEG frame", "jpg", "seqB/000000.jpg", _zero, 1),
    "mixed-size": BadCase("one frame of another size in a sequence", "png", "seqA/000010.png", _resize, 1),
    "non-numeric-name": BadCase("frame file with a non-numeric name (cover.png)", "png", "seqA/000000.png",
                                _rename_non_numeric, 0),
    "folder-named-like-frame": BadCase("a folder named like a frame (seqA/000010.png/)", "png", "seqA/000010.png",
                                       _to_folder, 1),
    "broken-link-frame": BadCase("a broken link in place of a frame", "png", "seqB/000011.png", _to_broken_link, 1,
                                 slow=True),
    "truncated-mp4": BadCase("truncated mp4 (index first, data cut at 60%)", "videos", "clipA.mp4",
                             lambda p: _truncate(p, 0.6), -1),
    "truncated-mp4-no-index": BadCase("truncated mp4 (index at the end, cut at 70%: no index left)", "videos",
                                      "clipA.mp4", lambda p: _truncate(p, 0.7), -1, slow=True),
    # decoder failures: whatever OpenCV, ffmpeg or a parser raises is bad input of that file
    "png-bomb": BadCase("PNG whose header declares 100000x100000 px (OpenCV raises cv2.error)", "png",
                        "seqA/000003.png", _png_bomb, 1, slow=True),
    "png-bomb-first-frame": BadCase("first frame of a sequence a PNG declaring 100000x100000 px", "png",
                                    "seqA/000000.png", _png_bomb, 1),
    "png-zero-width": BadCase("PNG whose header declares a zero width", "png", "seqB/000008.png",
                              _png_zero_width, 1, slow=True),
    "jpeg-bomb": BadCase("JPEG whose start-of-frame declares 65000x65000 px (cv2.error)", "jpg",
                         "seqB/000004.jpg", _jpeg_bomb, 1, slow=True),
    "mp4-huge-box": BadCase("mp4 whose moov box declares 2**62 bytes (the parser's read fails)", "videos",
                            "clipA.mp4", _mp4_huge_box, -1),
    "mp4-garbage": BadCase("random bytes named clipA.mp4 (ffmpeg cannot open it)", "videos", "clipA.mp4",
                           _garbage, -1, slow=True),
}


def _argv(case_source: str, root: Path, out: Path, *more: str) -> list[str]:
    return ["real", "--source", case_source, "--root", root, "--flow-model", "dis", "--window", str(WINDOW),
            "--out", out, "--quiet", *more]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """``clean(layout)`` -> (root, {key: digest} of the samples a clean run makes); layouts
    "png", "jpg", "videos" (mp4 index first) and "videos-tail" (index at the end); made on
    first use."""
    base = tmp_path_factory.mktemp("clean")
    made: dict[str, tuple[Path, dict[str, str]]] = {}

    def _clean(layout: str) -> tuple[Path, dict[str, str]]:
        if layout not in made:
            root = base / layout
            if layout.startswith("videos"):
                make_videos_root(root, faststart=(layout == "videos"))
            else:
                make_frames_root(root, "." + layout)
            src = "video" if layout.startswith("videos") else "frames"
            out = base / f"{layout}-out"
            r = run_cli(*_argv(src, root, out))
            assert r.rc == 0, str(r)
            made[layout] = (root, _digests(load_manifest(out)))
        return made[layout]

    return _clean


def _digests(manifest: dict) -> dict[str, str]:
    return {s["key"]: s["digest"] for s in manifest["samples"]}


def _changed(made: dict[str, str], clean: dict[str, str]) -> list[str]:
    """Keys of samples made next to a bad file that differ from (or are absent in) the clean run."""
    return sorted(k for k, d in made.items() if clean.get(k) != d)


def _mentions(entry: dict, name: str) -> bool:
    return name in json.dumps(entry)


SLOW_CASE = pytest.mark.slow(reason="each bad-input case runs the command twice; the default run keeps five")


@pytest.mark.parametrize("case_id", [pytest.param(k, marks=SLOW_CASE if c.slow else ()) for k, c in CASES.items()])
def test_bad_input(case_id, clean, tmp_path, reliability, require):
    require("real")
    case = CASES[case_id]
    layout = "videos-tail" if case_id == "truncated-mp4-no-index" else case.layout
    clean_root, clean_digests = clean(layout)
    n_clean = len(clean_digests)
    root = tmp_path / "root"
    shutil.copytree(clean_root, root)
    bad = case.breaker(root / case.target)
    label = f"blurgen real --source {case.source} --flow-model dis"
    row_fail = reliability.row("bad input", case.what + "; --on-error fail", label)
    row_skip = reliability.row("bad input", case.what + "; --on-error skip", label)

    fail = run_cli(*_argv(case.source, root, tmp_path / "out-fail", "--on-error", "fail"))
    row_fail.did = f"exit {fail.rc}: {fail.error_line()[:220]}"
    skip = run_cli(*_argv(case.source, root, tmp_path / "out-skip", "--on-error", "skip"))
    man = load_manifest(tmp_path / "out-skip")
    recorded = [s for s in (man or {}).get("skipped", []) if _mentions(s, bad.name)]
    made = len((man or {}).get("samples", []))
    row_skip.did = (
        f"exit {skip.rc}; made {made} of {n_clean} samples; manifest records "
        + (f"{len(recorded)} skip(s) naming {bad.name}: {recorded[0]['reason'][:160]}" if recorded else "no skip naming the file")
    )

    assert not fail.has_traceback() and not skip.has_traceback(), f"{fail}\n{skip}"
    assert fail.rc == 1, str(fail)
    assert bad.name in fail.error_line(), str(fail)
    assert skip.rc == 0, str(skip)
    assert recorded, f"no skipped entry names {bad.name}: {json.dumps(man.get('skipped'))[:600]}"
    if case.lost >= 0:
        assert made == n_clean - case.lost, (made, n_clean)
    else:
        assert 0 < made < n_clean, (made, n_clean)
    assert _changed(_digests(man), clean_digests) == [], "a good sample differs from the run without the bad file"
    ver = run_cli("verify", tmp_path / "out-skip")
    assert ver.rc == 0, str(ver)
    row_fail.lost = "nothing written is lost; the run stops at the bad file"
    n_lost = n_clean - made
    row_skip.lost = (f"only the {n_lost} sample(s) that need the bad file" if n_lost else "nothing: no sample needs the file"
                     ) + "; verify OK"


def test_symlink_loops_in_root(clean, tmp_path, reliability, require):
    require("real")
    clean_root, clean_digests = clean("png")
    n_clean = len(clean_digests)
    root = tmp_path / "root"
    shutil.copytree(clean_root, root)
    os.symlink("..", root / "seqA" / "up")        # seqA/up -> root (a cycle through the parent)
    os.symlink(".", root / "self")                # root/self -> root
    os.symlink("loop-b", root / "loop-a")         # two links pointing at each other
    os.symlink("loop-a", root / "loop-b")
    row = reliability.row("bad input", "symlink loops in the dataset root (to itself, to a parent, a 2-link cycle)",
                          "blurgen real --source frames --flow-model dis")
    res = run_cli(*_argv("frames", root, tmp_path / "out"), timeout=120)
    row.did = f"exit {res.rc} in {res.seconds:.1f} s" + (f": {res.error_line()[:200]}" if res.rc else "")
    assert not res.has_traceback(), str(res)
    if res.rc == 0:
        made = len(load_manifest(tmp_path / "out")["samples"])
        assert made == n_clean, "following the links made samples twice (or lost some)"
        row.did += f"; made the {made} samples of the real folders once, links not followed"
        row.lost = "nothing"
    else:
        assert "link" in res.error_line().lower(), str(res)
        row.lost = "nothing written"


# -- Monkaa: frames and PFM flows ---------------------------------------------------------------
SCENE = "drifting_pebbles_x2"
FUT = f"optical_flow/{SCENE}/into_future/left/OpticalFlowIntoFuture_0004_L.pfm"
PAST = f"optical_flow/{SCENE}/into_past/left/OpticalFlowIntoPast_0005_L.pfm"
FRAME = f"frames_cleanpass/{SCENE}/left/0004.png"


def _pfm_header(p: Path, header: bytes) -> Path:
    data = p.read_bytes()
    lines = data.split(b"\n", 3)  # "PF", "W H", "scale", data
    p.write_bytes(header + lines[3])
    return p


def _pfm_rewrite(p: Path, fn) -> Path:
    from blurgen.io.pfm import read_pfm, write_pfm

    write_pfm(p, fn(read_pfm(p).copy()))
    return p


def _pfm_nonfinite(a: np.ndarray) -> np.ndarray:
    a[3, 5, 0] = np.nan
    a[7, 2, 1] = np.inf
    return a


MONKAA_CASES = {
    "monkaa-truncated-png": ("truncated PNG frame", FRAME, lambda p: _truncate(p, 0.5), True),
    "monkaa-zero-byte-png": ("zero-byte PNG frame", FRAME, _zero, True),
    "pfm-bad-header": ("PFM flow with a bad header (magic 'PX')", FUT, lambda p: _pfm_header(p, b"PX\n"), False),
    "pfm-short-data": ("PFM flow whose header promises more data than the file holds", PAST,
                       lambda p: _truncate(p, 0.8), True),
    "pfm-wrong-size": ("PFM flow of another size than the frames", FUT,
                       lambda p: _pfm_rewrite(p, lambda a: np.ascontiguousarray(a[: a.shape[0] // 2, : a.shape[1] // 2])), True),
    "pfm-nan-inf": ("PFM flow with NaN and inf values", PAST, lambda p: _pfm_rewrite(p, _pfm_nonfinite), False),
    "pfm-missing": ("PFM flow file missing", FUT, lambda p: (p.unlink(), p)[1], True),
    "pfm-binary-size": ("PFM flow whose size field is binary garbage", PAST,
                        lambda p: _pfm_header(p, b"PF\n\xff\xfe\x00 9\n-1.0\n"), True),
    "monkaa-png-bomb": ("frame a PNG declaring 100000x100000 px (OpenCV raises cv2.error)", FRAME, _png_bomb, True),
    "monkaa-all-frames-empty": ("every frame of a camera folder zero bytes", f"frames_cleanpass/{SCENE}/left",
                                lambda d: ([_zero(f) for f in d.iterdir()], d)[1], True),
}


@pytest.fixture(scope="module")
def monkaa_root(sample_root, tmp_path_factory):
    """One scene of the procedural sample's Monkaa tree, and {key: digest} of a clean run."""
    src = sample_root() / "monkaa"
    root = tmp_path_factory.mktemp("monkaa") / "monkaa"
    for part in ("frames_cleanpass", "optical_flow"):
        shutil.copytree(src / part / SCENE, root / part / SCENE)
    out = root.parent / "clean-out"
    r = run_cli("synth-monkaa", "--root", root, "--out", out, "--quiet")
    assert r.rc == 0, str(r)
    return root, _digests(load_manifest(out))


def _metas(out: Path, keys: list[str]) -> dict[str, dict]:
    """The stored meta of the samples ``keys`` of the dataset in ``out``."""
    from blurgen.shards.reader import ShardReader

    found = {}
    for shard in sorted(out.glob("*.h5")):
        with ShardReader(shard) as r:
            for k in keys:
                if k in r.keys():
                    found[k] = r.meta(r.index_of(k))
    return found


def _neighbours_of(bad: Path, keys: list[str]) -> set[str]:
    """Keys of the pairs that read ``bad`` only as a neighbour flow (frame t-1 or t+2 of the pair)."""
    m = re.search(r"OpticalFlowInto(Future|Past)_(\d+)_", bad.name)
    if not m:
        return set()
    frame = int(m.group(2))
    pair = frame - 1 if m.group(1) == "Future" else frame  # into_future of t+1 / into_past of t
    return {k for k in keys if k.endswith(f"/{pair:04d}")}


def _accounted(missing: set[str], skipped: list[dict]) -> set[str]:
    """Keys of ``missing`` that no skipped entry accounts for (by key or key prefix)."""
    keys = [s.get("key", "") for s in skipped]
    return {m for m in missing if not any(m == k or m.startswith(k.rstrip("/") + "/") for k in keys)}


def _monkaa_params():
    slow = pytest.mark.slow(reason="each Monkaa bad-input case runs synth-monkaa twice; the default run keeps two")
    return [pytest.param(k, id=k, marks=slow if MONKAA_CASES[k][3] else ()) for k in MONKAA_CASES]


@pytest.mark.parametrize("case_id", _monkaa_params())
def test_bad_monkaa_input(case_id, monkaa_root, tmp_path, reliability, require):
    require("synth-monkaa")
    what, target, breaker, _ = MONKAA_CASES[case_id]
    clean_root, clean_digests = monkaa_root
    clean_keys = sorted(clean_digests)
    root = tmp_path / "monkaa"
    shutil.copytree(clean_root, root)
    bad = breaker(root / target)
    needle = bad.name if not bad.is_dir() else f"{bad.parent.name}/{bad.name}"
    label = "blurgen synth-monkaa"
    row_fail = reliability.row("bad input", f"Monkaa: {what}; --on-error fail", label)
    row_skip = reliability.row("bad input", f"Monkaa: {what}; --on-error skip", label)

    fail = run_cli("synth-monkaa", "--root", root, "--out", tmp_path / "out-fail", "--quiet", "--on-error", "fail")
    row_fail.did = f"exit {fail.rc}: {fail.error_line()[:220]}"
    skip = run_cli("synth-monkaa", "--root", root, "--out", tmp_path / "out-skip", "--quiet", "--on-error", "skip")
    man = load_manifest(tmp_path / "out-skip") or {}
    recorded = [s for s in man.get("skipped", []) if _mentions(s, needle)]
    made = sorted(s["key"] for s in man.get("samples", []))
    row_skip.did = (
        f"exit {skip.rc}; made {len(made)} of {len(clean_keys)} samples; manifest records "
        + (f"{len(recorded)} skip(s) naming {needle}: {recorded[0]['reason'][:160]}" if recorded else "no skip naming the file")
    )

    assert not fail.has_traceback() and not skip.has_traceback(), f"{fail}\n{skip}"
    assert fail.rc == 1, str(fail)
    assert needle in fail.error_line(), str(fail)
    assert skip.rc == 0, str(skip)
    assert recorded, f"no skipped entry names {bad.name}: {json.dumps(man.get('skipped'))[:600]}"
    assert set(made) < set(clean_keys), (made, clean_keys)
    assert _accounted(set(clean_keys) - set(made), man["skipped"]) == set(), "a sample went missing without a record"
    # a pair whose neighbour flow (an optional input: it bends the paths) is the bad file is
    # made with straight paths, as the docs say, and its meta says so; every other is unchanged
    changed = _changed(_digests(man), clean_digests)
    straightened = _metas(tmp_path / "out-skip", changed)
    assert all(m.get("motion") == "linear" for m in straightened.values()), straightened
    assert set(changed) <= _neighbours_of(bad, clean_keys), changed
    assert run_cli("verify", tmp_path / "out-skip").rc == 0
    row_fail.lost = "nothing written is lost; the run stops at the bad file"
    row_skip.lost = f"only the {len(clean_keys) - len(made)} pair(s) that need the file, each recorded; verify OK"


def test_flo_with_wrong_tag_is_named(tmp_path, reliability):
    """No dataset command reads .flo inputs; the reader itself must name the file."""
    from blurgen.errors import InputError
    from blurgen.io.flo import read_flo, write_flo

    f = tmp_path / "bad.flo"
    write_flo(f, np.zeros((4, 6, 2), np.float32))
    data = bytearray(f.read_bytes())
    data[:4] = np.float32(1.5).tobytes()
    f.write_bytes(bytes(data))
    row = reliability.row("bad input", ".flo with a wrong tag (no dataset command reads .flo)", "blurgen.io.flo.read_flo")
    with pytest.raises(InputError) as e:
        read_flo(f)
    row.did = f"InputError: {e.value}"
    assert str(f) in str(e.value)
    row.lost = "n/a (reader only)"
