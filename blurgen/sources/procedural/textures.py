"""Procedural textures: multi-scale noise, colour palettes and antialiased shapes.

Textures are ``(h, w, 3)`` float32 RGB in ``[0, 255]``, indexed ``[row, col]``; one texel
is one screen pixel at scale 1. Shapes are drawn from signed distance functions (SDF,
texels, negative inside) with a linear ramp about one texel wide, so their edges are
antialiased and move smoothly under sub-pixel motion. Everything is a pure function of
the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np

# Cell sizes (texels) of the noise octaves, coarse to fine, and their relative amplitudes.
OCTAVES: tuple[int, ...] = (64, 32, 16, 8, 4, 2)
_OCTAVE_WEIGHTS: tuple[float, ...] = (1.0, 0.8, 0.6, 0.45, 0.35, 0.25)


def periodic_noise(rng: np.random.Generator, h: int, w: int, channels: int = 3,
                   octaves: tuple[int, ...] = OCTAVES,
                   weights: tuple[float, ...] = _OCTAVE_WEIGHTS) -> np.ndarray:
    """Smooth multi-scale noise that tiles with period ``(h, w)``.

    Each octave is a grid of Gaussian values, one per ``cell x cell`` block, upsampled with
    bicubic interpolation from a periodically padded grid, so the result wraps exactly.
    ``h`` and ``w`` must be multiples of every cell size. Returns ``(h, w, channels)``
    float32, zero mean, standard deviation about 1 per channel.
    """
    import cv2

    out = np.zeros((h, w, channels), np.float64)
    for cell, weight in zip(octaves, weights):
        if h % cell or w % cell:
            raise ValueError(f"noise size {w}x{h} is not a multiple of the cell size {cell}")
        grid = rng.standard_normal((h // cell, w // cell, channels)).astype(np.float32)
        pad = np.pad(grid, ((2, 2), (2, 2), (0, 0)), mode="wrap")
        big = cv2.resize(pad, (pad.shape[1] * cell, pad.shape[0] * cell), interpolation=cv2.INTER_CUBIC)
        big = big.reshape(big.shape[0], big.shape[1], channels)
        out += weight * big[2 * cell: 2 * cell + h, 2 * cell: 2 * cell + w]
    out -= out.mean(axis=(0, 1))
    out /= out.std(axis=(0, 1)) + 1e-12
    return out.astype(np.float32)


def colour_field(rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """Map zero-mean noise ``(h, w, 3)`` to a colourful RGB texture in ``(0, 255)``.

    A random mean colour plus a random 3x3 mixing of the noise channels, squashed by a
    logistic curve so that no region saturates into a flat patch. Returns float32.
    """
    mean = rng.uniform(-0.8, 0.8, 3)
    mix = rng.normal(0.0, 1.0, (3, 3)) * 0.7 + np.eye(3) * rng.uniform(0.3, 0.8)
    x = noise.astype(np.float64) @ mix.T + mean
    return (255.0 / (1.0 + np.exp(-x))).astype(np.float32)


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated RGB colour in ``[0, 255]`` (random hue, high saturation and value)."""
    hue = rng.uniform(0.0, 6.0)
    sat = rng.uniform(0.55, 1.0)
    val = rng.uniform(0.35, 1.0)
    k = (np.array([5.0, 3.0, 1.0]) + hue) % 6.0
    rgb = val - val * sat * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (255.0 * rgb).astype(np.float32)


# -- signed distance functions (texels; negative inside) over local coordinates (x, y) --

