"""Inference in tiles (blurgen.train.tiling): the tiles cover the image, the network sees
tiles of the size asked, and the blend of agreeing tiles is what the whole image gives."""

import pytest
import torch

from blurgen.errors import ConfigError
from blurgen.train.tiling import parse_tile, resolve_tile, tile_starts, tiled


@pytest.mark.parametrize("size,tile,overlap", [(320, 128, 32), (180, 128, 32), (1280, 256, 0), (721, 64, 63),
                                               (129, 128, 0), (128, 128, 32), (100, 128, 32)])
def test_tiles_cover_the_side_and_share_the_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    assert starts[0] == 0 and starts == sorted(set(starts))
    if size <= tile:
        assert starts == [0]
        return
    assert starts[-1] + tile == size
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))  # shared >= overlap, no gap
    assert len(starts) == -(-(size - tile) // (tile - overlap)) + 1  # no more tiles than needed


def test_a_local_network_gives_the_whole_images_flow():
    # a "network" whose output at a pixel depends on that pixel alone: every tile agrees
    # with the whole image where they overlap, so the blend must give the whole image's
    # flow exactly (up to float rounding of the weights)
    blur = torch.rand(2, 3, 180, 320)

    def local(x):
        return torch.stack([x[:, 0] * 7 - x[:, 1], x[:, 2] * 3], dim=1)

    whole = local(blur)
    for tile, overlap in ((128, 32), (64, 0), (100, 99), (256, 17)):
        assert torch.allclose(tiled(local, blur, tile, overlap, batch=3), whole, atol=1e-5), (tile, overlap)


def test_the_network_is_given_tiles_of_the_size_asked():
    seen = []

    def size_says(x):  # flow = the width it was given
        seen.append(tuple(x.shape[-2:]))
        return torch.full((x.shape[0], 2, *x.shape[-2:]), float(x.shape[-1]))

    blur = torch.rand(1, 3, 180, 320)
    out = tiled(size_says, blur, 128, 32, batch=2)
    assert set(seen) == {(128, 128)} and torch.allclose(out, torch.tensor(128.0))
    seen.clear()
    assert torch.allclose(tiled(size_says, blur, 0), torch.tensor(320.0)) and seen == [(180, 320)]
    seen.clear()  # a side shorter than the tile is not cut
    assert torch.allclose(tiled(size_says, blur, 200, 32), torch.tensor(200.0)) and set(seen) == {(180, 200)}


def test_the_blend_has_no_seams():
    # tiles that disagree (each predicts its own constant): across a shared band the flow
    # moves gradually from one to the other, never jumping by the whole difference
    counter = iter(range(100))

    def constant(x):
        return torch.stack([torch.full((2, *x.shape[-2:]), 10.0 * next(counter)) for _ in range(x.shape[0])])

    out = tiled(constant, torch.rand(1, 3, 64, 320), 128, 64, batch=1)[0, 0]
    steps = (out[:, 1:] - out[:, :-1]).abs()
    assert steps.max() < 10.0 / 32  # the 10-unit difference spread over a band of >= 64 px


def test_tile_values():
    assert parse_tile("auto") == "auto" and parse_tile("0") == 0 and parse_tile("256") == 256
    assert parse_tile(128) == 128 and parse_tile(None) == 0
    for bad in ("abc", "-1", "1.5", "100", "32", "-64"):
        with pytest.raises(ConfigError, match="--tile must be"):
            parse_tile(bad)
    assert resolve_tile("auto", {"config": {"crop": 128}}) == 128
    assert resolve_tile("auto", {"config": {}}) == 0 and resolve_tile(64, {}) == 64
    with pytest.raises(ConfigError, match="--tile-overlap must be 0 .. 127"):
        tiled(lambda x: x[:, :2], torch.rand(1, 3, 64, 256), 128, 128)
