"""Whatever a decoding library raises reaches the caller as InputError naming the file.

The command-level cases (skip / fail, good samples byte-identical) are in
tests/faults/test_bad_inputs.py; these check the readers themselves.
"""

import struct
import zlib

import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.io import decoding
from blurgen.io.flo import read_flo, write_flo
from blurgen.io.frames import common_size, image_size, read_image, write_image
from blurgen.io.pfm import read_pfm_flow
from blurgen.io.video import probe_video


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


def test_decoding_turns_any_library_error_into_input_error(tmp_path):
    p = tmp_path / "x.bin"
    with pytest.raises(InputError) as e, decoding(p, "thing"):
        struct.unpack(">I", b"\x00")
    assert str(e.value).startswith(f"{p}: cannot decode thing (error: ")
    with pytest.raises(InputError, match="own words"), decoding(p, "thing"):
        raise InputError(p, "own words")  # the readers' own messages pass unchanged
    with pytest.raises(KeyboardInterrupt), decoding(p, "thing"):
        raise KeyboardInterrupt


def test_png_decompression_bomb_names_the_file(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_declaring(100_000, 100_000))
    assert image_size(p) == (100_000, 100_000)  # the header is legal; decoding it is not
    with pytest.raises(InputError) as e:
        read_image(p)
    assert str(p) in str(e.value) and "CV_IO_MAX_IMAGE_PIXELS" in str(e.value)
    assert "\n" not in str(e.value) and "OpenCV(" not in str(e.value)


def test_jpeg_declaring_a_huge_frame_names_the_file(tmp_path):
    p = tmp_path / "a.jpg"
    write_image(p, np.full((16, 16, 3), 128, np.uint8))
    data = bytearray(p.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match="a.jpg: cannot decode image"):
        read_image(p)


def test_header_with_a_zero_side_is_refused(tmp_path):
    p = tmp_path / "w0.png"
    p.write_bytes(_png_declaring(0, 16))
    with pytest.raises(InputError, match="declares 0x16 pixels"):
        image_size(p)


def test_large_legal_frame_still_reads(tmp_path):
    h, w = 4000, 6000  # 24 Mpx: well inside OpenCV's limit, far beyond 1280x720
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x % 256, y % 256, (x // 256 + y // 256) % 256], axis=2).astype(np.uint8)
    p = tmp_path / "big.png"
    write_image(p, img)
    assert image_size(p) == (h, w)
    np.testing.assert_array_equal(read_image(p), img)


def test_common_size_is_not_decided_by_one_bad_first_frame(tmp_path):
    paths = []
    for i in range(9):
        p = tmp_path / f"{i:04d}.png"
        write_image(p, np.zeros((12, 20, 3), np.uint8))
        paths.append(p)
    paths[0].write_bytes(_png_declaring(100_000, 100_000))
    paths[4].write_bytes(b"")  # the middle frame: unreadable, so another frame is probed instead
    size, errors = common_size(paths)
    assert size == (12, 20)
    assert [e.path for e in errors] == [str(paths[4])]
    size, errors = common_size([tmp_path / "missing.png"])
    assert size is None and len(errors) == 1 and "missing.png" in str(errors[0])


def test_mp4_box_larger_than_the_file_is_left_to_ffmpeg(tmp_path):
    import imageio.v2 as imageio

    p = tmp_path / "clip.mp4"
    w = imageio.get_writer(p, fps=240, codec="libx264", macro_block_size=16,
                           ffmpeg_params=["-movflags", "+faststart"], ffmpeg_log_level="error")
    for i in range(8):
        w.append_data(np.full((32, 48, 3), i * 20, np.uint8))
    w.close()
    data = p.read_bytes()
    i = data.find(b"moov") - 4
    p.write_bytes(data[:i] + struct.pack(">I4sQ", 1, b"moov", 1 << 62) + data[i + 8 :])
    try:
        info = probe_video(p)  # ffmpeg's judgement: here it finds no frames in the file
    except InputError as e:
        assert str(p) in str(e)
    else:
        assert info.n_frames == 0


@pytest.mark.parametrize("header", [b"PF\n\xff\xfe 9\n-1.0\n", b"PF\n4 4\nnan\n", b"PF\n-4 4\n-1.0\n"])
def test_pfm_header_garbage_names_the_file(tmp_path, header):
    p = tmp_path / "f.pfm"
    p.write_bytes(header + b"\0" * 16)
    with pytest.raises(InputError) as e:
        read_pfm_flow(p)
    assert str(p) in str(e.value)


def test_flo_header_declaring_a_negative_size_names_the_file(tmp_path):
    p = tmp_path / "f.flo"
    write_flo(p, np.zeros((4, 6, 2), np.float32))
    data = bytearray(p.read_bytes())
    data[4:8] = struct.pack("<i", -6)
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match="f.flo"):
        read_flo(p)
