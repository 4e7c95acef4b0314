"""Tiny on-disk trees in the GoPro, NfS, frames and video layouts, for the real-blur tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from blurgen.io.frames import write_image
from shared_data import REALSHORT  # noqa: F401  (the tests import it from here)


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random RGB texture (H, W, 3) uint8 (block noise, bilinearly upsampled)."""
    import cv2

    small = rng.integers(0, 256, (max(h // 6, 2), max(w // 6, 2), 3), dtype=np.uint8)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(big.astype(np.int16) + rng.integers(-8, 9, (h, w, 3)), 0, 255).astype(np.uint8)


def moving_frames(n: int, h: int = 24, w: int = 32, dx: int = 1, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of a texture seen through a window that moves ``dx`` px right per frame:
    the content moves left, so the flow frame 0 -> frame k is ``(-k * dx, 0)``."""
    rng = np.random.default_rng(seed)
    canvas = texture(rng, h, w + dx * n + 1)
    return [np.ascontiguousarray(canvas[:, k * dx:k * dx + w]) for k in range(n)]


def write_frames(folder: Path, indices, frames, digits: int = 6, ext: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in zip(indices, frames):
        p = folder / f"{i:0{digits}d}{ext}"
        write_image(p, f)
        paths.append(p)
    return paths


def gopro_tree(root: Path, h: int = 24, w: int = 32) -> dict[str, list[int]]:
    """GOPRO_Large_all with one train sequence (gap: frames 20..22 missing) and one test
    sequence. Returns {folder/sequence: indices}."""
    layout = {
        "train/GOPR0372_07_00": list(range(1, 20)) + list(range(23, 37)),
        "test/GOPR0384_11_00": list(range(1, 15)),
    }
    for k, (rel, idx) in enumerate(layout.items()):
        frames = moving_frames(len(idx), h, w, seed=k)
        write_frames(root / "GOPRO_Large_all" / rel, idx, frames)
    return layout


def nfs_tree(root: Path, names=("airboard_1", "bee", "cup"), n: int = 14, h: int = 24, w: int = 32) -> None:
    """NfS layout: <seq>/240/<seq>/NNNNN.jpg from 00001, plus annotations and a 30/ folder."""
    for k, name in enumerate(names):
        d = root / name / "240" / name
        write_frames(d, range(1, n + 1), moving_frames(n, h, w, seed=10 + k), digits=5, ext=".jpg")
        (root / name / "240" / f"{name}.txt").write_text("0 0 0 1 1\n")
        (root / name / "30" / name).mkdir(parents=True)


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def encode_video(path: Path, frames: list[np.ndarray], fps: int = 240, gop: int = 12, bframes: int = 2,
                 extra: tuple[str, ...] = ()) -> Path:
    """Encode RGB frames with libx264 (yuv444p, lossy) into ``path``; returns ``path``."""
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg(), "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0", "-c:v", "libx264", "-pix_fmt", "yuv444p",
           "-g", str(gop), "-bf", str(bframes), *extra, str(path)]
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True)
    return path


def truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def read_all(out) -> dict:
    """{key: (arrays, meta)} of every sample in the shards under ``out``."""
    from blurgen.shards.reader import ShardReader, list_shards

    got = {}
    for p in list_shards(out):
        with ShardReader(p) as r:
            for i, k in enumerate(r.keys()):
                got[k] = (r.read(i), r.meta(i))
    return got
