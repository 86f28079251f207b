"""Langevin kernels for a target density ``exp(-E(y))``, each one ``step`` over a batch of independent chains.

Every kernel proposes ``y' ~ N(mean(y), var I)`` from the current point and its energy gradient; the adjusted
kernels accept or reject the proposal with the Metropolis-Hastings ratio, so they are exact for any step size.

- :class:`ULA` / :class:`MALA`: ``mean = y - (eta / 2) grad E(y)``, ``var = eta`` (docs/math.md section 1).
- :class:`GaussianSplitULA` / :class:`GaussianSplitMALA`: for energies ``E(y) = |y - m|^2 / (2 v) + R(y)`` (the
  quadratic cost makes ``m = x``, ``v = eps``), integrate the Gaussian part exactly (exponential integrator) and hold
  ``grad R`` fixed over the step: with ``a = exp(-eta / (2 v))``, ``mean = m + a (y - m) - v (1 - a) grad R(y)``,
  ``var = v (1 - a^2)``. As ``eta -> 0`` this is ULA; as ``eta -> inf`` it draws ``N(m - v grad R(y), v I)``, exact
  when ``R`` is linear, so the usable step is limited by the curvature of the potential, not by ``eps``.

Every kernel tames its gradient move (as the tamed Langevin algorithm of Brosse et al., 2019, tames its drift): the
move ``-(eta / 2) grad E`` (split kernels: ``-v (1 - a) grad R``) of a chain is shortened to at most ``max_move``
times the length ``sqrt(var D)`` of the proposal's noise. Chains in the bulk of the target move less than that and
are unaffected. Untamed, a chain where the energy is steep (a spurious well of a potential still being trained)
overshoots and is rejected forever; training then keeps deepening the well under the stuck chains, the energy
steepens, the adapted step size collapses and the potential runs off. The adjusted kernels use the same tamed
proposal in the reverse direction, so they stay exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

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
    needs_gaussian_part = False
    #: Longest gradient move, in lengths ``sqrt(var D)`` of the proposal's noise (see the module docstring).
    max_move = 2.0

    def __init__(self, step_size: float) -> None:
        self.step_size = float(step_size)

    def proposal(self, state: ChainState, target: Target) -> tuple[torch.Tensor, float]:
        """Mean ``[n, D]`` and isotropic variance of the proposal from ``state``."""
        raise NotImplementedError

    def tame(self, move: torch.Tensor, var: float) -> torch.Tensor:
        """``move [n, ...]`` with each chain's row shortened to at most ``max_move * sqrt(var D)``."""
        length = move.flatten(1).norm(dim=1)
        limit = self.max_move * math.sqrt(var * move[0].numel())
        return move * (limit / length).clamp(max=1).view(-1, *[1] * (move.ndim - 1))

    def step(
        self, state: ChainState, target: Target, generator: torch.Generator | None
    ) -> tuple[ChainState, torch.Tensor]:
        """One move of every chain. Returns the new state and the mask ``[n]`` of accepted proposals."""
        mean, var = self.proposal(state, target)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        proposed = target(mean + math.sqrt(var) * noise)
        if not self.adjusted:
            return proposed, torch.ones(len(mean), dtype=torch.bool, device=mean.device)
        reverse_mean, _ = self.proposal(proposed, target)
        log_forward = -(proposed.y - mean).square().flatten(1).sum(1) / (2 * var)
        log_reverse = -(state.y - reverse_mean).square().flatten(1).sum(1) / (2 * var)
        log_ratio = state.energy - proposed.energy + log_reverse - log_forward
        uniform = torch.rand(len(mean), generator=generator, device=mean.device, dtype=mean.dtype)
        accepted = torch.log(uniform) < log_ratio
        return state.where(accepted, proposed), accepted


class ULA(Kernel):
    """Unadjusted Langevin: ``y <- y - (eta / 2) grad E(y) + sqrt(eta) xi``."""

    def proposal(self, state: ChainState, target: Target) -> tuple[torch.Tensor, float]:  # noqa: D102
        return state.y + self.tame(-0.5 * self.step_size * state.grad, self.step_size), self.step_size


class MALA(ULA):
    """Metropolis-adjusted Langevin: the ULA proposal, accepted with the Metropolis-Hastings ratio."""

    adjusted = True


