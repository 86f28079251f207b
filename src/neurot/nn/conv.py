"""A small convolutional potential ``f: [n, C, H, W] -> [n]`` for energies on images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neurot._validation import check_activation
from neurot.nn.mlp import ACTIVATIONS


class ConvPotential(nn.Module):
    """``f(y) = scale^2 * g((y - loc) / scale)`` with ``g`` a small CNN: ``[n, C, H, W] -> [n]``.

    ``g``: one 3 x 3 convolution per entry of ``channels`` (the first keeps the resolution, each next one halves
    it with stride 2), each followed by the activation, then a linear read-out of the last feature map to a scalar.
    ``loc [C, H, W]`` and ``scale`` (scalar) are buffers set from the target data (:meth:`set_normalization`), so
    ``f`` has the units of the quadratic cost whatever the pixel range. Smooth activations (SiLU, the default) give
    Langevin samplers a continuous gradient.
    """

    def __init__(
        self, shape: Sequence[int], channels: Sequence[int] = (32, 64, 64), activation: str = "silu"
    ) -> None:
        super().__init__()
        if len(shape) != 3:
            raise ValueError(f"the conv potential needs images [N, C, H, W], got points of shape {list(shape)}")
        check_activation("activation", activation)
        layers: list[nn.Module] = []
        widths = [shape[0], *channels]
        for i, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            stride = 1 if i == 0 else 2
            layers += [nn.Conv2d(width_in, width_out, 3, stride=stride, padding=1), ACTIVATIONS[activation]()]
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            n_features = self.features(torch.zeros(1, *shape)).numel()
        self.readout = nn.Linear(n_features, 1)
        self.register_buffer("loc", torch.zeros(*shape))
        self.register_buffer("scale", torch.ones(()))

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc [C, H, W]`` (e.g. the mean image) and divide by ``scale``."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``[n, C, H, W] -> [n]``."""
        features = self.features((y - self.loc) / self.scale)
        return self.scale.square() * self.readout(features.flatten(1)).squeeze(-1)


class ConvClassifier(nn.Module):
    """Logits ``[n, n_classes]`` of images ``[n, C, H, W]``.

    Two blocks (3 x 3 convolution, ReLU, 2 x 2 max-pool) of ``width`` and ``2 * width`` channels, then a linear layer.
    """

    def __init__(self, shape: Sequence[int], n_classes: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(shape[0], width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        with torch.no_grad():
            n_features = self.features(torch.zeros(1, *shape)).numel()
        self.readout = nn.Linear(n_features, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[n, C, H, W] -> [n, n_classes]``."""
        return self.readout(self.features(images).flatten(1))
