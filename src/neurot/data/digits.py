"""Colored digits, built offline from scikit-learn's bundled 8 x 8 digits (``pip install 'neurot[examples]'``).

The offline stand-in for the EgNOT paper's colored MNIST: each image is a digit upsampled (bilinear) to 16 x 16,
its strokes painted in a random fully saturated hue on black, as 3 channels scaled to ``[-1, 1]``:

    image = 2 * intensity * rgb(hue) - 1,     intensity in [0, 1] (the digit's ink),  rgb(hue) in [0, 1]^3.

Drawing ``n`` images picks base digits with replacement and a fresh hue for each, so a few hundred bundled digits
give any number of distinct colored samples. Since ``max(rgb(hue)) = 1``, the channel-wise maximum gives back the
intensity exactly (:func:`intensity`), which makes classifiers on it color-blind.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

#: Side of the upsampled digits.
SIZE = 16
#: Splits of the bundled digits: every fifth image (by index) is held out for testing.
SPLITS = ("train", "test", "all")


@functools.cache
def _bundled_digits() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the digits data set needs scikit-learn: pip install 'neurot[examples]'") from error
    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    return images, torch.as_tensor(digits.target)


def load_digits(split: str = "all", size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled digits as intensities ``[N, 1, size, size]`` in ``[0, 1]`` (bilinear upsampling) and labels ``[N]``.

    ``split``: ``"train"`` (4/5 of the images), ``"test"`` (every fifth image by index) or ``"all"``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    images, labels = _bundled_digits()
    if split != "all":
        held_out = torch.arange(len(images)) % 5 == 0
        keep = held_out if split == "test" else ~held_out
        images, labels = images[keep], labels[keep]
    if size != images.shape[-1]:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return images, labels


def hue_to_rgb(hue: torch.Tensor) -> torch.Tensor:
    """Fully saturated, full-value colors of hues ``[n]`` in ``[0, 1)``: ``[n, 3]`` in ``[0, 1]`` (HSV to RGB)."""
    k = (torch.tensor([5.0, 3.0, 1.0], device=hue.device) + 6 * hue[:, None]) % 6
    return 1 - torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def rgb_to_hue(rgb: torch.Tensor) -> torch.Tensor:
    """Hues ``[n]`` in ``[0, 1)`` of colors ``[n, 3]`` (the H of HSV; 0 for grays)."""
    r, g, b = rgb.unbind(-1)
    top, delta = rgb.amax(-1), (rgb.amax(-1) - rgb.amin(-1)).clamp_min(1e-12)
    sector = torch.where(top == r, (g - b) / delta, torch.where(top == g, (b - r) / delta + 2, (r - g) / delta + 4))
    return (sector / 6) % 1.0


def colored_digits(
    digit: int | None, n: int, seed: int = 0, split: str = "train", size: int = SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` colored digits ``[n, 3, size, size]`` in ``[-1, 1]`` and their hues ``[n]``.

    ``digit``: the class drawn (None: all classes). Base images are drawn with replacement from ``split`` and
    painted in uniformly random hues, both from a generator seeded by ``seed``.
    """
    images, labels = load_digits(split, size)
    if digit is not None:
        if digit not in range(10):
            raise ValueError(f"digit must be in 0..9 or None, got {digit!r}")
        images = images[labels == digit]
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(len(images), (n,), generator=generator)
    hues = torch.rand(n, generator=generator)
    colored = images[index] * hue_to_rgb(hues)[:, :, None, None]
    return 2 * colored - 1, hues


def intensity(images: torch.Tensor) -> torch.Tensor:
    """The ink of colored digits ``[n, 3, H, W]`` in ``[-1, 1]``: the channel maximum ``[n, 1, H, W]`` in [0, 1]."""
    return ((images.amax(1, keepdim=True) + 1) / 2).clamp(0, 1)


def image_hue(images: torch.Tensor) -> torch.Tensor:
    """Hue ``[n]`` of colored digits ``[n, 3, H, W]``: that of the ink-weighted mean color of the strokes."""
    rgb = ((images + 1) / 2).clamp(0, 1)
    weight = intensity(images)
    mean_color = (rgb * weight).sum((2, 3)) / weight.sum((2, 3)).clamp_min(1e-8)
    return rgb_to_hue(mean_color)


def hue_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Circular distance between hues ``[n]`` in degrees, in ``[0, 180]``."""
    difference = (a - b).abs() % 1.0
    return 360 * torch.minimum(difference, 1 - difference)
