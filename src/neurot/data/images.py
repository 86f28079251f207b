"""Image folders in, image grids out (Pillow, an optional extra: ``pip install 'neurot[images]'``).

Images are tensors ``[N, C, H, W]`` with values in ``[-1, 1]`` (``2 * pixel / 255 - 1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

#: File suffixes read by :func:`load_image_folder` (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: Pillow modes by number of channels.
MODES = {1: "L", 3: "RGB"}


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("reading and writing images needs Pillow: pip install 'neurot[images]'") from error
    return Image


def load_image_folder(path: str | Path, size: int | Sequence[int], *, channels: int = 3) -> torch.Tensor:
    """Every image file under ``path`` (recursively, sorted by path) as a tensor ``[N, channels, H, W]`` in ``[-1, 1]``.

    ``size``: ``H = W = size`` or ``(H, W)``; images are resized (bilinear, with Pillow's antialiasing) without
    keeping the aspect ratio. Whatever their modes (palette, grayscale, RGBA, ...), images are converted to RGB
    (``channels=3``) or grayscale (``channels=1``). Raises ``FileNotFoundError`` for a missing folder and
    ``ValueError`` for a folder without images or a file that cannot be read as an image (the file is named).
    """
    image_module = _pillow()
    if channels not in MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if not all(isinstance(s, int) and s >= 1 for s in (height, width)):
        raise ValueError(f"size must be a positive int or a pair (H, W) of them, got {size!r}")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist or is not a directory")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"image folder {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    arrays = []
    for file in files:
        try:
            with image_module.open(file) as image:
                image = image.convert(MODES[channels]).resize((width, height), image_module.Resampling.BILINEAR)
                arrays.append(np.asarray(image, dtype=np.float32).reshape(height, width, channels))
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read {file} as an image: {error}") from error
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return images / 127.5 - 1


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images ``[N, C, H, W]`` in ``[-1, 1]`` to ``uint8`` arrays ``[N, H, W, C]`` (values clipped)."""
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_image_grid(rows: torch.Tensor, path: str | Path, *, scale: int = 4, pad: int = 2) -> Path:
    """Write a grid of images ``[R, K, C, H, W]`` in ``[-1, 1]`` (``R`` rows of ``K``) as a PNG; returns the path.

    Each pixel becomes a ``scale x scale`` block; images are separated by ``pad`` gray pixels (before scaling).
    """
    image_module = _pillow()
    if rows.ndim != 5:
        raise ValueError(f"rows must have shape [R, K, C, H, W], got {list(rows.shape)}")
    n_rows, n_cols, channels, height, width = rows.shape
    pixels = to_uint8(rows.reshape(-1, channels, height, width)).reshape(n_rows, n_cols, height, width, channels)
    canvas = np.full((n_rows * (height + pad) + pad, n_cols * (width + pad) + pad, channels), 128, dtype=np.uint8)
    for i in range(n_rows):
        for j in range(n_cols):
            top, left = pad + i * (height + pad), pad + j * (width + pad)
            canvas[top:top + height, left:left + width] = pixels[i, j]
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_module.fromarray(canvas.squeeze(-1) if channels == 1 else canvas).save(path)
    return path
