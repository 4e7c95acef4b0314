"""File formats only: PFM, Middlebury .flo, images and frame folders, video, flow colour.

Arrays: images ``(H, W, 3)`` uint8 RGB; flow ``(H, W, 2)`` float32 pixels, ``[..., 0]`` = x.
Bad files raise :class:`blurgen.errors.InputError` naming the file, whatever the decoding
library raised (:func:`decoding`). OpenCV and ffmpeg are loaded only when a function needs
them.
"""

from blurgen.io._decode import decoding

from blurgen.io.flo import read_flo, write_flo
from blurgen.io.flowviz import flow_to_color, write_flow_png
from blurgen.io.frames import Frame, find_gaps, image_size, list_frames, read_image, write_image
from blurgen.io.pfm import read_pfm, read_pfm_flow, write_pfm
from blurgen.io.video import VideoInfo, iter_video_frames, probe_video

__all__ = [
    "Frame",
    "VideoInfo",
    "decoding",
    "find_gaps",
    "flow_to_color",
    "image_size",
    "iter_video_frames",
    "list_frames",
    "probe_video",
    "read_flo",
    "read_image",
    "read_pfm",
    "read_pfm_flow",
    "write_flo",
    "write_flow_png",
    "write_image",
    "write_pfm",
]
