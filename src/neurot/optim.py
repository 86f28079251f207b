"""What every solver's training step shares: the cosine learning-rate schedule and the guarded optimizer step."""

from __future__ import annotations

import math

import torch


def cosine_lr(optimizer: torch.optim.Optimizer, base_lr: float, index: int, length: int) -> float:
    """Set every parameter group of ``optimizer`` to ``base_lr (1 + cos(pi index / length)) / 2``; returns it.

    ``index`` counts from 0 within a phase of ``length`` steps, so the first step trains at ``base_lr`` and the
    rate decays towards 0 at the phase's end.
    """
    lr = base_lr * 0.5 * (1 + math.cos(math.pi * index / max(length, 1)))
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, what: str) -> float:
    """Minimise ``loss`` (a scalar) by one step of ``optimizer``; returns its value.

    A NaN or infinite loss raises ``FloatingPointError`` naming ``what`` before any update, so the weights stay
    those of the last good step (the training loop turns it into :class:`neurot.solvers.DivergenceError`).
    """
    value = loss.item()
    if not math.isfinite(value):
        raise FloatingPointError(f"the {what} loss is {value}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return value
