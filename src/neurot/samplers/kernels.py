"""Langevin kernels for a target density ``exp(-E(y))``, each one ``step`` over a batch of independent chains.

Every kernel proposes ``y' ~ N(mean(y), var I)`` from the current point and its energy gradient; the adjusted
kernels accept or reject the proposal with the Metropolis-Hastings ratio, so they are exact for any step size.

- :class:`ULA` / :class:`MALA`: ``mean = y - (eta / 2) grad E(y)``, ``var = eta`` (MATH.md section 1).
- :class:`GaussianSplitULA` / :class:`GaussianSplitMALA`: for energies ``E(y) = |y - m|^2 / (2 v) + R(y)`` (the
  quadratic cost makes ``v = eps``), integrate the Gaussian part exactly (exponential integrator) and hold ``grad R``
  fixed over the step: with ``a = exp(-eta / (2 v))``, ``mean = y - v (1 - a) grad E(y)``, ``var = v (1 - a^2)``.
  As ``eta -> 0`` this is ULA; as ``eta -> inf`` it draws ``N(y - v grad E(y), v I)``, exact when ``R`` is linear,
  so the usable step is limited by the curvature of the potential, not by ``eps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from neurot.samplers.chain import Target


@dataclass
class ChainState:
    """Points ``y [n, D]`` of ``n`` chains with their energies ``[n]`` and energy gradients ``[n, D]``."""

    y: torch.Tensor
    energy: torch.Tensor
    grad: torch.Tensor

    def where(self, mask: torch.Tensor, other: ChainState) -> ChainState:
        """Rows of ``other`` where ``mask`` ``[n]`` is true, of ``self`` elsewhere."""
        column = mask.view(-1, *([1] * (self.y.ndim - 1)))
        return ChainState(
            torch.where(column, other.y, self.y),
            torch.where(mask, other.energy, self.energy),
            torch.where(column, other.grad, self.grad),
        )


class Kernel:
    """A Gaussian-proposal Langevin kernel; subclasses define :meth:`proposal` and whether they are adjusted."""

    adjusted = False
    needs_gaussian_var = False

    def __init__(self, step_size: float) -> None:
        self.step_size = float(step_size)

    def proposal(self, state: ChainState, gaussian_var: float | None) -> tuple[torch.Tensor, float]:
        """Mean ``[n, D]`` and isotropic variance of the proposal from ``state``."""
        raise NotImplementedError

    def step(
        self, state: ChainState, target: Target, generator: torch.Generator | None
    ) -> tuple[ChainState, torch.Tensor]:
        """One move of every chain. Returns the new state and the mask ``[n]`` of accepted proposals."""
        gaussian_var = target.gaussian_var
        mean, var = self.proposal(state, gaussian_var)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        proposed = target(mean + math.sqrt(var) * noise)
        if not self.adjusted:
            return proposed, torch.ones(len(mean), dtype=torch.bool, device=mean.device)
        reverse_mean, _ = self.proposal(proposed, gaussian_var)
        log_forward = -(proposed.y - mean).square().flatten(1).sum(1) / (2 * var)
        log_reverse = -(state.y - reverse_mean).square().flatten(1).sum(1) / (2 * var)
        log_ratio = state.energy - proposed.energy + log_reverse - log_forward
        uniform = torch.rand(len(mean), generator=generator, device=mean.device, dtype=mean.dtype)
        accepted = torch.log(uniform) < log_ratio
        return state.where(accepted, proposed), accepted


class ULA(Kernel):
    """Unadjusted Langevin: ``y <- y - (eta / 2) grad E(y) + sqrt(eta) xi``."""

    def proposal(self, state: ChainState, gaussian_var: float | None) -> tuple[torch.Tensor, float]:  # noqa: D102
        return state.y - 0.5 * self.step_size * state.grad, self.step_size


class MALA(ULA):
    """Metropolis-adjusted Langevin: the ULA proposal, accepted with the Metropolis-Hastings ratio."""

    adjusted = True


class GaussianSplitULA(Kernel):
    """Langevin with the Gaussian part ``N(m, v I)`` of the energy integrated exactly (see the module docstring)."""

    needs_gaussian_var = True

    def proposal(self, state: ChainState, gaussian_var: float | None) -> tuple[torch.Tensor, float]:  # noqa: D102
        if gaussian_var is None:
            raise ValueError(f"{type(self).__name__} needs an energy with a Gaussian part (a quadratic cost)")
        decay = math.exp(-self.step_size / (2 * gaussian_var))
        return state.y - gaussian_var * (1 - decay) * state.grad, gaussian_var * (1 - decay**2)


class GaussianSplitMALA(GaussianSplitULA):
    """:class:`GaussianSplitULA` proposals with the Metropolis-Hastings correction."""

    adjusted = True


KERNELS: dict[str, type[Kernel]] = {
    "ula": ULA,
    "mala": MALA,
    "split_ula": GaussianSplitULA,
    "split_mala": GaussianSplitMALA,
}
