"""One interface for every kind of training data: a tensor, an array, or a callable ``n -> [n, D]``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from neurot._validation import as_points

#: Points drawn from a callable source to estimate its dimension and scale.
PROBE_SIZE = 4096


@dataclass
class DataSource:
    """Draws batches ``[n, D]`` from a finite sample (uniformly, with replacement) or from a callable.

    ``mean`` ``[D]`` and ``std`` (a scalar: root mean per-coordinate variance) describe the data's location and
    scale; solvers use them to normalise networks and choose step sizes.
    """

    name: str
    points: torch.Tensor | None
    draw: Callable[[int], Any] | None
    dim: int
    mean: torch.Tensor
    std: float

    def sample(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | None = None
    ) -> torch.Tensor:
        """Return ``n`` points ``[n, D]`` on ``device``."""
        if self.points is not None:
            index = torch.randint(len(self.points), (n,), generator=generator, device=self.points.device)
            batch = self.points[index]
        else:
            batch = as_points(f"{self.name} (the value returned by the callable)", self.draw(n), dim=self.dim)
            if batch.shape[0] != n:
                raise ValueError(f"{self.name} callable returned {batch.shape[0]} points when asked for {n}")
        return batch.to(device) if device is not None else batch


def as_source(name: str, data: Any, *, dim: int | None = None) -> DataSource:
    """Validate ``data`` (tensor/array ``[N, D]`` or callable ``n -> [n, D]``) and wrap it as a :class:`DataSource`."""
    if callable(data) and not isinstance(data, torch.Tensor):
        probe = as_points(f"{name} (the value returned by the callable)", data(PROBE_SIZE), dim=dim)
        points, draw = None, data
    else:
        probe = points = as_points(name, data, dim=dim)
        draw = None
    mean = probe.mean(0)
    std = float(probe.var(0, unbiased=False).mean().sqrt()) if len(probe) > 1 else 1.0
    return DataSource(name, points, draw, probe.shape[1], mean, std if std > 0 else 1.0)