class GaussianSplitULA(Kernel):
    """Langevin with the Gaussian part ``N(m, v I)`` of the energy integrated exactly (see the module docstring)."""

    needs_gaussian_part = True

    def proposal(self, state: ChainState, target: Target) -> tuple[torch.Tensor, float]:  # noqa: D102
        if target.gaussian is None:
            raise ValueError(f"{type(self).__name__} needs an energy with a Gaussian part (a quadratic cost)")
        m, v = target.gaussian
        decay = math.exp(-self.step_size / (2 * v))
        var = v * (1 - decay**2)
        grad_rest = state.grad - (state.y - m) / v
        return m + decay * (state.y - m) + self.tame(-v * (1 - decay) * grad_rest, var), var


class GaussianSplitMALA(GaussianSplitULA):
    """:class:`GaussianSplitULA` proposals with the Metropolis-Hastings correction."""

    adjusted = True


#: Below its largest term by more than this, a log-sum-exp term is raised to that floor (see DataJump.log_density).
LOG_UNDERFLOW = 80.0


class DataJump(nn.Module):
    """Independence Metropolis-Hastings moves to the data, which cross between separated modes.

    Proposes ``y' = r_j + h z`` (``r_j`` a uniformly drawn reference point, ``z ~ N(0, I)``), i.e. from the kernel
    density ``q(y) = (1 / M) sum_k N(y; r_k, h^2 I)`` of the references ``r [M, ...]`` (points of the target
    distribution), and accepts with ``min(1, exp(E(y) - E(y')) q(y) / q(y'))``: exact for any references and
    bandwidth, and a chain reaches a mode far from its start in one move whenever the references put points there.
    Langevin moves explore within a mode; these jumps carry chains between modes in proportion to the target's mass.
    Its draws also serve :func:`neurot.samplers.resampled_starts`. A module so that the references (a buffer) are
    saved with a model.
    """

    def __init__(self, references: torch.Tensor, bandwidth: float) -> None:
        super().__init__()
        self.register_buffer("references", references)
        self.bandwidth = float(bandwidth)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        """``log q(y) + (D / 2) log(2 pi)``, ``[n]``, for ``y [n, ...]`` of ``D`` entries.

        Like the Gaussian density of the start near ``x`` that :func:`neurot.samplers.resampled_starts` compares it
        with, it leaves out the factor ``(2 pi)^(-D/2)``, which also cancels in the jump's ratio.
        """
        references = self.references.flatten(1)
        log_terms = -torch.cdist(y.flatten(1), references).square() / (2 * self.bandwidth**2)
        # Terms more than e^80 below the largest add nothing in float32; raising them to that floor keeps the
        # exponential off its slow underflow path on a CPU (BENCHMARKS.md, data jumps).
        floor = log_terms.amax(dim=1, keepdim=True) - LOG_UNDERFLOW
        log_sum = torch.logsumexp(log_terms.clamp(min=floor), dim=1)
        return log_sum - math.log(len(references)) - references.shape[1] * math.log(self.bandwidth)

    def propose(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` independent draws ``[n, ...]`` of the kernel density ``q``."""
        references = self.references
        rows = torch.randint(len(references), (n,), generator=generator, device=references.device)
        noise = torch.randn((n, *references.shape[1:]), generator=generator, device=references.device,
                            dtype=references.dtype)
        return references[rows] + self.bandwidth * noise

    def step(
        self, state: ChainState, target: Target, generator: torch.Generator | None
    ) -> tuple[ChainState, torch.Tensor]:
        """One jump proposal for every chain. Returns the new state and the mask ``[n]`` of accepted jumps."""
        proposed = target(self.propose(len(state.y), generator))
        log_ratio = state.energy - proposed.energy + self.log_density(state.y) - self.log_density(proposed.y)
        uniform = torch.rand(len(state.y), generator=generator, device=state.y.device, dtype=state.y.dtype)
        accepted = torch.log(uniform) < log_ratio
        return state.where(accepted, proposed), accepted


KERNELS: dict[str, type[Kernel]] = {
    "ula": ULA,
    "mala": MALA,
    "split_ula": GaussianSplitULA,
    "split_mala": GaussianSplitMALA,
}
