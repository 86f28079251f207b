"""What every solver's training step shares: the cosine schedule, the guarded optimizer step, reading metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch


def cosine_lr(optimizer: torch.optim.Optimizer, base_lr: float, index: int, length: int) -> float:
    """Set every parameter group of ``optimizer`` to ``base_lr (1 + cos(pi index / length)) / 2``; returns it.

    ``index`` counts from 0 within a phase of ``length`` steps, so the first step trains at ``base_lr`` and the
    rate decays towards 0 at the phase's end.
    """
    return set_lr(optimizer, base_lr * _cosine(index, length))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> float:
    """Set every parameter group of ``optimizer`` to the rate ``lr``; returns it."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def _cosine(index: float, length: int) -> float:
    """``(1 + cos(pi index / length)) / 2``: 1 at ``index = 0``, 0 at ``index = length``."""
    return 0.5 * (1 + math.cos(math.pi * index / max(length, 1)))


@dataclass
class Schedule:
    """The learning-rate factor of every step of a fit of at most ``total`` steps (steps count from 1).

    Step ``k`` trains at ``(1 + cos(pi (k - 1) / total)) / 2`` of the base rate, as :func:`cosine_lr`, until
    :meth:`decay` ends that phase after step ``s`` with a decay of ``d`` steps: step ``s + j`` (``j = 1 .. d``) then
    trains at ``c_s (1 + cos(pi (j - 1) / d)) / 2``, ``c_s`` the factor step ``s + 1`` had, and the fit ends at
    step :attr:`end` ``= s + d``. The rate is continuous at ``s`` and falls to nearly 0 at the new end.
    """

    total: int
    decay_after: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        self.end = self.total if self.end is None else self.end

    def factor(self, step: int) -> float:
        """The factor of step ``step`` (in ``1 .. end``)."""
        if self.decay_after is None or step <= self.decay_after:
            return _cosine(step - 1, self.total)
        start = self.decay_after
        return _cosine(start, self.total) * _cosine(step - start - 1, self.end - start)

    def decay(self, step: int, length: int) -> None:
        """End the cosine over ``total`` after ``step``: decay to 0 over ``length`` more steps (at most to total)."""
        self.decay_after, self.end = step, min(self.total, step + max(length, 1))

    def set_lr(self, optimizer: torch.optim.Optimizer, base_lr: float, step: int) -> float:
        """Set every parameter group of ``optimizer`` to ``base_lr * factor(step)``; returns that rate."""
        return set_lr(optimizer, base_lr * self.factor(step))

    def state_dict(self) -> dict[str, Any]:
        """Where the decay starts and the fit ends, for checkpoints."""
        return {"decay_after": self.decay_after, "end": self.end}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.decay_after, self.end = state["decay_after"], state["end"]


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, what: str,
                   value: float | None = None) -> float:
    """Minimise ``loss`` (a scalar) by one step of ``optimizer``; returns its value.

    A NaN or infinite loss raises ``FloatingPointError`` naming ``what`` before any update, so the weights stay
    those of the last good step (the training loop turns it into :class:`neurot.solvers.DivergenceError`).
    ``value``: the loss already read to the host with the step's other metrics (saves a device synchronisation).
    """
    value = loss.item() if value is None else value
    if not math.isfinite(value):
        raise FloatingPointError(f"the {what} loss is {value}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return value


def read_scalars(values: dict[str, torch.Tensor | float]) -> dict[str, float]:
    """``values`` as Python floats, in order; the 0-d tensors among them are read from their device in one transfer."""
    tensors = {k: v.detach() for k, v in values.items() if isinstance(v, torch.Tensor)}
    read = dict(zip(tensors, torch.stack(list(tensors.values())).tolist(), strict=True)) if tensors else {}
    return {k: read.get(k, v) for k, v in values.items()}
