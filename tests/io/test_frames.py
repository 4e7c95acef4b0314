import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.io.frames import Frame, find_gaps, image_size, list_frames, number_position, read_image, write_image
from blurgen.sources.frames import digit_width


def _textured(h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 7 % 256, y * 11 % 256, (x + y) * 5 % 256], axis=2)
    return (img + rng.integers(0, 20, size=img.shape)).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".ppm"])
def test_lossless_round_trip(tmp_path, suffix):
    img = _textured()
    p = tmp_path / f"img{suffix}"
    write_image(p, img)
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out, img)  # also checks RGB order
    assert image_size(p) == img.shape[:2]
    assert sorted(x.name for x in tmp_path.iterdir()) == [p.name]


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_jpeg_round_trip(tmp_path, suffix):
    img = np.zeros((16, 24, 3), np.uint8)
    img[..., 0] = 200  # pure-ish red: a BGR/RGB swap would show as blue
    img[..., 2] = 30
    p = tmp_path / f"img{suffix}"
    write_image(p, img)
    out = read_image(p)
    assert out.shape == img.shape
    assert np.abs(out.astype(int) - img).max() <= 4
    assert image_size(p) == (16, 24)


def test_unicode_path(tmp_path):
    img = _textured(seed=1)
    p = tmp_path / "bïld_日本.png"
    write_image(p, img)
    np.testing.assert_array_equal(read_image(p), img)


def test_gray_16bit_alpha_webp(tmp_path):
    import cv2

    gray = _textured()[..., 0]
    cv2.imencode(".png", gray)[1].tofile(str(tmp_path / "g.png"))
    out = read_image(tmp_path / "g.png")
    assert out.shape == gray.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)

    rgb = _textured(seed=2)
    bgr16 = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    cv2.imencode(".png", bgr16)[1].tofile(str(tmp_path / "d16.png"))
    np.testing.assert_array_equal(read_image(tmp_path / "d16.png"), rgb)

    bgra = np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), np.full(rgb.shape[:2], 7, np.uint8)])
    cv2.imencode(".png", bgra)[1].tofile(str(tmp_path / "a.png"))
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgb)

    ok, buf = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    buf.tofile(str(tmp_path / "w.webp"))
    np.testing.assert_array_equal(read_image(tmp_path / "w.webp"), rgb)  # quality 101 = lossless
    assert image_size(tmp_path / "w.webp") == rgb.shape[:2]