def sdf_disc(x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    return np.hypot(x, y) - r


def sdf_ring(x: np.ndarray, y: np.ndarray, r: float, width: float) -> np.ndarray:
    return np.abs(np.hypot(x, y) - r) - 0.5 * width


def sdf_box(x: np.ndarray, y: np.ndarray, half_w: float, half_h: float, angle: float,
            corner: float = 0.0) -> np.ndarray:
    """Rounded rectangle rotated by ``angle`` (radians); exact Euclidean SDF."""
    c, s = np.cos(angle), np.sin(angle)
    qx = np.abs(c * x + s * y) - (half_w - corner)
    qy = np.abs(-s * x + c * y) - (half_h - corner)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - corner


def sdf_capsule(x: np.ndarray, y: np.ndarray, length: float, r: float, angle: float) -> np.ndarray:
    """A segment of ``length`` centred at 0 along ``angle``, thickened by ``r``."""
    c, s = np.cos(angle), np.sin(angle)
    along = np.clip(c * x + s * y, -0.5 * length, 0.5 * length)
    return np.hypot(x - along * c, y - along * s) - r


def sdf_blob(x: np.ndarray, y: np.ndarray, r: float, lobes: int, depth: float, phase: float
             ) -> np.ndarray:
    """A star-like blob ``|q| = r (1 + depth cos(lobes * phi + phase))``.

    Approximate SDF: the radial distance divided by the slope of the boundary, which keeps
    the ramp about one texel wide along the whole edge.
    """
    phi = np.arctan2(y, x)
    rad = r * (1.0 + depth * np.cos(lobes * phi + phase))
    slope = r * depth * lobes * np.sin(lobes * phi + phase) / np.maximum(rad, 1e-6)
    return (np.hypot(x, y) - rad) / np.sqrt(1.0 + slope * slope)


def coverage(sd: np.ndarray, softness: float = 1.0) -> np.ndarray:
    """Antialiased coverage in ``[0, 1]`` from a signed distance: 0.5 on the boundary."""
    return np.clip(0.5 - sd / softness, 0.0, 1.0)


def _random_sdf(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    kind = rng.integers(0, 5)
    if kind == 0:
        return sdf_disc(x, y, size)
    if kind == 1:
        return sdf_ring(x, y, size, rng.uniform(0.15, 0.4) * size)
    if kind == 2:
        return sdf_box(x, y, size, size * rng.uniform(0.3, 1.0), rng.uniform(0, np.pi),
                       corner=rng.uniform(0.0, 0.3) * size)
    if kind == 3:
        return sdf_capsule(x, y, 2.0 * size, rng.uniform(0.1, 0.25) * size, rng.uniform(0, np.pi))
    return sdf_blob(x, y, size * 0.8, int(rng.integers(3, 7)), rng.uniform(0.1, 0.3), rng.uniform(0, 6.3))


def draw_shapes(rng: np.random.Generator, tex: np.ndarray, n: int, size_range: tuple[float, float],
                periodic: bool) -> None:
    """Paint ``n`` random antialiased shapes into ``tex`` ``(h, w, 3)`` float32, in place.

    Shapes are discs, rings, rounded boxes, capsules (lines) and blobs, flat or striped,
    ``size_range`` texels in radius. With ``periodic`` a shape crossing an edge continues
    on the opposite edge, so a tiling texture stays tiling.
    """
    h, w = tex.shape[:2]
    for _ in range(n):
        size = float(rng.uniform(*size_range))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        colour = random_colour(rng)
        opacity = rng.uniform(0.7, 1.0)
        striped = rng.random() < 0.3
        stripe_period = rng.uniform(3.0, 8.0)
        stripe_angle = rng.uniform(0, np.pi)
        other = random_colour(rng)
        # State of the generator for this shape's geometry, drawn once.
        geometry_seed = int(rng.integers(0, 2**32))
        reach = 1.6 * size + 3
        x0, x1 = int(np.floor(cx - reach)), int(np.ceil(cx + reach)) + 1
        y0, y1 = int(np.floor(cy - reach)), int(np.ceil(cy + reach)) + 1
        if not periodic:
            x0, x1, y0, y1 = max(x0, 0), min(x1, w), max(y0, 0), min(y1, h)
            if x0 >= x1 or y0 >= y1:
                continue
        xs = np.arange(x0, x1, dtype=np.float64)
        ys = np.arange(y0, y1, dtype=np.float64)
        gx, gy = np.meshgrid(xs - cx, ys - cy)
        sd = _random_sdf(np.random.default_rng(geometry_seed), gx, gy, size)
        a = (opacity * coverage(sd))[..., None]
        fill = np.broadcast_to(colour, gx.shape + (3,))
        if striped:
            phase = (np.cos(stripe_angle) * gx + np.sin(stripe_angle) * gy) * (2 * np.pi / stripe_period)
            mix = (0.5 + 0.5 * np.sin(phase))[..., None]
            fill = colour * mix + other * (1.0 - mix)
        iy = np.arange(y0, y1) % h
        ix = np.arange(x0, x1) % w
        region = tex[np.ix_(iy, ix)]
        tex[np.ix_(iy, ix)] = (region * (1.0 - a) + fill * a).astype(np.float32)


def background_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful tiling background ``(h, w, 3)`` float32 in ``[0, 255]``.

    Multi-scale noise for colour, shapes 3-20 texels in radius (about one per 45x45
    texels, whatever the size) for edges and corners, and fine noise over everything so
    no patch is flat. ``h`` and ``w`` must be multiples of 64.
    """
    tex = colour_field(rng, periodic_noise(rng, h, w))
    draw_shapes(rng, tex, max(6, int(h * w / 2000)), (3.0, 20.0), periodic=True)
    detail = periodic_noise(rng, h, w, channels=1, octaves=(8, 4, 2), weights=(0.5, 0.7, 1.0))
    return np.clip(tex * (1.0 + 0.15 * detail), 0.0, 255.0).astype(np.float32)


def sprite_texture(rng: np.random.Generator, radius: float, margin: int = 4
                   ) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """A foreground object: texture, shape and origin.

    Returns ``(texture, sdf, origin, reach)``: ``texture`` ``(n, n, 3)`` float32 in
    ``[0, 255]``; ``sdf`` ``(n, n)`` float32 signed distance to the object's outline in
    texels (negative inside); ``origin`` ``(x, y)`` texel coordinates of the object's
    centre; ``reach`` the largest distance from the centre to a point inside (texels).
    The outline is a blob, rounded box or ellipse-like superellipse; the inside is noise,
    shapes and a darker rim, so its edges are strong.
    """
    half = int(np.ceil(radius)) + margin
    n = 2 * half + 1
    n_noise = int(np.ceil(n / 64.0)) * 64
    tex = colour_field(rng, periodic_noise(rng, n_noise, n_noise))[:n, :n].copy()
    draw_shapes(rng, tex, max(3, int(n * n / 500)), (1.5, max(3.0, radius / 3.0)), periodic=False)
    detail = periodic_noise(rng, n_noise, n_noise, channels=1, octaves=(8, 4, 2), weights=(0.5, 0.7, 1.0))
    tex *= 1.0 + 0.15 * detail[:n, :n]
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64) - half
    kind = rng.integers(0, 3)
    if kind == 0:
        sd = sdf_blob(xs, ys, radius / 1.3, int(rng.integers(3, 6)), rng.uniform(0.12, 0.28), rng.uniform(0, 6.3))
    elif kind == 1:
        aspect = rng.uniform(0.55, 0.9)
        sd = sdf_box(xs, ys, radius * 0.75, radius * 0.75 * aspect, rng.uniform(0, np.pi),
                     corner=rng.uniform(0.1, 0.35) * radius)
    else:
        # Ellipse as a scaled circle: distance in the stretched frame times the short axis.
        a, b = radius * 0.95, radius * 0.95 * rng.uniform(0.5, 0.85)
        ang = rng.uniform(0, np.pi)
        c, s = np.cos(ang), np.sin(ang)
        u, v = c * xs + s * ys, -s * xs + c * ys
        sd = (np.hypot(u / a, v / b) - 1.0) * b
    rim = rng.uniform(1.5, 3.0)
    darken = np.clip(-sd / rim, 0.0, 1.0)  # 0 on the outline, 1 deeper inside
    tex *= (0.45 + 0.55 * darken)[..., None].astype(np.float32)
    reach = float(np.hypot(xs, ys)[sd <= 0.5].max()) if (sd <= 0.5).any() else 1.0
    return np.clip(tex, 0.0, 255.0).astype(np.float32), sd.astype(np.float32), (float(half), float(half)), reach
