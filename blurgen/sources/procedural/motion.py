"""Smooth continuous-time motion: a motion clock and the 2D similarity transforms of layers.

Time ``t`` is in frames (frame ``k`` of a sequence is rendered at ``t = k`` of its scene).
Every layer of a scene moves as a function of one scene-wide *motion clock*
``tau = clock(t)`` (units: pixels of travel), so one clock sets how fast the whole scene
moves and how that speed changes over time (acceleration), while the layers' paths stay
fixed curves. A layer at ``tau`` maps its texture (or local) coordinates ``u`` to screen
pixels ``p = M u + c`` with ``M = scale * R(angle)``. Pixel coordinates are pixel centres:
``(0, 0)`` is the centre of the top-left pixel, ``x`` right, ``y`` down. All float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Wave:
    """``amp * sin(2 pi tau / wavelength + phase)``; ``amp = 0`` is constant zero."""

    amp: float = 0.0
    wavelength: float = 1.0
    phase: float = 0.0

    def __call__(self, tau: float) -> float:
        if self.amp == 0.0:
            return 0.0
        return self.amp * math.sin(2.0 * math.pi * tau / self.wavelength + self.phase)


@dataclass(frozen=True)
class Clock:
    """The motion clock ``tau(t)``: frame time -> travelled distance (pixels).

    A monotone piecewise cubic Hermite curve through the knots ``(t_start + k, taus[k])``
    with slopes ``slopes[k]`` (pixels per frame); linear beyond the first and last knots.
    Build it with :meth:`from_steps`.
    """

    t_start: float
    taus: tuple[float, ...]
    slopes: tuple[float, ...]

    @classmethod
    def from_steps(cls, steps, t_start: float = 0.0, tau_start: float = 0.0) -> "Clock":
        """A clock that advances by ``steps[k]`` (>= 0) between ``t_start + k`` and ``t_start + k + 1``.

        The slope at an inner knot is the geometric mean of the two steps beside it, so the
        speed changes smoothly (C1) and the curve never runs backwards; at the two end
        knots it is the end step.
        """
        steps = [float(s) for s in steps]
        if not steps or min(steps) < 0:
            raise ValueError("clock steps must be a non-empty list of non-negative numbers")
        taus = [float(tau_start)]
        for s in steps:
            taus.append(taus[-1] + s)
        slopes = [steps[0]]
        slopes += [math.sqrt(a * b) for a, b in zip(steps[:-1], steps[1:])]
        slopes.append(steps[-1])
        return cls(float(t_start), tuple(taus), tuple(slopes))

    @classmethod
    def linear(cls, rate: float) -> "Clock":
        """``tau = rate * t``."""
        return cls.from_steps([rate])

    def __call__(self, t: float) -> float:
        x = float(t) - self.t_start
        last = len(self.taus) - 1
        if x <= 0.0:
            return self.taus[0] + self.slopes[0] * x
        if x >= last:
            return self.taus[-1] + self.slopes[-1] * (x - last)
        k = min(int(math.floor(x)), last - 1)
        f = x - k
        t0, t1 = self.taus[k], self.taus[k + 1]
        m0, m1 = self.slopes[k], self.slopes[k + 1]
        f2, f3 = f * f, f * f * f
        return ((2 * f3 - 3 * f2 + 1) * t0 + (f3 - 2 * f2 + f) * m0
                + (-2 * f3 + 3 * f2) * t1 + (f3 - f2) * m1)


def rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


@dataclass(frozen=True)
class CameraMotion:
    """The background layer: a camera gliding over a tiling texture.

    At ``tau`` the screen point ``centre`` shows the texture point
    ``w(tau) = start + tau * d + sway(tau) * n`` (``d`` the unit heading, ``n`` its normal),
    the view is rolled by ``roll(tau)`` radians and zoomed by ``exp(zoom(tau))``. Content
    therefore moves on screen at about one pixel per unit of ``tau``, against ``d``.
    """

    centre: tuple[float, float]
    start: tuple[float, float]
    heading: float
    sway: Wave = Wave()
    roll: Wave = Wave()
    zoom: Wave = Wave()

    def affine(self, tau: float) -> tuple[np.ndarray, np.ndarray]:
        """``(M, c)``: screen ``p = M @ u + c`` for texture coordinates ``u`` (texel centres)."""
        d = np.array([math.cos(self.heading), math.sin(self.heading)])
        n = np.array([-d[1], d[0]])
        w = np.asarray(self.start, float) + tau * d + self.sway(tau) * n
        m = math.exp(self.zoom(tau)) * rotation(self.roll(tau))
        return m, np.asarray(self.centre, float) - m @ w


@dataclass(frozen=True)
class SpriteMotion:
    """A foreground object: its centre drifts and wobbles, it spins and breathes in scale.

    Centre ``start + velocity * tau + (wobble_x(tau), wobble_y(tau))`` (screen pixels);
    angle ``angle0 + spin * tau`` (radians); scale ``scale0 * exp(breath(tau))``.
    """

    start: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    wobble_x: Wave = Wave()
    wobble_y: Wave = Wave()
    angle0: float = 0.0
    spin: float = 0.0
    scale0: float = 1.0
    breath: Wave = Wave()

    def affine(self, tau: float) -> tuple[np.ndarray, np.ndarray]:
        """``(M, c)``: screen ``p = M @ u + c`` for local coordinates ``u`` (texels, centre 0)."""
        c = np.array([self.start[0] + tau * self.velocity[0] + self.wobble_x(tau),
                      self.start[1] + tau * self.velocity[1] + self.wobble_y(tau)])
        return self.scale(tau) * rotation(self.angle0 + self.spin * tau), c

    def scale(self, tau: float) -> float:
        return self.scale0 * math.exp(self.breath(tau))