def test_tiff_and_bmp_frames(tmp_path):
    # high-speed cameras often export TIFF sequences, 16-bit ones too
    import cv2

    rgb = _textured(seed=4)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    cv2.imencode(".tif", bgr)[1].tofile(str(tmp_path / "lzw.tif"))
    cv2.imencode(".tiff", bgr, [cv2.IMWRITE_TIFF_COMPRESSION, 1])[1].tofile(str(tmp_path / "raw.tiff"))
    cv2.imencode(".tif", bgr.astype(np.uint16) * 257)[1].tofile(str(tmp_path / "d16.tif"))
    cv2.imencode(".bmp", bgr)[1].tofile(str(tmp_path / "b.bmp"))
    for name in ("lzw.tif", "raw.tiff", "d16.tif", "b.bmp"):
        np.testing.assert_array_equal(read_image(tmp_path / name), rgb, err_msg=name)
    pages = tmp_path / "pages.tif"
    ok, buf = cv2.imencodemulti(".tif", [bgr, bgr[::-1].copy()])
    assert ok
    buf.tofile(str(pages))
    np.testing.assert_array_equal(read_image(pages), rgb)  # the first page
    cv2.imencode(".tif", rgb.astype(np.float32))[1].tofile(str(tmp_path / "f.tif"))
    with pytest.raises(InputError, match="f.tif: cannot decode image .unsupported sample type float32"):
        read_image(tmp_path / "f.tif")
    for name in ("lzw.tif", "raw.tiff", "b.bmp"):
        data = (tmp_path / name).read_bytes()
        cut = _bad(tmp_path, "cut-" + name, data[: len(data) * 9 // 10])
        with pytest.raises(InputError, match="cut-" + name + ": cannot decode image"):
            read_image(cut)


def test_the_frame_number_is_the_run_of_digits_that_changes(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    (tmp_path / "cams").mkdir()
    (tmp_path / "gopro").mkdir()
    for i in (3, 4, 12):
        write_image(tmp_path / "cams" / f"frame{i:04d}_cam2.png", img)  # a camera number after the frame's
        write_image(tmp_path / "gopro" / f"GOPR0384_11_00_{i:06d}.png", img)
    assert [f.index for f in list_frames(tmp_path / "cams")] == [3, 4, 12]
    assert [f.index for f in list_frames(tmp_path / "gopro")] == [3, 4, 12]
    assert number_position(["a1_b7", "a2_b7"]) == 0 and number_position(["a1_b7", "a1_b8"]) == 1
    assert number_position(["x5"]) == -1 and number_position(["a1_b7", "a2"]) == -1  # one file; runs differ in count
    assert digit_width(["frame0003_cam2.png", "frame0004_cam2.png"]) == 4


def _bad(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_bad_images(tmp_path):
    img = _textured(64, 64)
    write_image(tmp_path / "ok.png", img)
    write_image(tmp_path / "ok.jpg", img)
    write_image(tmp_path / "ok.ppm", img)
    png = (tmp_path / "ok.png").read_bytes()
    jpg = (tmp_path / "ok.jpg").read_bytes()
    ppm = (tmp_path / "ok.ppm").read_bytes()
    cases = {
        "empty.png": (b"", "zero bytes"),
        "cut.png": (png[: len(png) * 2 // 3], "truncated PNG"),
        "cut.jpg": (jpg[: len(jpg) * 2 // 3], "truncated JPEG"),
        "cut.ppm": (ppm[:-10], "truncated PPM"),
        "junk.png": (b"hello, not an image" * 10, "corrupt"),
        "garbled.png": (png[:40] + bytes(200) + png[-12:], "corrupt"),
    }
    for name, (data, msg) in cases.items():
        p = _bad(tmp_path, name, data)
        with pytest.raises(InputError, match=msg) as e:
            read_image(p)
        assert name in str(e.value), name
    with pytest.raises(InputError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_write_image_bad_args(tmp_path):
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.bmpx", np.zeros((4, 4, 3), np.uint8))


def test_real_images(realdata):
    im = read_image(realdata / "flyingchairs" / "0000000-img0.ppm")
    assert im.shape == (384, 512, 3) and im.dtype == np.uint8
    assert image_size(realdata / "flyingchairs" / "0000000-img0.ppm") == (384, 512)
    assert image_size(realdata / "sintel_alley_1" / "frame_0002.png") == (436, 1024)
    assert read_image(realdata / "mmflow_tiny" / "00001_img1.ppm").shape == (50, 50, 3)


def test_list_frames(tmp_path):
    for name in ["f_10.png", "f_9.png", "f_100.png", "cam2_0011.PNG", "notes.txt", ".f_5.png"]:
        (tmp_path / name).write_bytes(b"x")
    frames = list_frames(tmp_path)
    assert [f.index for f in frames] == [9, 10, 11, 100]
    assert frames[2] == Frame(11, tmp_path / "cam2_0011.PNG")
    assert [f.index for f in list_frames(tmp_path, exts=[".png"])] == [9, 10, 11, 100]
    assert list_frames(tmp_path, exts=["jpg"]) == []

    (tmp_path / "cover.png").write_bytes(b"x")
    with pytest.raises(InputError, match="cover.png"):
        list_frames(tmp_path)
    assert len(list_frames(tmp_path, ignore_non_numeric=True)) == 4

    (tmp_path / "g_0009.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match=r"index 9: f_9.png and g_0009.jpg"):
        list_frames(tmp_path, ignore_non_numeric=True)


def test_list_frames_missing_folder(tmp_path):
    with pytest.raises(InputError, match="nowhere.*not found"):
        list_frames(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(InputError, match="file.png.*not a folder"):
        list_frames(tmp_path / "file.png")


def test_find_gaps():
    assert find_gaps([]) == []
    assert find_gaps([3]) == []
    assert find_gaps([1, 2, 3]) == []
    assert find_gaps([5, 1, 2, 7, 7]) == [(3, 4), (6, 6)]
    assert find_gaps(range(0, 30, 10)) == [(1, 9), (11, 19)]


def test_written_files_get_the_usual_permissions(tmp_path):
    """Atomic writes go through mkstemp (0o600); the result must be as open() would make it."""
    import os

    import numpy as np

    from blurgen.io.flo import write_flo
    from blurgen.io.frames import write_image

    old = os.umask(0o022)
    try:
        write_image(tmp_path / "a.png", np.zeros((4, 5, 3), np.uint8))
        write_flo(tmp_path / "a.flo", np.zeros((4, 5, 2), np.float32))
    finally:
        os.umask(old)
    for name in ("a.png", "a.flo"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
