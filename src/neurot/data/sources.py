"""One interface for every kind of training data: a tensor, an array, or a callable ``n -> [n, ...]``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from neurot._validation import PointShape, as_points

#: Points drawn from a callable source to estimate its dimension and scale.
PROBE_SIZE = 4096


@dataclass
class DataSource:
    """Draws batches ``[n, *shape]`` from a finite sample (uniformly, with replacement) or from a callable.

    ``shape`` is the shape of one point (``(D,)`` for vectors, ``(C, H, W)`` for images) and ``dim`` its number
    of entries. ``mean`` (of shape ``shape``) and ``std`` (a scalar: root mean per-coordinate variance) describe
    the data's location and scale; solvers use them to normalise networks and choose step sizes.
    """

    name: str
    points: torch.Tensor | None
    draw: Callable[[int], Any] | None
    dim: int
    mean: torch.Tensor
    std: float
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.shape = tuple(self.shape) or (self.dim,)

    @property
    def point_shape(self) -> PointShape:
        """``D`` for vector data, else the tuple ``shape`` (what :func:`as_points` checks as ``dim``)."""
        return self.shape[0] if len(self.shape) == 1 else self.shape

    @property
    def device(self) -> torch.device:
        """Where the points (and ``mean``) are held and where :meth:`sample` returns batches."""
        return self.mean.device

    def to(self, device: torch.device) -> DataSource:
        """The source with its points and ``mean`` on ``device`` (``self`` when they are there already)."""
        if device == self.device:
            return self
        points = None if self.points is None else self.points.to(device)
        return dataclasses.replace(self, points=points, mean=self.mean.to(device))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return ``n`` points ``[n, *shape]`` on :attr:`device`; ``generator`` must be on that device."""
        if generator is not None and generator.device != self.device:
            raise ValueError(f"{self.name} is held on {self.device} but the generator is on {generator.device}: "
                             "move the source to the generator's device first (DataSource.to)")
        if self.points is not None:
            return self.points[torch.randint(len(self.points), (n,), generator=generator, device=self.device)]
        batch = as_points(f"{self.name} (the value returned by the callable)", self.draw(n),
                          dim=self.point_shape, flat=False)
        if batch.shape[0] != n:
            raise ValueError(f"{self.name} callable returned {batch.shape[0]} points when asked for {n}")
        return batch.to(self.device)

    def moments(self, n: int, generator: torch.Generator | None = None,
                chunk_size: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``[D]`` and covariance ``[D, D]`` (float64, points flattened) of at most ``n`` points.

        A finite sample of at most ``n`` rows gives all of them, a larger one ``n`` rows drawn without replacement;
        a callable gives ``n`` draws. Sums are accumulated over chunks of ``chunk_size`` rows: memory ``D^2``, not
        ``n D``.
        """
        if self.points is not None:
            size = min(n, len(self.points))
            order = torch.randperm(len(self.points), generator=generator, device=self.device)[:size]
            chunks = (self.points[order[start:start + chunk_size]] for start in range(0, size, chunk_size))
        else:
            size = n
            chunks = (self.sample(min(chunk_size, n - start), generator) for start in range(0, n, chunk_size))
        total = torch.zeros(self.dim, dtype=torch.float64, device=self.device)
        outer = torch.zeros(self.dim, self.dim, dtype=torch.float64, device=self.device)
        for chunk in chunks:
            rows = chunk.flatten(1).double()
            total += rows.sum(0)
            outer += rows.T @ rows
        mean = total / size
        return mean, outer / size - torch.outer(mean, mean)


def as_source(name: str, data: Any, *, dim: PointShape | None = None, flat: bool = True) -> DataSource:
    """Validate ``data`` (tensor/array ``[N, D]`` or callable ``n -> [n, D]``) and wrap it as a :class:`DataSource`.

    ``dim``: the required point shape (see :func:`neurot._validation.as_points`); ``flat=False`` also accepts
    points with several axes, such as images ``[N, C, H, W]``. A :class:`DataSource` (checked when it was made) is
    returned as it is once its point shape is checked.
    """
    if isinstance(data, DataSource):
        as_points(name, data.mean[None], dim=dim, flat=flat)
        return data
    if callable(data) and not isinstance(data, torch.Tensor):
        probe = as_points(f"{name} (the value returned by the callable)", data(PROBE_SIZE), dim=dim, flat=flat)
        points, draw = None, data
    else:
        probe = points = as_points(name, data, dim=dim, flat=flat)
        draw = None
    mean = probe.mean(0)
    std = float(probe.var(0, unbiased=False).mean().sqrt()) if len(probe) > 1 else 1.0
    shape = tuple(probe.shape[1:])
    return DataSource(name, points, draw, math.prod(shape), mean, std if std > 0 else 1.0, shape)
