"""A layered 2D scene in continuous time: render any time ``t``, exact flow between any two.

Layers, back to front: a tiling background seen by a moving camera, then sprites
(foreground objects) with antialiased outlines. Each layer is an inverse map: at time
``t`` it has a similarity transform ``p = M(t) u + c(t)`` from its texture coordinates
``u`` to screen pixels ``p``; a render samples every layer's texture at
``u = M(t)^-1 (p - c(t))`` (bilinear, OpenCV ``warpAffine``) and composites the sprites
over the background with coverage ``clip(0.5 - d, 0, 1)``, ``d`` the signed distance
(screen pixels) from the pixel centre to the sprite's outline.

Exact flow ``t0 -> t1`` of the pixel ``p``: the front-most layer whose outline contains
``p`` at ``t0`` (``d <= 0``, i.e. coverage >= 0.5) carries it, and
``flow(p) = M(t1) M(t0)^-1 (p - c(t0)) + c(t1) - p``: defined for every pixel, including
those hidden or outside the image at ``t1``. Transforms are float64; flow is returned as
``(H, W, 2)`` float32 pixels, ``[..., 0]`` = x.

A sprite may have a ``period`` ``(Px, Py)``: it is then one copy of an infinite lattice of
identical copies spaced ``Px`` and ``Py`` pixels apart on screen, so an object that drifts
out at one edge comes back at the other while each copy moves continuously (the flow of a
pixel follows the copy it lies on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from blurgen.sources.procedural.motion import CameraMotion, Clock, SpriteMotion

_FAR = 1.0e4  # signed distance given to samples outside a sprite's texture


@dataclass
class Background:
    """``texture`` ``(Th, Tw, 3)`` float32 in ``[0, 255]``, tiling with period ``(Tw, Th)``."""

    texture: np.ndarray
    motion: CameraMotion


@dataclass
class Sprite:
    """A foreground object.

    ``texture`` ``(h, w, 3)`` float32 in ``[0, 255]``; ``sdf`` ``(h, w)`` float32, signed
    distance to the outline in texels (negative inside); ``origin`` ``(x, y)`` the texel
    coordinates of the local origin (the object's centre); ``reach`` the largest distance
    (texels) from the origin to a point inside; ``period`` the screen lattice period of its
    copies (pixels) or ``None`` for a single object.
    """

    texture: np.ndarray
    sdf: np.ndarray
    origin: tuple[float, float]
    reach: float
    motion: SpriteMotion
    period: tuple[float, float] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        self.texture = np.ascontiguousarray(self.texture, dtype=np.float32)
        self.sdf = np.ascontiguousarray(self.sdf, dtype=np.float32)


@dataclass(frozen=True)
class Placement:
    """One sprite copy at one time: ``p = m @ u + c`` on screen; ``box`` = (x0, y0, x1, y1)
    the screen rectangle (half-open, clipped) where it may cover pixels."""

    index: int  # position in Scene.sprites
    lattice: tuple[int, int]
    m: np.ndarray
    c: np.ndarray
    scale: float
    box: tuple[int, int, int, int]


@dataclass
class Scene:
    """``width`` x ``height`` pixels; ``clock`` maps frame time to motion; layers back to front."""

    width: int
    height: int
    clock: Clock
    background: Background
    sprites: list[Sprite] = field(default_factory=list)
    _padded: tuple | None = field(default=None, init=False, repr=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_padded"] = None  # a cache: rebuilt where the scene is used
        return state

    # -- transforms --------------------------------------------------------------------

    def _sprite_affine(self, i: int, tau: float, lattice: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        sp = self.sprites[i]
        m, c = sp.motion.affine(tau)
        if sp.period is not None:
            c = c + np.array(lattice, float) * np.asarray(sp.period, float)
        return m, c

    def placements(self, t: float) -> list[Placement]:
        """Every sprite copy that may cover a pixel at time ``t``, back to front."""
        tau = self.clock(t)
        out: list[Placement] = []
        for i, sp in enumerate(self.sprites):
            m, c = sp.motion.affine(tau)
            scale = sp.motion.scale(tau)
            radius = scale * sp.reach + 2.0
            cx, cy = float(c[0]), float(c[1])
            if sp.period is None:
                px = py = 0.0
                kxs: range | list[int] = [0]
                kys: range | list[int] = [0]
            else:
                px, py = sp.period
                # Copies whose centre lies within `radius` of the image rectangle.
                kxs = range(math.ceil((-radius - cx) / px), math.floor((self.width - 1 + radius - cx) / px) + 1)
                kys = range(math.ceil((-radius - cy) / py), math.floor((self.height - 1 + radius - cy) / py) + 1)
            for ky in kys:
                for kx in kxs:
                    ckx, cky = cx + kx * px, cy + ky * py
                    x0 = max(0, math.floor(ckx - radius))
                    y0 = max(0, math.floor(cky - radius))
                    x1 = min(self.width, math.ceil(ckx + radius) + 1)
                    y1 = min(self.height, math.ceil(cky + radius) + 1)
                    if x0 < x1 and y0 < y1:
                        out.append(Placement(i, (kx, ky), m, np.array([ckx, cky]), scale, (x0, y0, x1, y1)))
        return out

    # -- rendering ---------------------------------------------------------------------

    def _warp_background(self, tau: float) -> np.ndarray:
        import cv2

        tex = self.background.texture
        period = np.array([tex.shape[1], tex.shape[0]], float)
        m, c = self.background.motion.affine(tau)
        minv = _inv2(m)
        a = np.empty((2, 3))
        a[:, :2] = minv
        a[:, 2] = -minv @ c
        # The texture tiles, so its translation can move by whole periods: put the view's
        # top-left texel in the first period. If the whole view then lies inside the
        # padded copy, sample that (fast); else wrap around (same values, slower).
        corners = a[:, :2] @ np.array([[0.0, self.width - 1.0, 0.0, self.width - 1.0],
                                       [0.0, 0.0, self.height - 1.0, self.height - 1.0]])
        lo = corners.min(axis=1) + a[:, 2]
        a[:, 2] -= np.floor(lo / period) * period
        hi = corners.max(axis=1) + a[:, 2]
        padded = self._padded_background()
        if hi[0] < padded.shape[1] - 1 and hi[1] < padded.shape[0] - 1:
            src, border = padded, cv2.BORDER_REPLICATE
        else:
            src, border = tex, cv2.BORDER_WRAP
        return cv2.warpAffine(src, a, (self.width, self.height),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border)

    def _padded_background(self) -> np.ndarray:
        """The background texture extended by whole-period copies to the right and bottom,
        by a bit more than one view (cached)."""
        key = (self.width, self.height)
        if self._padded is None or self._padded[0] != key:
            pad_x = int(math.ceil(1.2 * self.width + 0.15 * self.height)) + 4
            pad_y = int(math.ceil(1.2 * self.height + 0.15 * self.width)) + 4
            tex = self.background.texture
            self._padded = (key, np.ascontiguousarray(np.pad(tex, ((0, pad_y), (0, pad_x), (0, 0)), mode="wrap")))
        return self._padded[1]

    def _sprite_map(self, pl: Placement) -> np.ndarray:
        """The 2x3 inverse map (screen pixel of ``pl.box`` -> texel) of a sprite copy."""
        sp = self.sprites[pl.index]
        x0, y0 = pl.box[:2]
        minv = _inv2(pl.m)
        a = np.empty((2, 3))
        a[:, :2] = minv
        a[:, 2] = minv @ (np.array([x0, y0], float) - pl.c) + np.asarray(sp.origin, float)
        return a

    def _warp_sdf(self, pl: Placement, a: np.ndarray) -> np.ndarray:
        """Signed distance (screen pixels, negative inside) over ``pl.box``: ``(h, w)`` float32."""
        import cv2

        x0, y0, x1, y1 = pl.box
        sd = cv2.warpAffine(self.sprites[pl.index].sdf, a, (x1 - x0, y1 - y0),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=_FAR)
        sd *= np.float32(pl.scale)
        return sd

    def render(self, t: float) -> np.ndarray:
        """The image at time ``t``: ``(H, W, 3)`` float32 RGB in ``[0, 255]`` (not rounded)."""
        import cv2

        tau = self.clock(t)
        out = self._warp_background(tau)
        for pl in self.placements(t):
            a = self._sprite_map(pl)
            x0, y0, x1, y1 = pl.box
            rgb = cv2.warpAffine(self.sprites[pl.index].texture, a, (x1 - x0, y1 - y0),
                                 flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0, 0.0))
            alpha = np.clip(np.float32(0.5) - self._warp_sdf(pl, a), 0.0, 1.0)
            region = out[y0:y1, x0:x1]
            rgb -= region
            rgb *= cv2.merge([alpha, alpha, alpha])
            region += rgb  # region + alpha * (sprite - region)
        return out

    def frame(self, t: float) -> np.ndarray:
        """The render at ``t`` rounded to ``(H, W, 3)`` uint8, as written to image files."""
        return np.clip(np.rint(self.render(t)), 0, 255).astype(np.uint8)

    # -- geometry: which layer carries each pixel, and its flow -------------------------

    def _covered(self, t: float):
        """Yield ``(placement, inside)`` back to front; ``inside`` bool over the placement's box."""
        for pl in self.placements(t):
            yield pl, self._warp_sdf(pl, self._sprite_map(pl)) <= 0.0

    def layer_map(self, t: float) -> np.ndarray:
        """``(H, W)`` int16: 0 where the background is the front surface, ``i + 1`` for sprite ``i``."""
        ids = np.zeros((self.height, self.width), np.int16)
        for pl, inside in self._covered(t):
            x0, y0, x1, y1 = pl.box
            ids[y0:y1, x0:x1][inside] = pl.index + 1
        return ids

    def flow(self, t0: float, t1: float) -> np.ndarray:
        """Exact flow ``t0 -> t1`` of the front surface at ``t0``: ``(H, W, 2)`` float32 pixels."""
        tau0, tau1 = self.clock(t0), self.clock(t1)
        ys, xs = np.mgrid[0:self.height, 0:self.width].astype(np.float64)
        m0, c0 = self.background.motion.affine(tau0)
        m1, c1 = self.background.motion.affine(tau1)
        flow = _affine_flow(m0, c0, m1, c1, xs, ys)
        for pl, inside in self._covered(t0):
            x0, y0, x1, y1 = pl.box
            m1s, c1s = self._sprite_affine(pl.index, tau1, pl.lattice)
            f = _affine_flow(pl.m, pl.c, m1s, c1s, xs[y0:y1, x0:x1], ys[y0:y1, x0:x1])
            flow[y0:y1, x0:x1][inside] = f[inside]
        return flow.astype(np.float32)

    def displacement_bound(self, t0: float, t1: float) -> float:
        """An upper bound (pixels) of ``max |flow(t0, t1)|`` over the image, from transforms only.

        Background: the exact maximum over the image (at a corner, the displacement being
        affine). Sprites: ``|c(t1) - c(t0)| + ||M(t1) M(t0)^-1 - I|| r`` per visible copy,
        ``r`` its screen radius.
        """
        tau0, tau1 = self.clock(t0), self.clock(t1)
        m0, c0 = self.background.motion.affine(tau0)
        m1, c1 = self.background.motion.affine(tau1)
        w, h = self.width - 1.0, self.height - 1.0
        corners = np.array([[0.0, 0.0], [w, 0.0], [0.0, h], [w, h]])
        f = _affine_flow(m0, c0, m1, c1, corners[:, 0], corners[:, 1])
        best = float(np.hypot(f[:, 0], f[:, 1]).max())
        for pl in self.placements(t0):
            m1s, c1s = self._sprite_affine(pl.index, tau1, pl.lattice)
            rel = m1s @ _inv2(pl.m) - np.eye(2)
            r = pl.scale * self.sprites[pl.index].reach + 1.0
            best = max(best, math.hypot(c1s[0] - pl.c[0], c1s[1] - pl.c[1]) + _norm2(rel) * r)
        return best

    # -- continuous-time blur ----------------------------------------------------------

    def blur_samples(self, t0: float, t1: float, step: float, fine: int = 16, least: int = 8) -> int:
        """How many sub-frame renders keep consecutive ones at most about ``step`` pixels apart.

        The interval is cut into ``fine`` pieces; the largest displacement bound of a piece,
        spread over its duration, gives the peak speed; ``n = ceil(peak * (t1 - t0) / step)``,
        at least ``least`` when anything moves (so slow intervals are sampled finely, at
        little cost) and 1 when nothing does.
        """
        if step <= 0:
            raise ValueError("blur step must be positive")
        grid = np.linspace(t0, t1, fine + 1)
        peak = max(self.displacement_bound(a, b) for a, b in zip(grid[:-1], grid[1:]))
        if peak < 1e-9:  # nothing moves (up to rounding of the transforms)
            return 1
        return max(least, int(math.ceil(peak * fine / step - 1e-9)))

    def blur(self, t0: float, t1: float, step: float = 0.25) -> tuple[np.ndarray, int]:
        """Continuous-time blur: the mean image over ``[t0, t1]`` (order irrelevant).

        Midpoint rule: ``n`` renders at ``t0 + (i + 0.5) (t1 - t0) / n`` averaged in float64,
        ``n`` from :meth:`blur_samples`. Returns ``((H, W, 3) float32 in [0, 255], n)``.
        """
        import cv2

        a, b = min(t0, t1), max(t0, t1)
        n = self.blur_samples(a, b, step)
        acc = np.zeros((self.height, self.width, 3), np.float64)
        for i in range(n):
            cv2.accumulate(self.render(a + (i + 0.5) * (b - a) / n), acc)
        return (acc / n).astype(np.float32), n


def _inv2(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x2 matrix (closed form)."""
    a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    det = a * d - b * c
    return np.array([[d, -b], [-c, a]]) / det


def _norm2(m: np.ndarray) -> float:
    """Spectral norm (largest singular value) of a 2x2 matrix."""
    a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    half = 0.5 * (a * a + b * b + c * c + d * d)
    det = a * d - b * c
    return math.sqrt(half + math.sqrt(max(half * half - det * det, 0.0)))


def _affine_flow(m0: np.ndarray, c0: np.ndarray, m1: np.ndarray, c1: np.ndarray,
                 xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``M1 M0^-1 (p - c0) + c1 - p`` at the points ``(xs, ys)``: ``xs.shape + (2,)`` float64."""
    rel = m1 @ _inv2(m0)
    dx, dy = xs - c0[0], ys - c0[1]
    out = np.empty(np.shape(xs) + (2,), np.float64)
    out[..., 0] = rel[0, 0] * dx + rel[0, 1] * dy + c1[0] - xs
    out[..., 1] = rel[1, 0] * dx + rel[1, 1] * dy + c1[1] - ys
    return out
