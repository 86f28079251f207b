"""Fits that stop when they are done: a plateau of a held-out check, then a short decay of the learning rate.

A fit with a :class:`Stopping` rule holds out a few points of each marginal, scores the plan on them every
``every`` steps (:meth:`neurot.solvers.base.Solver.evaluate`: the energy distance between the pushforward of the
held-out sources and the held-out targets) and, once that score has stopped improving, decays the learning rate to
0 over a fraction of the steps run so far and ends (docs/math.md section 9). The configured number of steps is then
the most a fit runs, not what it runs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from neurot._validation import check_int, check_positive
from neurot.benchmarks.metrics import two_sample_floor

if TYPE_CHECKING:
    from neurot.data import DataSource
    from neurot.solvers.base import Solver

#: Random halvings of the held-out targets whose scores give the check's noise scale.
NOISE_SPLITS = 8
#: Fewest held-out points per marginal for which the default rule is used (below, fits run every step).
MIN_HELD_OUT = 128


@dataclass
class Stopping:
    """Stop a fit on a plateau of its held-out score, after a cosine decay of the learning rate.

    Attributes:
        every: steps between two checks. A check samples the plan once per held-out source point
            (``sample_steps`` chain steps for EgNOT), a few percent of the training time at 1024 points.
        min_steps: no plateau is declared before this step.
        patience: checks without an improvement that make a plateau: after step ``s`` it is reached when the best
            score of the last ``patience`` checks is not below the best one before them by more than the noise
            scale ``sigma`` (the standard deviation of the score of two random halves of the held-out targets, a
            perfect plan's spread).
        decay: length of the final decay as a fraction of ``s``: the fit ends at step ``s + round(decay s)`` (at
            most the configured number of steps), the rate falling from its value at ``s`` to 0 (:class:`Schedule
            <neurot.optim.Schedule>`).
        held_out: points held out of each marginal, at most a tenth of a finite sample (a callable draws them).

    Every check uses the same held-out points and sampling seed, so the scores of two checks differ by the change of
    the model more than by sampling noise (a paired comparison).

    """

    every: int = 200
    min_steps: int = 1000
    patience: int = 3
    decay: float = 2.0
    held_out: int = 1024
    scores: list[float] = field(default_factory=list, init=False, repr=False)
    noise: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("every", "patience", "held_out"):
            check_int(name, getattr(self, name))
        check_int("min_steps", self.min_steps, minimum=0)
        check_positive("decay", self.decay)

    def held_out_size(self, data: DataSource) -> int:
        """Points to hold out of ``data``: ``held_out``, at most a tenth of a finite sample."""
        return self.held_out if data.points is None else min(self.held_out, len(data.points) // 10)

    def start(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
        """Take held-out sources ``x [M, ...]`` and targets ``y [N, ...]``; estimate the noise scale from ``y``."""
        self.x, self.y, self.seed, self.scores = x, y, seed, []
        flat = y.flatten(1).cpu()
        self.noise = statistics.stdev(two_sample_floor(flat, seed + k) for k in range(NOISE_SPLITS))

    def check(self, solver: Solver, step: int) -> dict[str, float]:
        """At a check step: score the plan, and when the score has plateaued start the decay of ``solver.schedule``.

        Returns ``{"held_out_energy": score}`` at a check, else ``{}`` (no checks once the decay has started).
        """
        if step % self.every or solver.schedule.decay_after is not None:
            return {}
        score = solver.evaluate(self.x, self.y, seed=self.seed)["energy"]
        self.scores.append(score)
        if step >= self.min_steps and self.plateau():
            solver.schedule.decay(step, round(self.decay * step))
        return {"held_out_energy": score}

    def plateau(self) -> bool:
        """Whether the last ``patience`` scores improved on the best earlier one by at most the noise scale."""
        if len(self.scores) <= self.patience:
            return False
        before, recent = min(self.scores[:-self.patience]), min(self.scores[-self.patience:])
        return recent > before - self.noise

    def state_dict(self) -> dict[str, Any]:
        """The scores so far, for checkpoints (the held-out points and noise scale follow from the data and seed)."""
        return {"scores": list(self.scores)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.scores = [float(s) for s in state["scores"]]
