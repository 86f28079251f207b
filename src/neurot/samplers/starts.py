"""Chain starts by sampling-importance-resampling: near the source point or at the target's data, as the energy says."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from neurot.samplers.chain import Target
from neurot.samplers.kernels import DataJump

#: Most (candidate, reference) pairs whose distances :func:`resampled_starts` holds at once (memory bound).
MAX_PAIRS = 2**24


@torch.no_grad()
def resampled_starts(
    x: torch.Tensor,
    conditional: Callable[[torch.Tensor], Target],
    data: DataJump,
    candidates: int = 32,
    noise: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One chain start ``[n, ...]`` per row of ``x [n, ...]``, drawn approximately from ``conditional(x)``.

    Each row draws ``candidates`` points, one from ``N(x, s^2 I)`` (``s = noise``, default the data density's
    bandwidth) and the others from the kernel density ``q_data`` of the target's points held by ``data``, and keeps
    candidate ``k`` with probability proportional to ``exp(-E_x(y_k)) / q(y_k)``, where
    ``q = (N(x, s^2 I) + (candidates - 1) q_data) / candidates`` is the law the candidates came from
    (sampling-importance-resampling, Rubin 1988). As ``candidates`` grows the kept point's law tends to ``exp(-E_x)``
    normalised; with a few dozen it already starts chains in each mode with about the mode's mass, modes far from
    ``x`` included when target points lie there, which Langevin moves from ``N(x, s^2 I)`` alone would not reach.
    Where no data candidate is competitive the start is the ``N(x, s^2 I)`` draw itself.
    ``conditional(x)`` is the target ``exp(-E_x)`` of the rows ``x``; only energies are evaluated, in chunks of
    rows that bound the distances to the references held at once by :data:`MAX_PAIRS`.
    """
    references = data.references
    chunk = max(1, MAX_PAIRS // (candidates * len(references)))
    return torch.cat([_resample(rows, conditional, data, candidates, noise or data.bandwidth, generator)
                      for rows in x.split(chunk)])


def _resample(x: torch.Tensor, conditional: Callable[[torch.Tensor], Target], data: DataJump, candidates: int,
              noise: float, generator: torch.Generator | None) -> torch.Tensor:
    """:func:`resampled_starts` for one chunk of rows ``x [n, ...]``."""
    n, shape = len(x), x.shape[1:]
    near = x + noise * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    far = data.propose(n * (candidates - 1), generator).view(n, candidates - 1, *shape)
    y = torch.cat([near[:, None], far], dim=1).flatten(0, 1)                               # [n K, ...]
    x_repeated = x.repeat_interleave(candidates, dim=0)
    dim = x[0].numel()
    log_near = -(y - x_repeated).square().flatten(1).sum(1) / (2 * noise**2) - dim * math.log(noise)
    log_data = data.log_density(y)
    log_mixture = torch.logaddexp(log_near - math.log(candidates),
                                  log_data + math.log((candidates - 1) / candidates))
    log_weight = -conditional(x_repeated).energy(y) - log_mixture
    log_weight = torch.nan_to_num(log_weight.view(n, candidates), nan=-1e30, posinf=1e30, neginf=-1e30)
    pick = torch.multinomial(torch.softmax(log_weight, dim=1), 1, generator=generator).squeeze(1)
    return y.view(n, candidates, *shape)[torch.arange(n, device=x.device), pick]
