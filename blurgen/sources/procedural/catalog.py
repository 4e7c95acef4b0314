"""The bundled sample's sequences: names, lengths, motion styles and how each scene is built.

A sequence's scene is a pure function of ``(seed, layout, name, width, height)``: its
random generator is ``rng_for(seed, "sample/<layout>/<name>")``, so a sequence is the same
whichever other layouts are written. Frame number ``i`` of a sequence is rendered at time
``t = i - first_index``.

Motion is specified in screen pixels, not as a fraction of the image, so the displacement
statistics (and the Monkaa bands of ``s``) hardly depend on ``--size``:

- ``monkaa`` style: the motion clock is solved pair by pair so that the largest
  displacement bound of pair ``(k, k+1)`` equals the sequence's ``targets[k + 1]``
  (``targets[0]`` is the pair ``(-1, 0)`` behind the extra into-past file of frame 0,
  ``targets[-1]`` the pair after the last frame); the camera dominates, sprites drift at
  under 0.6 of its speed and wrap around the image.
- ``handheld`` (GoPro, video) and ``tracking`` (NfS): a 240 fps clock whose speed swings
  smoothly between about 0.35 and 3.7 pixels per frame; in ``tracking`` the camera follows
  a target object that stays near the centre and in front of everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from blurgen.sources.procedural.motion import CameraMotion, Clock, SpriteMotion, Wave
from blurgen.sources.procedural.scene import Background, Scene, Sprite
from blurgen.sources.procedural.textures import background_texture, sprite_texture
from blurgen.utils import rng_for

LAYOUTS: tuple[str, ...] = ("monkaa", "gopro", "nfs", "video")


def _geometric(first: float, last: float, n_pairs: int) -> tuple[float, ...]:
    """Wanted ``s`` for the pairs ``-1 .. n_pairs`` (``n_pairs + 2`` values), geometric from
    ``first`` (pair 0) to ``last`` (pair ``n_pairs - 1``)."""
    r = (last / first) ** (1.0 / (n_pairs - 1))
    return tuple(first * r ** k for k in range(-1, n_pairs + 1))


@dataclass(frozen=True)
class SeqSpec:
    """One sequence of the sample.

    ``layout`` one of :data:`LAYOUTS`; ``name`` its folder (or video) name; ``n_frames``
    frames numbered ``first_index ..`` with ``digits`` digits, minus ``missing`` (numbers
    deliberately absent, as in a real download); ``split`` the GoPro split; ``style`` the
    motion style; ``targets`` the Monkaa per-pair displacement targets (pixels); ``label``
    the NfS object class.
    """

    layout: str
    name: str
    n_frames: int
    first_index: int
    digits: int
    style: str
    split: str = ""
    missing: tuple[int, ...] = ()
    targets: tuple[float, ...] = ()
    label: str = ""

    def time(self, index: int) -> float:
        """Scene time of frame number ``index``."""
        return float(index - self.first_index)

    def all_indices(self) -> list[int]:
        return list(range(self.first_index, self.first_index + self.n_frames))

    def indices(self) -> list[int]:
        """Frame numbers written to disk (``missing`` left out)."""
        gone = set(self.missing)
        return [i for i in self.all_indices() if i not in gone]


MONKAA_FRAMES = 10
SEQUENCES: tuple[SeqSpec, ...] = (
    SeqSpec("monkaa", "drifting_pebbles_x2", MONKAA_FRAMES, 0, 4, "monkaa",
            targets=_geometric(1.0, 16.0, MONKAA_FRAMES - 1)),
    SeqSpec("monkaa", "paper_kites_x2", MONKAA_FRAMES, 0, 4, "monkaa",
            targets=_geometric(7.0, 75.0, MONKAA_FRAMES - 1)),
    SeqSpec("monkaa", "spinning_tops_x2", MONKAA_FRAMES, 0, 4, "monkaa",
            targets=_geometric(28.0, 170.0, MONKAA_FRAMES - 1)),
    SeqSpec("gopro", "GOPR0372_07_00", 49, 1, 6, "handheld", split="train"),
    SeqSpec("gopro", "GOPR0374_11_01", 45, 1, 6, "handheld", split="train"),
    SeqSpec("gopro", "GOPR0384_11_05", 48, 1, 6, "handheld", split="test", missing=(20, 21, 22)),
    SeqSpec("nfs", "kite_1", 36, 1, 5, "tracking", label="kite"),
    SeqSpec("nfs", "pebble_2", 36, 1, 5, "tracking", label="pebble"),
    SeqSpec("nfs", "spinner_3", 36, 1, 5, "tracking", label="spinner"),
    SeqSpec("video", "walk_240fps", 60, 0, 6, "handheld"),
)


def sequences(only: tuple[str, ...] = LAYOUTS) -> list[SeqSpec]:
    """The sequences of the layouts in ``only``, in a fixed order."""
    return [s for s in SEQUENCES if s.layout in only]


# -- building scenes -------------------------------------------------------------------

def _texture_side(n: int) -> int:
    """Tiling texture side: a multiple of 64 at least 1.25 times the image side plus 16,
    so that one view (with roll and zoom) never shows the same texel twice."""
    return int(math.ceil((1.25 * n + 16) / 64.0)) * 64


def _camera(rng: np.random.Generator, width: int, height: int, sway_px: float,
            roll_px: float, zoom_px: float) -> CameraMotion:
    """A camera whose roll and zoom move the image corners by about ``roll_px`` and
    ``zoom_px`` pixels per unit of ``tau`` at most, whatever the image size."""
    corner = math.hypot(width - 1, height - 1) / 2.0
    lam_sway, lam_roll, lam_zoom = rng.uniform(180, 320), rng.uniform(150, 300), rng.uniform(200, 350)
    # A wave a*sin(2 pi tau / lam) moves at most 2 pi a / lam per unit tau.
    roll_amp = roll_px * lam_roll / (2 * math.pi * corner)
    zoom_amp = zoom_px * lam_zoom / (2 * math.pi * corner)
    sway_amp = sway_px * lam_sway / (2 * math.pi)
    return CameraMotion(
        centre=((width - 1) / 2.0, (height - 1) / 2.0),
        start=(rng.uniform(0, 4 * width), rng.uniform(0, 4 * height)),
        heading=rng.uniform(0, 2 * math.pi),
        sway=Wave(sway_amp, lam_sway, rng.uniform(0, 2 * math.pi)),
        roll=Wave(roll_amp, lam_roll, rng.uniform(0, 2 * math.pi)),
        zoom=Wave(zoom_amp, lam_zoom, rng.uniform(0, 2 * math.pi)),
    )


def _sprite(rng: np.random.Generator, width: int, height: int, radius: float, drift: float,
            spin_px: float, wrap: bool, start: tuple[float, float] | None = None,
            wobble_px: float = 0.0, name: str = "") -> Sprite:
    """A sprite of about ``radius`` screen pixels that drifts ``drift`` pixels per unit of
    ``tau`` in a random direction, spins so its rim moves ``spin_px`` per unit of ``tau``,
    breathes in scale by up to 6 %, and wobbles sideways at up to ``wobble_px`` pixels per
    unit of ``tau`` (amplitude at most a fifth of the shorter image side)."""
    tex, sdf, origin, reach = sprite_texture(rng, radius)
    scale0 = rng.uniform(0.92, 1.08)
    heading = rng.uniform(0, 2 * math.pi)
    r_screen = scale0 * reach
    breath_amp = 0.06
    lam_breath = max(60.0, 2 * math.pi * breath_amp * r_screen / 0.06)
    lam_wx, lam_wy = rng.uniform(150, 300), rng.uniform(150, 300)
    if start is None:
        start = (rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height)
    period = None
    if wrap:
        r_max = scale0 * math.exp(breath_amp) * reach + 4.0
        period = (width + 2 * r_max, height + 2 * r_max)
    motion = SpriteMotion(
        start=start,
        velocity=(drift * math.cos(heading), drift * math.sin(heading)),
        wobble_x=Wave(min(wobble_px * lam_wx / (2 * math.pi), 0.2 * min(width, height)),
                      lam_wx, rng.uniform(0, 2 * math.pi)),
        wobble_y=Wave(min(0.8 * wobble_px * lam_wy / (2 * math.pi), 0.2 * min(width, height)),
                      lam_wy, rng.uniform(0, 2 * math.pi)),
        angle0=rng.uniform(0, 2 * math.pi),
        spin=float(rng.choice([-1.0, 1.0])) * spin_px / max(r_screen, 1.0),
        scale0=scale0,
        breath=Wave(breath_amp, lam_breath, rng.uniform(0, 2 * math.pi)),
    )
    return Sprite(tex, sdf, origin, reach, motion, period, name)


def _speed_steps(rng: np.random.Generator, n_frames: int) -> list[float]:
    """Per-frame clock steps for a 240 fps sequence, for the intervals ``-1 .. n_frames``:
    a smooth swing between about 0.35 and 3.7 pixels per frame."""
    v_mid = rng.uniform(1.3, 2.0)
    v_amp = rng.uniform(0.75, 1.0) * (v_mid - 0.35)
    period = rng.uniform(25.0, 60.0)
    phase = rng.uniform(0, 2 * math.pi)
    return [v_mid + v_amp * math.sin(2 * math.pi * (k + 0.5) / period + phase)
            for k in range(-1, n_frames + 1)]


def _solve_steps(scene: Scene, targets: tuple[float, ...]) -> list[float]:
    """Clock steps such that each pair's displacement bound equals its target.

    ``scene`` must run on ``Clock.linear(1)`` (``tau == t``); steps are found one after the
    other by bisection on the bound from the previous knot.
    """
    steps: list[float] = []
    tau = 0.0
    for target in targets:
        lo, hi = 0.0, max(1.0, 2.0 * target)
        while scene.displacement_bound(tau, tau + hi) < target:
            hi *= 2.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if scene.displacement_bound(tau, tau + mid) < target:
                lo = mid
            else:
                hi = mid
        steps.append(0.5 * (lo + hi))
        tau += steps[-1]
    return steps


def build_scene(spec: SeqSpec, seed: int, width: int, height: int) -> Scene:
    """The scene of one sequence at ``width`` x ``height`` pixels (deterministic)."""
    rng = rng_for(seed, f"sample/{spec.layout}/{spec.name}")
    bg = Background(background_texture(rng, _texture_side(height), _texture_side(width)), None)
    small = min(width, height)
    sprites: list[Sprite] = []
    if spec.style == "monkaa":
        bg.motion = _camera(rng, width, height, sway_px=0.15, roll_px=0.12, zoom_px=0.1)
        for k in range(4):
            sprites.append(_sprite(rng, width, height, rng.uniform(0.12, 0.2) * small,
                                   drift=rng.uniform(0.2, 0.5), spin_px=rng.uniform(0.04, 0.12),
                                   wrap=True, wobble_px=0.1, name=f"object{k}"))
        scene = Scene(width, height, Clock.linear(1.0), bg, sprites)
        scene.clock = Clock.from_steps(_solve_steps(scene, spec.targets), t_start=-1.0)
        return scene
    if spec.style == "handheld":
        bg.motion = _camera(rng, width, height, sway_px=0.35, roll_px=0.1, zoom_px=0.06)
        for k in range(3):
            sprites.append(_sprite(rng, width, height, rng.uniform(0.13, 0.22) * small,
                                   drift=rng.uniform(0.15, 0.6), spin_px=rng.uniform(0.03, 0.1),
                                   wrap=True, wobble_px=0.15, name=f"object{k}"))
    elif spec.style == "tracking":
        bg.motion = _camera(rng, width, height, sway_px=0.25, roll_px=0.08, zoom_px=0.08)
        for k in range(2):
            sprites.append(_sprite(rng, width, height, rng.uniform(0.1, 0.18) * small,
                                   drift=rng.uniform(0.2, 0.6), spin_px=rng.uniform(0.03, 0.1),
                                   wrap=True, wobble_px=0.1, name=f"object{k}"))
        centre = ((width - 1) / 2.0 + rng.uniform(-0.08, 0.08) * width,
                  (height - 1) / 2.0 + rng.uniform(-0.08, 0.08) * height)
        sprites.append(_sprite(rng, width, height, rng.uniform(0.16, 0.22) * small, drift=0.0,
                               spin_px=rng.uniform(0.05, 0.15), wrap=False, start=centre,
                               wobble_px=0.4, name="target"))
    else:
        raise ValueError(f"unknown motion style {spec.style!r}")
    clock = Clock.from_steps(_speed_steps(rng, spec.n_frames), t_start=-1.0)
    return Scene(width, height, clock, bg, sprites)
