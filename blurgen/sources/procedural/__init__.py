"""Procedural layered scenes in continuous time, with exact flow and motion blur.

``scene.Scene`` renders any time and gives the exact flow between any two times;
``catalog`` holds the bundled sample's sequences (``blurgen sample``, written by
``blurgen.sources.sample``); ``textures`` and ``motion`` are its building blocks.
Pure computation: no file I/O.
"""

from blurgen.sources.procedural.catalog import LAYOUTS, SEQUENCES, SeqSpec, build_scene, sequences
from blurgen.sources.procedural.motion import CameraMotion, Clock, SpriteMotion, Wave
from blurgen.sources.procedural.scene import Background, Placement, Scene, Sprite

__all__ = [
    "LAYOUTS", "SEQUENCES", "Background", "CameraMotion", "Clock", "Placement", "Scene",
    "SeqSpec", "Sprite", "SpriteMotion", "Wave", "build_scene", "sequences",
]
