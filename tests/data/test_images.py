"""The image-folder loader and the grid writer, on images the test writes."""

import numpy as np
import pytest
import torch
from PIL import Image

from neurot.data.images import load_image_folder, save_image_grid


def write_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    red = np.zeros((20, 30, 3), dtype=np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(folder / "a_red.png")
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8), mode="L").save(folder / "b_white.jpg", quality=100)
    (folder / "sub").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((5, 5, 4), dtype=np.uint8), mode="RGBA").save(folder / "sub" / "c_black.PNG")
    (folder / "notes.txt").write_text("not an image")


def test_loads_every_image_resized_rgb_in_minus_one_one(tmp_path):
    write_images(tmp_path / "images")
    images = load_image_folder(tmp_path / "images", 12)
    assert images.shape == (3, 3, 12, 12) and images.dtype == torch.float32
    torch.testing.assert_close(images[0, :, 5, 5], torch.tensor([1.0, -1.0, -1.0]))   # red, sorted first
    torch.testing.assert_close(images[1], torch.ones(3, 12, 12), atol=0.02, rtol=0)  # grayscale -> RGB (JPEG)
    torch.testing.assert_close(images[2], -torch.ones(3, 12, 12))                     # RGBA -> RGB, in a subfolder
    gray = load_image_folder(tmp_path / "images", (6, 10), channels=1)
    assert gray.shape == (3, 1, 6, 10)


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "missing", 8)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("hi")
    with pytest.raises(ValueError, match="holds no image files"):
        load_image_folder(tmp_path / "empty", 8)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read .*x\.png as an image"):
        load_image_folder(tmp_path / "broken", 8)
    write_images(tmp_path / "ok")
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        load_image_folder(tmp_path / "ok", 8, channels=2)


def test_grid_round_trips_through_the_loader(tmp_path):
    rows = torch.rand(2, 3, 3, 4, 4) * 2 - 1
    path = save_image_grid(rows, tmp_path / "grid" / "g.png", scale=1, pad=0)
    (tmp_path / "single").mkdir()
    path.rename(tmp_path / "single" / "g.png")
    grid = load_image_folder(tmp_path / "single", (8, 12))[0]
    torch.testing.assert_close(grid[:, 4:8, 8:12], rows[1, 2], atol=1 / 127.5, rtol=0)
