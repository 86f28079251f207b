"""What every solver's training step shares: the cosine schedule, the guarded optimizer step, reading metrics."""

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
