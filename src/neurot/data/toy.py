"""Toy 2-D distributions (and the standard Gaussian in any dimension) as seeded samplers ``n -> [n, D]``."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Sampler = Callable[[int], torch.Tensor]


def gaussian(n: int, generator: torch.Generator, dim: int = 2) -> torch.Tensor:
    """Standard normal ``N(0, I)``: ``[n, dim]``."""
    return torch.randn(n, dim, generator=generator)


def swiss_roll(n: int, generator: torch.Generator) -> torch.Tensor:
    """The 2-D Swiss roll of the EgNOT paper (scikit-learn's curve, scaled to unit-order spread): ``[n, 2]``."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 7.5
    return points + 0.05 * torch.randn(n, 2, generator=generator)


def moons(n: int, generator: torch.Generator) -> torch.Tensor:
    """Two interleaved half circles, centred: ``[n, 2]``."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1)
    return points + 0.05 * torch.randn(n, 2, generator=generator)


def checkerboard(n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform on the dark squares of a 4 x 4 checkerboard on ``[-2, 2]^2``: ``[n, 2]``."""
    x = 4 * torch.rand(n, generator=generator) - 2
    y = torch.rand(n, generator=generator) - 2 * torch.randint(0, 2, (n,), generator=generator)
    return torch.stack([x, y + torch.floor(x) % 2], dim=1)


def eight_gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    """Eight Gaussians (std 0.1) on a circle of radius 2: ``[n, 2]``."""
    k = torch.randint(0, 8, (n,), generator=generator).float()
    centres = 2 * torch.stack([torch.cos(k * math.pi / 4), torch.sin(k * math.pi / 4)], dim=1)
    return centres + 0.1 * torch.randn(n, 2, generator=generator)


#: Where :func:`gaussian_outliers` puts its far-away points, and their share of the sample.
OUTLIER_CENTRE, OUTLIER_SHARE = (8.0, 8.0), 0.02


def gaussian_outliers(n: int, generator: torch.Generator) -> torch.Tensor:
    """``N((0.5, 0), 0.25 I)`` with 2 % of the points moved to ``N((8, 8), 0.25 I)``, far away: ``[n, 2]``.

    The unbalanced-OT test case: a balanced plan must send 2 % of the mass to the outliers.
    """
    points = torch.tensor([0.5, 0.0]) + 0.5 * torch.randn(n, 2, generator=generator)
    outlier = torch.rand(n, generator=generator) < OUTLIER_SHARE
    return torch.where(outlier[:, None], points - torch.tensor([0.5, 0.0]) + torch.tensor(OUTLIER_CENTRE), points)


TOY_SETS: dict[str, Callable[[int, torch.Generator], torch.Tensor]] = {
    "gaussian": gaussian,
    "swiss_roll": swiss_roll,
    "moons": moons,
    "checkerboard": checkerboard,
    "8gaussians": eight_gaussians,
    "gaussian_outliers": gaussian_outliers,
}


def toy_sampler(name: str, seed: int = 0) -> Sampler:
    """A seeded sampler ``n -> [n, 2]`` of the toy set ``name`` (one of :data:`TOY_SETS`)."""
    if name not in TOY_SETS:
        raise ValueError(f"unknown toy data set {name!r}; expected one of {sorted(TOY_SETS)}")
    generator = torch.Generator().manual_seed(seed)
    make = TOY_SETS[name]
    return lambda n: make(n, generator)
