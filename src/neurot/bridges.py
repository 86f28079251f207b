"""Brownian bridges: the paths of an entropic plan given its end points (the reciprocal property).

With the cost ``1/2 |x - y|^2`` and regularisation ``eps KL(pi || P x Q)``, the Schrodinger bridge's paths given
``X_0 = x`` and ``X_1 = y`` are Brownian bridges with variance ``eps`` per unit time
(docs/math.md, "Bridges"): ``X_t = (1 - t) x + t y + sqrt(eps) (W_t - t W_1)``, so
``X_t ~ N((1 - t) x + t y, eps t (1 - t) I)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def check_times(times: Any, device: torch.device | None = None) -> torch.Tensor:
    """Validate ``times``: a non-empty, non-decreasing 1-D sequence of numbers in ``[0, 1]``; returns ``[k]``."""
    try:
        values = torch.as_tensor(times, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"times must be a sequence of numbers in [0, 1], got {times!r}") from error
    if isinstance(times, bool) or values.dtype == torch.bool or len(values) == 0:
        raise ValueError(f"times must be a non-empty sequence of numbers in [0, 1], got {times!r}")
    if not torch.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise ValueError(f"times must lie in [0, 1], got {values.tolist()}")
    if (values.diff() < 0).any():
        raise ValueError(f"times must be non-decreasing, got {values.tolist()}")
    return values.to(device=device, dtype=torch.get_default_dtype())


def bridge_points(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, eps: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of ``X_t ~ N((1 - t) x + t y, eps t (1 - t) I)`` per row: ``x, y [n, D]``, ``t [n]`` -> ``[n, D]``."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    t = t[:, None]
    return (1 - t) * x + t * y + (eps * t * (1 - t)).sqrt() * noise


def brownian_bridge(x: torch.Tensor, y: torch.Tensor, times: torch.Tensor, eps: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Brownian-bridge paths from ``x [n, D]`` (time 0) to ``y [n, D]`` (time 1) at ``times [k]``: ``[k, n, D]``.

    ``times`` non-decreasing in ``[0, 1]``. One Brownian motion ``W`` per row, drawn at ``times`` and at 1, so the
    points of a row are one consistent path: ``X_t = (1 - t) x + t y + sqrt(eps) (W_t - t W_1)``.
    """
    grid = torch.cat([times, times.new_ones(1)])
    increments = torch.diff(grid, prepend=grid.new_zeros(1)).clamp(min=0)
    noise = torch.randn((len(grid), *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    walk = torch.cumsum(noise * increments.sqrt().to(x.dtype)[:, None, None], 0)
    t = times.to(x.dtype)[:, None, None]
    return (1 - t) * x + t * y + math.sqrt(eps) * (walk[:-1] - t * walk[-1])
