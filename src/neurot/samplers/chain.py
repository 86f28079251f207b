"""The one chain driver: runs a kernel for a number of steps and records diagnostics."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from neurot.samplers.kernels import ChainState, DataJump, Kernel

#: Label of :func:`run_chain` in :mod:`torch.profiler` traces.
PROFILE_LABEL = "neurot.run_chain"


class ChainDivergedError(FloatingPointError):
    """A Markov chain produced NaN or Inf."""


@dataclass
class Target:
    """An unnormalised density ``exp(-energy(y))``; ``energy: [n, D] -> [n]`` differentiable in ``y``.

    ``gaussian`` is ``(m [n, D], v)`` when ``energy(y) = |y - m|^2 / (2 v) + R(y)`` (kernels that split off the
    Gaussian part use it), else None.
    """

    energy: Callable[[torch.Tensor], torch.Tensor]
    gaussian: tuple[torch.Tensor, float] | None = None

    def __call__(self, y: torch.Tensor) -> ChainState:
        """Energies ``[n]`` and first-order gradients ``[n, D]`` at ``y`` (no graph is kept)."""
        with torch.enable_grad():
            y = y.detach().requires_grad_(True)
            energy = self.energy(y)
            (grad,) = torch.autograd.grad(energy.sum(), y)
        return ChainState(y.detach(), energy.detach(), grad)


@dataclass
class ChainResult:
    """Final state of the chains and per-run diagnostics (means over chains and steps)."""

    state: ChainState
    acceptance: float
    grad_norm: float
    energy: float
    steps: int
    extra: dict[str, float] = field(default_factory=dict)

    def diagnostics(self) -> dict[str, float]:
        """Flat dict for logging."""
        return {"acceptance": self.acceptance, "grad_norm": self.grad_norm, "energy": self.energy, **self.extra}


@dataclass(frozen=True)
class EnergyPlateau:
    """A stopping rule: the chains' mean energy has stopped drifting.

    Every ``block`` steps each chain's mean energy over the block is compared with its mean over the block before;
    after at least ``min_steps`` the run stops once the mean of these differences over the ``n`` chains is within
    ``z`` standard errors of zero, i.e. the remaining drift toward the target is below the Monte-Carlo noise of the
    ``n`` chains. It detects relaxation within a mode, not mixing between modes: chains that all stay in the
    modes they started in look stationary too.
    """

    block: int = 25
    min_steps: int = 50
    z: float = 2.0

    def reached(self, previous: torch.Tensor, current: torch.Tensor) -> bool:
        """Whether block means ``current [n]`` no longer differ from ``previous [n]`` (see the class docstring)."""
        change = current - previous
        standard_error = change.std() / math.sqrt(len(change)) if len(change) > 1 else torch.tensor(math.inf)
        return bool(change.mean().abs() <= self.z * standard_error)


def run_chain(
    kernel: Kernel,
    target: Target,
    y0: torch.Tensor,
    n_steps: int,
    generator: torch.Generator | None = None,
    adapter: StepSizeAdapter | None = None,
    stop: EnergyPlateau | None = None,
    jump: DataJump | None = None,
    jump_every: int = 10,
) -> ChainResult:
    """Run ``n_steps`` of ``kernel`` on ``target`` from ``y0`` ``[n, D]``; raise :class:`ChainDivergedError` on NaN.

    With an ``adapter`` the step size is adapted once the chains have run, by the acceptance of every step
    (during training only: adaptation makes the chain inexact, which training tolerates and a final draw should
    not). With a ``stop`` rule, ``n_steps`` is the most the chains run; ``ChainResult.steps`` says how many they ran.
    With a ``jump``, every ``jump_every``-th step is followed by one of its moves (their acceptance is the result's
    ``extra["jump_acceptance"]``).
    The steps never wait for the device: diagnostics stay tensors until the end (a ``stop`` rule reads one number
    per block of steps).
    """
    if kernel.needs_gaussian_part and target.gaussian is None:
        raise ValueError(f"kernel {type(kernel).__name__} needs a target with a Gaussian part (gaussian)")
    with torch.profiler.record_function(PROFILE_LABEL):
        result = _run(kernel, target, y0, n_steps, generator, stop, jump, jump_every)
    if adapter is not None:
        adapter.update(kernel, result.acceptance, steps=result.steps)
    return result


def _run(
    kernel: Kernel, target: Target, y0: torch.Tensor, n_steps: int, generator: torch.Generator | None,
    stop: EnergyPlateau | None, jump: DataJump | None, jump_every: int,
) -> ChainResult:
    """The body of :func:`run_chain` (inputs checked; no adaptation)."""
    state = target(y0)
    accepted = jumped = torch.zeros((), device=y0.device)
    block_sum, previous_block = torch.zeros_like(state.energy), None
    steps_run = 0
    for steps_run in range(1, n_steps + 1):
        state, accepted_now = kernel.step(state, target, generator)
        accepted = accepted + accepted_now.float().mean()
        if jump is not None and steps_run % jump_every == 0:
            state, jumped_now = jump.step(state, target, generator)
            jumped = jumped + jumped_now.float().mean()
        if stop is None:
            continue
        block_sum += state.energy
        if steps_run % stop.block == 0:
            block = block_sum / stop.block
            if previous_block is not None and steps_run >= stop.min_steps and stop.reached(previous_block, block):
                break
            previous_block, block_sum = block, torch.zeros_like(block_sum)
    jumps = steps_run // jump_every if jump is not None else 0
    return _result(kernel, state, accepted, steps_run, {"jump_acceptance": jumped / jumps} if jumps else {})


def _result(kernel: Kernel, state: ChainState, accepted: torch.Tensor, steps_run: int,
            extra: dict[str, torch.Tensor]) -> ChainResult:
    """The chains' diagnostics and the ``extra`` scalars, read from the device in one transfer.

    Raises :class:`ChainDivergedError` on NaN or Inf.
    """
    dtype = state.energy.dtype
    summary = torch.stack([
        state.grad.flatten(1).norm(dim=1).mean(), state.energy.mean(), accepted.to(dtype),
        torch.isfinite(state.y).all().to(dtype), *(value.to(dtype) for value in extra.values()),
    ])
    grad_norm, energy, accepted_sum, finite, *extra_values = summary.tolist()
    if not (math.isfinite(grad_norm) and math.isfinite(energy)) or not finite:
        raise ChainDivergedError(
            f"Langevin chain diverged (NaN/Inf) with {type(kernel).__name__} at step size {kernel.step_size:.3g}; "
            "lower the step size or the learning rate"
        )
    acceptance = accepted_sum / steps_run if steps_run else 1.0
    return ChainResult(state, acceptance, grad_norm, energy, steps_run, dict(zip(extra, extra_values, strict=True)))


class StepSizeAdapter:
    """Robbins-Monro adaptation of a kernel's step size toward a target acceptance rate.

    After a chain run of ``k`` steps: ``log eta <- log eta + rate * k * (acceptance - target)`` (``acceptance`` the
    run's mean), clipped to ``[min_step, max_step]``.
    """

    def __init__(
        self, target_acceptance: float = 0.65, rate: float = 0.1, min_step: float = 1e-8, max_step: float = 1e4
    ) -> None:
        self.target_acceptance = target_acceptance
        self.rate = rate
        self.min_step = min_step
        self.max_step = max_step

    def update(self, kernel: Kernel, acceptance: float, steps: int = 1) -> None:
        """Adjust ``kernel.step_size`` in place after ``steps`` chain steps of mean ``acceptance``.

        The move is that of ``steps`` updates of one step each at that acceptance; only adjusted kernels adapt.
        """
        if not kernel.adjusted:
            return
        log_step = math.log(kernel.step_size) + self.rate * steps * (acceptance - self.target_acceptance)
        kernel.step_size = min(max(math.exp(log_step), self.min_step), self.max_step)
