"""Fits that stop when they are done: once the plan has settled, a short decay of the learning rate.

A fit with a :class:`Stopping` rule reads its potential on a fixed set of target points every ``every`` steps and
measures how far the plan moved since the last check (the change of its log-potential ``f / eps``). Once the plan
has settled it decays the learning rate to 0 over a fraction of the steps run so far and ends (docs/math.md section
9). The configured number of steps is then the most a fit runs, not what it runs: a plan that keeps moving runs the
whole schedule, exactly as a fit without the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from neurot._validation import check_int, check_positive

if TYPE_CHECKING:
    from neurot.solvers.base import Solver


@dataclass
class Stopping:
    """Stop a fit once its plan has settled, after a cosine decay of the learning rate.

    Attributes:
        every: steps between two checks; a check is one forward pass of the potential over ``points`` points.
        settle: the plan has settled when its change over each of the last ``patience`` checks is at most this many
            nats: the median absolute deviation, over the points ``y_i``, of ``(f_j(y_i) - f_{j-1}(y_i)) / eps``
            (:meth:`~neurot.solvers.base.Solver.log_potential`), i.e. how far the plan's conditional
            log-densities moved between checks ``j - 1`` and ``j``, a constant shift (absorbed by the normaliser)
            counting as none. At the peak learning rate the training noise moves a plan by less than 0.2 nats per
            200 steps only where the entropy is large against the data's scale, elsewhere by 0.2 to tens of nats,
            which a short decay does not remove as the whole schedule does (BENCHMARKS.md).
        min_steps: the plan is not declared settled before this step.
        patience: checks in a row whose change is at most ``settle``.
        decay: length of the final decay as a fraction of the step ``s`` at which the plan settled: the fit ends at
            step ``s + round(decay s)`` (at most the configured number of steps), the rate falling from its value at
            ``s`` to 0 (:class:`Schedule <neurot.optim.Schedule>`).
        points: target points drawn once from the training data at the start of the fit (with replacement), on
            which the potential is read at every check.

    """

    every: int = 200
    settle: float = 0.2
    min_steps: int = 1000
    patience: int = 3
    decay: float = 2.0
    points: int = 1024
    changes: list[float] = field(default_factory=list, init=False, repr=False)
    last: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("every", "patience", "points"):
            check_int(name, getattr(self, name))
        check_int("min_steps", self.min_steps, minimum=0)
        check_positive("decay", self.decay)
        check_positive("settle", self.settle)

    def start(self, y: torch.Tensor) -> None:
        """Take the target points ``y [N, ...]`` the potential is read on; forget earlier checks."""
        self.y, self.changes, self.last = y, [], None

    def check(self, solver: Solver, step: int) -> dict[str, float]:
        """At a check step: measure the plan's change, and once it has settled start the decay of ``solver.schedule``.

        Returns ``{"plan_change": nats}`` at a check from the second on, else ``{}`` (no checks once the decay has
        started).
        """
        if step % self.every or solver.schedule.decay_after is not None:
            return {}
        metrics = self.measure_change(solver.log_potential(self.y))
        if step >= self.min_steps and self.settled():
            solver.schedule.decay(step, round(self.decay * step))
        return metrics

    def measure_change(self, log_potential: torch.Tensor) -> dict[str, float]:
        """Record the change from the last check's ``log_potential [N]`` (none at the first check)."""
        previous, self.last = self.last, log_potential.detach().float()
        if previous is None:
            return {}
        delta = self.last - previous
        self.changes.append(float((delta - delta.median()).abs().median()))
        return {"plan_change": self.changes[-1]}

    def settled(self) -> bool:
        """Whether each of the last ``patience`` changes was at most ``settle`` nats."""
        recent = self.changes[-self.patience:]
        return len(recent) == self.patience and max(recent) <= self.settle

    def state_dict(self) -> dict[str, Any]:
        """The changes and the last log-potential so far, for checkpoints (the points follow from the data and seed)."""
        return {"changes": list(self.changes), "last": None if self.last is None else self.last.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict` (a checkpoint of the earlier held-out-score rule starts the changes afresh)."""
        self.changes = [float(c) for c in state.get("changes", [])]
        last = state.get("last")
        self.last = None if last is None else torch.tensor(last, dtype=torch.float32, device=self.y.device)
