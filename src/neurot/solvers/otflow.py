"""OT flow: dynamic optimal transport by an invertible flow network (Xu, Cheng, Xie, AISTATS 2025, arXiv 2305.11857).

A velocity field ``v(x, t)`` defines the flow ``dx/dt = v(x, t)`` on ``t in [0, 1]``; ``T(x) = x(1)`` from
``x(0) = x ~ P`` should push ``P`` to ``Q`` with the least kinetic energy (Benamou-Brenier, docs/math.md section 6):

    min_v  integral_0^1 E |v(x_t, t)|^2 dt,   x_0 ~ P, x_1 ~ Q   (= W2^2(P, Q) = E |x - T*(x)|^2 at the optimum).

Training runs four phases over the ``steps`` of :meth:`~neurot.solvers.base.Solver.fit`, in this order, their lengths
in the proportions ``warmup_steps : ratio_steps : refine_steps : reflow_steps``:

1. **Warm start** by conditional flow matching: ``x_t = (1 - t) x_0 + t x_1``, loss ``E |v(x_t, t) - (x_1 - x_0)|^2``,
   with ``(x_0, x_1)`` independent pairs (``coupling="independent"``) or, by default (``coupling="ot"``), drawn from
   a pool of ``coupled_pairs`` pairs coupled by the exact OT assignment in blocks of ``coupling_size`` points.
   The oldest block is replaced by a fresh one every ``pair_reuse * coupling_size / batch_size`` steps, so that a
   pair is drawn about ``pair_reuse`` times. The learned field's kinetic energy is at most the pool's coupling
   cost, close to the OT cost when blocks are large (a few thousand points in 2-D). Large blocks shared by many
   steps, instead of a small assignment per step, are cheaper and give straighter, less crossing pairs; the
   refresh keeps the network from fitting one finite set of pairs (D = 8 Gaussians, a fixed pool of 16384 pairs:
   map L2-UVP 1.9 %, 65536 pairs: 0.19 %). In high dimension blocks of a few thousand points couple badly: the
   flow's end map stays close to the Brenier map, but the field averages crossing pairs and its paths curve, so
   its kinetic energy exceeds ``1/2 W2^2`` (Gaussians: by 8 % at D = 16, 25 % at D = 64; BENCHMARKS.md).
2. **Infinitesimal density ratio**: the flow frozen, a time score ``r(x, t)`` is fitted with logistic losses between
   consecutive snapshots ``p_{k-1}, p_k`` of the flow on a grid ``0 = s_0 < ... < s_L = 1`` (half the batch
   pushed forward from ``P`` with ``Q`` itself as the last snapshot, half backward from ``Q`` with ``P`` as the
   first), each interval's logit being ``integral_{s_{k-1}}^{s_k} r(x, s) ds`` (2-point Gauss-Legendre). The optimum
   is ``r(x, t) = d/dt log p_t(x)``, hence ``log q(x) - log p(x) = integral_0^1 r(x, s) ds``.
   The integral does not depend on the path between ``P`` and ``Q``, only on the time score matching the laws
   ``p_t`` it was trained on. This phase runs on the warm-started flow, before the reflow straightens it, because
   the estimate measured better on the warm start's paths (Gaussian mutual information at D = 80: 20.40 nats of
   20.43 on them, 17.53 on the straightened ones; BENCHMARKS.md).
3. **Refinement** (the OT flow paper's, off by default: on Gaussians up to D = 64 it improved the map less than the
   reflow, at about ten times its cost; BENCHMARKS.md) of the relaxed objective, one direction per step,
   alternating P -> Q and Q -> P (the inverse flow):
   ``KL(T_# P || Q) + gamma * K / s^2``, with ``K = sum_k 1/2 |x(t_k) - x(t_{k-1})|^2 / (t_k - t_{k-1})`` the
   discretised kinetic energy on the integration grid and ``s`` the data scale (so ``gamma`` has no units). The KL
   term is replaced by ``-E_P[r(T(x))]`` with ``r`` a logistic classifier between ``Q`` and pushed samples
   (optimum ``r = log q - log p_1``), refitted before every flow update: no log-determinant is needed. After the
   OT-coupled warm start the flow is already close to the optimum and ``T_# P`` close to ``Q``; the classifier is
   then at chance (loss ``2 log 2``) and Adam turns its noise into steps of size ``refine_lr``, which makes the
   pushforward drift (moons -> checkerboard: ``E |T(x)|^2`` off by +-4 % within 300 steps at 2e-5), hence the
   small default ``refine_lr``.
4. **Reflow** (Liu, Gong, Liu, ICLR 2023, "rectified flow"): the same loss on ``reflow_pairs`` pairs ``(x, T(x))``
   of the flow itself, ``x ~ P``, drawn once when the phase starts, at the rate ``reflow_lr``. These
   pairs never cross (``T`` is a flow's map), so the refitted field moves along straight lines from ``x`` to
   ``T(x)``: the paths straighten, the kinetic energy falls to the end map's own cost, and the map keeps (here
   slightly improves) its accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from neurot._validation import (
    check_activation,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_probability,
    check_widths,
)
from neurot.bridges import check_times
from neurot.data import DataSource
from neurot.integrators import ODE_METHODS, integrate, time_grid
from neurot.nn import LogitMLP, TimeScore, VelocityField, logistic_loss
from neurot.optim import cosine_lr, optimizer_step, read_scalars
from neurot.solvers.base import Solver

#: The training phases' lengths, in their order (module docstring).
PHASES = ("warmup_steps", "ratio_steps", "refine_steps", "reflow_steps")

#: Nodes (in [0, 1]) and weights of 2-point Gauss-Legendre quadrature on one interval.
_GAUSS_NODES = (0.5 - 0.5 / math.sqrt(3.0), 0.5 + 0.5 / math.sqrt(3.0))


@dataclass
class OTFlowConfig:
    """Options of :class:`OTFlow`; every one has a working default.

    Attributes:
        hidden, activation: widths and activation of the velocity MLP ``v(x, t)`` (smooth: ``"silu"``).
        method: ODE integrator, one of :data:`neurot.integrators.ODE_METHODS` (``"rk4"`` as in the reference).
        ode_steps: fixed steps on ``[0, 1]`` (also the grid of the kinetic energy); ``rtol``, ``atol``: ``dopri5``.
        warmup_steps, ratio_steps, refine_steps, reflow_steps: lengths of the four training phases, in their order
            (module docstring); a ``fit(steps=N)`` keeps their proportions.
        batch_size: points per batch from each of P and Q.
        coupling: warm-start pairing, ``"ot"`` (exact OT assignment in blocks) or ``"independent"``.
        coupling_size, coupled_pairs, pair_reuse: points per exact-OT block, the size of the pool of coupled pairs
            (rounded up to whole blocks) that the warm start draws its batches from, and the mean number of draws
            of a pair before its block is replaced.
        reflow_pairs: pairs ``(x, T(x))`` the reflow draws its batches from.
        lr: Adam learning rate of the warm start (cosine-decayed); ``reflow_lr``: of the reflow (cosine-decayed);
            ``refine_lr``: of the refinement.
        gamma: weight of the kinetic energy (in units of the data variance) in the refinement.
        classifier_hidden, classifier_lr, classifier_steps: the logistic classifiers of the refinement, and their
            Adam updates before every flow update.
        ratio_hidden, ratio_lr, ratio_intervals: the time score network, its learning rate, and the number of
            snapshot intervals ``L`` of the density-ratio phase.

    """

    hidden: tuple[int, ...] = (128, 128, 128)
    activation: str = "silu"
    method: str = "rk4"
    ode_steps: int = 10
    rtol: float = 1e-5
    atol: float = 1e-5
    warmup_steps: int = 10000
    reflow_steps: int = 3000
    refine_steps: int = 0
    ratio_steps: int = 2000
    batch_size: int = 512
    coupling: str = "ot"
    coupling_size: int = 2048
    coupled_pairs: int = 16384
    pair_reuse: int = 32
    reflow_pairs: int = 16384
    lr: float = 2e-3
    reflow_lr: float = 2e-4
    refine_lr: float = 2e-6
    gamma: float = 0.005
    classifier_hidden: tuple[int, ...] = (64, 64)
    classifier_lr: float = 2e-3
    classifier_steps: int = 5
    ratio_hidden: tuple[int, ...] = (128, 128, 128)
    ratio_lr: float = 2e-3
    ratio_intervals: int = 4

    def __post_init__(self) -> None:
        check_choice("method", self.method, ODE_METHODS)
        check_choice("coupling", self.coupling, ["ot", "independent"])
        check_activation("activation", self.activation)
        for name in ("ode_steps", "batch_size", "coupling_size", "coupled_pairs", "pair_reuse", "reflow_pairs",
                     "classifier_steps", "ratio_intervals"):
            check_int(name, getattr(self, name))
        for name in PHASES:
            check_int(name, getattr(self, name), minimum=0)
        if self.steps < 1:
            raise ValueError(f"{' + '.join(PHASES)} must be >= 1")
        for name in ("lr", "reflow_lr", "refine_lr", "classifier_lr", "ratio_lr", "rtol", "atol"):
            check_positive(name, getattr(self, name))
        check_nonnegative("gamma", self.gamma)
        for name in ("hidden", "classifier_hidden", "ratio_hidden"):
            setattr(self, name, check_widths(name, getattr(self, name)))

    @property
    def steps(self) -> int:
        """Total training iterations: ``warmup_steps + ratio_steps + refine_steps + reflow_steps``."""
        return sum(getattr(self, name) for name in PHASES)


def kinetic_energy(path: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Discretised kinetic energy per path: ``sum_k 1/2 |x_k - x_{k-1}|^2 / |t_k - t_{k-1}|``.

    ``path [T, n, D]`` at ``times [T]`` gives ``[n]``. For straight constant-speed paths it equals
    ``1/2 |x_T - x_0|^2``, the quadratic cost: its mean over an optimal flow is the OT cost ``1/2 W2^2``.
    """
    dt = (times[1:] - times[:-1]).abs().to(path)
    return 0.5 * ((path[1:] - path[:-1]).square().sum(-1) / dt[:, None]).sum(0)


def ot_assignment(x0: torch.Tensor, x1: torch.Tensor) -> np.ndarray:
    """The exact OT assignment for the quadratic cost between ``x0 [n, D]`` and ``x1 [n, D]``: ``[n]`` indices.

    ``x1[result]`` is paired with ``x0``. POT's network simplex (``ot.emd``) when installed, several times faster
    than scipy's ``linear_sum_assignment`` (used otherwise) on clustered data; both are exact, so they differ only
    where the optimum is not unique.
    """
    cost = torch.cdist(x0, x1).square().double().cpu().numpy()
    try:
        import ot
    except ImportError:
        return linear_sum_assignment(cost)[1]
    n = len(cost)
    plan = ot.emd(np.full(n, 1.0 / n), np.full(n, 1.0 / n), cost, numItermax=100 * n * n)
    columns = plan.argmax(1)  # a vertex of the assignment polytope: a permutation
    return columns if len(np.unique(columns)) == n else linear_sum_assignment(cost)[1]


class PairPool:
    """Pairs ``starts, ends [n_blocks, block, D]`` of a flow-matching phase.

    The warm start's coupled blocks (refreshed in place), or the reflow's ``(x, T(x))`` (one block, filled when the
    reflow starts).

    ``state_dict`` / ``load_state_dict`` put them in checkpoints, so a resumed phase continues exactly.
    """

    def __init__(self, starts: torch.Tensor, ends: torch.Tensor) -> None:
        self.starts, self.ends = starts, ends

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The pairs, as tensors."""
        return {"starts": self.starts, "ends": self.ends}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy saved pairs of the same shape into the pool."""
        self.starts.copy_(state["starts"])
        self.ends.copy_(state["ends"])


class OTFlow(Solver):
    """Dynamic OT by an invertible flow network (docs/math.md section 6).

    Example::

        flow = neurot.OTFlow().fit(x, y)              # x [N, D] ~ P, y [M, D] ~ Q
        y_hat = flow.transport(x_test)                # T(x), [n, D]
        x_back = flow.inverse(y_hat)                  # T^{-1}, [n, D]
        path = flow.trajectory(x_test, n_steps=20)    # [21, n, D]
        log_ratio = flow.log_density_ratio(points)    # log q - log p, [n]
        kl = flow.kl_divergence(x_test)               # KL(P || Q) = -mean log_density_ratio, a float
    """

    name = "otflow"
    Config = OTFlowConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.velocity: VelocityField | None = None
        self.time_score: TimeScore | None = None

    # -- the model ----------------------------------------------------------------------------------------------
    def _build(self, dim: int) -> None:
        config = self.config
        self.dim = dim
        self.velocity = VelocityField(dim, config.hidden, config.activation).to(self.device)
        self.time_score = TimeScore(dim, config.ratio_hidden, config.activation).to(self.device)

    def _modules(self) -> dict[str, nn.Module]:
        return {"velocity": self.velocity, "time_score": self.time_score}

    def _integrate(self, x: torch.Tensor, times: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        config = self.config
        return integrate(self.velocity, x, times, method=config.method, steps=steps, rtol=config.rtol,
                         atol=config.atol)

    def _path(self, x: torch.Tensor, start: float, end: float) -> tuple[torch.Tensor, torch.Tensor]:
        """States ``[K + 1, n, D]`` on the training grid from ``start`` to ``end``, and the grid ``[K + 1]``."""
        times = time_grid(start, end, self.config.ode_steps).to(x.device)
        return self._integrate(x, times), times

    # -- training -----------------------------------------------------------------------------------------------
    def _setup(self, source: DataSource, target: DataSource) -> None:
        config = self.config
        self.source_data, self.target_data = source, target
        self._build(source.dim)
        loc = 0.5 * (source.mean + target.mean)
        self.data_scale = math.sqrt(0.5 * (source.std**2 + target.std**2))
        for module in (self.velocity, self.time_score):
            module.set_normalization(loc, self.data_scale)
        self.classifiers = {}
        for direction, data in (("forward", target), ("backward", source)):
            classifier = LogitMLP(source.dim, config.classifier_hidden, config.activation).to(self.device)
            classifier.set_normalization(data.mean, data.std)
            self.classifiers[direction] = (classifier, torch.optim.Adam(classifier.parameters(),
                                                                        lr=config.classifier_lr))
        self.flow_optimizer = torch.optim.Adam(self.velocity.parameters(), lr=config.lr)
        self.ratio_optimizer = torch.optim.Adam(self.time_score.parameters(), lr=config.ratio_lr)
        self._refining = False
        self.pairs = self.reflow_pool = None
        if config.coupling == "ot" and config.warmup_steps > 0:
            blocks = [self._coupled_block() for _ in range(math.ceil(config.coupled_pairs / config.coupling_size))]
            self.pairs = PairPool(torch.stack([b[0] for b in blocks]), torch.stack([b[1] for b in blocks]))
        if config.reflow_steps > 0:
            self.reflow_optimizer = torch.optim.Adam(self.velocity.parameters(), lr=config.reflow_lr)
            empty = torch.zeros(1, config.reflow_pairs, source.dim, device=self.device)
            self.reflow_pool = PairPool(empty, empty.clone())

    def _coupled_block(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh ``x_0, x_1 [coupling_size, D]`` from P and Q, paired by the exact OT assignment."""
        size = self.config.coupling_size
        x0 = self.source_data.sample(size, self.generator)
        x1 = self.target_data.sample(size, self.generator)
        return x0, x1[torch.as_tensor(ot_assignment(x0, x1), device=self.device)]

    def _phase_bounds(self, total: int) -> tuple[int, int, int]:
        """Last step of the warm start, the density ratio and the refinement when training for ``total`` steps."""
        config, ends, length = self.config, [], 0
        for name in PHASES[:-1]:
            length += getattr(config, name)
            ends.append(round(total * length / config.steps))
        return tuple(ends)

    def _train_step(self, step: int, total: int) -> dict[str, float]:
        warm, ratio, refine = self._phase_bounds(total)
        if step <= warm:
            return self._warmup_step(step - 1, warm)
        if step <= ratio:
            return self._ratio_step(step - warm - 1, ratio - warm)
        if step <= refine:
            return self._refine_step(step - ratio - 1)
        return self._reflow_step(step - refine - 1, total - refine)

    def _warmup_step(self, index: int, length: int) -> dict[str, float]:
        config, generator = self.config, self.generator
        if self.pairs is None:
            x0 = self.source_data.sample(config.batch_size, generator)
            x1 = self.target_data.sample(config.batch_size, generator)
        else:
            starts, ends = self.pairs.starts, self.pairs.ends  # [n_blocks, coupling_size, D]
            refresh = max(1, round(config.pair_reuse * config.coupling_size / config.batch_size))
            if index > 0 and index % refresh == 0:
                block = (index // refresh - 1) % len(starts)
                starts[block], ends[block] = self._coupled_block()
            x0, x1 = self._draw_pairs(self.pairs)
        lr = cosine_lr(self.flow_optimizer, config.lr, index, length)
        return {"loss": self._matching_step(x0, x1, self.flow_optimizer, "OTFlow flow matching"), "phase": 0.0,
                "lr": lr}

    def _reflow_step(self, index: int, length: int) -> dict[str, float]:
        pool = self.reflow_pool
        if index == 0:  # the pairs (x, T(x)) of the flow so far
            starts = self.source_data.sample(self.config.reflow_pairs, self.generator)
            pool.starts[0], pool.ends[0] = starts, self.transport(starts)
        x0, x1 = self._draw_pairs(pool)
        lr = cosine_lr(self.reflow_optimizer, self.config.reflow_lr, index, length)
        return {"loss": self._matching_step(x0, x1, self.reflow_optimizer, "OTFlow reflow"), "phase": 3.0, "lr": lr}

    def _draw_pairs(self, pool: PairPool) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch ``x0, x1 [batch_size, D]`` of the pairs of ``pool``, drawn with replacement."""
        starts, ends = pool.starts.flatten(0, 1), pool.ends.flatten(0, 1)
        rows = torch.randint(len(starts), (self.config.batch_size,), generator=self.generator, device=self.device)
        return starts[rows], ends[rows]

    def _matching_step(self, x0: torch.Tensor, x1: torch.Tensor, optimizer: torch.optim.Optimizer,
                       what: str) -> torch.Tensor:
        """One update of conditional flow matching on pairs ``x0, x1 [n, D]``; returns the loss.

        The loss is ``E |v(x_t, t) - (x1 - x0)|^2 / s^2`` at ``x_t = (1 - t) x0 + t x1``, ``t ~ U(0, 1)``.
        """
        t = torch.rand(len(x0), 1, generator=self.generator, device=self.device)
        residual = self.velocity((1 - t) * x0 + t * x1, t[:, 0]) - (x1 - x0)
        return optimizer_step(optimizer, residual.square().sum(1).mean() / self.data_scale**2, what)

    def _refine_step(self, index: int) -> dict[str, float]:
        config, generator = self.config, self.generator
        if not self._refining:
            self._refining = True
            for group in self.flow_optimizer.param_groups:
                group["lr"] = config.refine_lr
        forward = index % 2 == 0
        start_data, end_data = (self.source_data, self.target_data) if forward else (self.target_data,
                                                                                     self.source_data)
        classifier, optimizer = self.classifiers["forward" if forward else "backward"]
        start = start_data.sample(config.batch_size, generator)
        path, times = self._path(start, 0.0, 1.0) if forward else self._path(start, 1.0, 0.0)
        pushed = path[-1]
        for _ in range(config.classifier_steps):
            real = end_data.sample(config.batch_size, generator)
            class_loss = logistic_loss(classifier(real), classifier(pushed.detach()))
            class_value = optimizer_step(optimizer, class_loss, "OTFlow classifier")
        classifier.requires_grad_(False)
        kl = -classifier(pushed).mean()
        classifier.requires_grad_(True)
        kinetic = kinetic_energy(path, times).mean()
        loss = kl + config.gamma * kinetic / self.data_scale**2
        value = optimizer_step(self.flow_optimizer, loss, "OTFlow refinement")
        return read_scalars({"loss": value, "phase": 2.0, "kl": kl, "kinetic": kinetic, "classifier_loss": class_value,
                             "direction": 1.0 if forward else -1.0})

    def _ratio_times(self) -> list[float]:
        """The snapshot times ``s_0 < ... < s_L`` of the density-ratio phase, on the host."""
        return time_grid(0.0, 1.0, self.config.ratio_intervals).tolist()

    def _interval_logits(self, x: torch.Tensor, start: float, end: float) -> torch.Tensor:
        """``integral_start^end r(x, s) ds`` by 2-point Gauss-Legendre: ``[n]``."""
        width = end - start
        return sum(0.5 * width * self.time_score(x, start + node * width) for node in _GAUSS_NODES)

    def _ratio_step(self, index: int, length: int) -> dict[str, float]:
        config, generator = self.config, self.generator
        times = self._ratio_times()
        grid = torch.tensor(times, device=self.device)
        half = max(1, config.batch_size // 2)
        x0 = self.source_data.sample(half, generator)
        x1 = self.target_data.sample(half, generator)
        with torch.no_grad():
            forward = self._integrate(x0, grid, steps=self._grid_steps())
            backward = self._integrate(x1, grid.flip(0), steps=self._grid_steps()).flip(0)
        forward[-1] = self.target_data.sample(half, generator)
        backward[0] = self.source_data.sample(half, generator)
        snapshots = torch.cat([forward, backward], dim=1)
        lr = cosine_lr(self.ratio_optimizer, config.ratio_lr, index, length)
        loss = sum(logistic_loss(self._interval_logits(snapshots[k], times[k - 1], times[k]),
                                 self._interval_logits(snapshots[k - 1], times[k - 1], times[k]))
                   for k in range(1, len(times)))
        return {"loss": optimizer_step(self.ratio_optimizer, loss, "OTFlow density ratio"), "phase": 1.0, "lr": lr}

    def _grid_steps(self) -> int | None:
        """Fixed steps per unit time for outputs on an arbitrary grid (None for adaptive methods)."""
        return self.config.ode_steps if ODE_METHODS[self.config.method] else None


    # -- inference ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def flow(self, x: Any, t_start: float, t_end: float, *, chunk_size: int = 65_536) -> torch.Tensor:
        """Move points ``x [n, D]`` along the flow from time ``t_start`` to ``t_end`` (both in [0, 1]): ``[n, D]``."""
        points = self._points("x", x)
        check_probability("t_start", t_start)
        check_probability("t_end", t_end)
        check_int("chunk_size", chunk_size)
        times = torch.tensor([float(t_start), float(t_end)], device=self.device)
        if times[0] == times[1]:  # equal in float32 (e.g. 0 and 1e-50), where the ODE solvers need distinct times
            return points.clone()
        steps = self._grid_steps()
        return torch.cat([self._integrate(chunk, times, steps=steps)[-1] for chunk in points.split(chunk_size)])

    def transport(self, x: Any) -> torch.Tensor:
        """The learned map ``T(x)``: the flow from ``t = 0`` to ``1`` of ``x [n, D]`` (source points): ``[n, D]``."""
        return self.flow(x, 0.0, 1.0)

    def inverse(self, y: Any) -> torch.Tensor:
        """The inverse map ``T^{-1}(y)``: the flow from ``t = 1`` back to ``0`` of ``y [n, D]``: ``[n, D]``."""
        return self.flow(y, 1.0, 0.0)

    def interpolate(self, x: Any, t: float, *, seed: int | None = None) -> torch.Tensor:
        """``X_t`` for ``X_0 = x [n, D]``: source points moved along the flow to time ``t``, ``[n, D]``.

        Deterministic (``seed`` is accepted for the common contract and unused).
        """
        check_int("seed", seed, minimum=0, allow_none=True)
        return self.flow(x, 0.0, t)

    @torch.no_grad()
    def sample_path(self, x: Any, times: Any, *, seed: int | None = None) -> torch.Tensor:
        """The flow's paths from ``x [n, D]`` at ``times`` (non-decreasing in ``[0, 1]``): ``[k, n, D]``."""
        points = self._points("x", x)
        check_int("seed", seed, minimum=0, allow_none=True)
        grid = check_times(times, self.device)
        distinct, index = torch.unique(torch.cat([grid.new_zeros(1), grid]), return_inverse=True)  # from t = 0
        if len(distinct) == 1:
            return points.expand(len(grid), *points.shape).clone()
        return self._integrate(points, distinct, steps=self._grid_steps())[index[1:]]

    def trajectory(self, x: Any, n_steps: int = 20) -> torch.Tensor:
        """The paths of ``x [n, D]`` at ``n_steps + 1`` equally spaced times from 0 to 1: ``[n_steps + 1, n, D]``."""
        check_int("n_steps", n_steps)
        return self.sample_path(x, time_grid(0.0, 1.0, n_steps))

    @torch.no_grad()
    def kinetic_energy(self, x: Any) -> float:
        """Mean kinetic cost ``E integral_0^1 1/2 |v(x_t, t)|^2 dt`` of the flow from ``x [n, D] ~ P``.

        Discretised on the integration grid (:func:`kinetic_energy`). With the cost ``1/2 |x - y|^2`` it is bounded
        below by the OT cost ``1/2 W2^2(P, T_# P)`` and equals it for the optimal flow.
        """
        points = self._points("x", x)
        path, times = self._path(points, 0.0, 1.0)
        return float(kinetic_energy(path, times).mean())

    @torch.no_grad()
    def log_density_ratio(self, x: Any) -> torch.Tensor:
        """Estimate of ``log q(x) - log p(x)`` for points ``x [n, D]``: ``integral_0^1 r(x, s) ds``, ``[n]``."""
        points = self._points("x", x)
        times = self._ratio_times()
        return sum(self._interval_logits(points, times[k - 1], times[k]) for k in range(1, len(times)))

    def kl_divergence(self, x: Any) -> float:
        """``KL(P || Q) = E_P[log p - log q]``, estimated as ``-mean_i log_density_ratio(x_i)`` over ``x [n, D] ~ P``.

        Use points the flow was not trained on: the mean over training points is biased upwards where the time
        score has fitted their noise. With ``P`` a joint law and ``Q`` the product of its marginals this is the
        mutual information (:func:`neurot.mutual_information`, docs/math.md section 6).
        """
        return float(-self.log_density_ratio(x).double().mean())

    def sample(self, x: Any, n_per_x: int | None = None, *, seed: int | None = None) -> torch.Tensor:
        """``T(x)`` in the plan-sampling interface of the other solvers (the plan is deterministic).

        ``x [M, D]`` gives ``[M, D]``, or ``[M, n_per_x, D]`` (copies) when ``n_per_x`` is set; ``seed`` is unused.
        """
        check_int("n_per_x", n_per_x, allow_none=True)
        check_int("seed", seed, minimum=0, allow_none=True)
        y = self.transport(x)
        return y if n_per_x is None else y[:, None, :].expand(-1, n_per_x, -1).contiguous()

    def _extra_state(self) -> dict[str, Any]:
        return {"data_scale": getattr(self, "data_scale", 1.0)}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.data_scale = float(state.get("data_scale", 1.0))

    # -- checkpoints and divergence -------------------------------------------------------------------------
    divergence_advice = "a lower lr, reflow_lr, refine_lr, ratio_lr or classifier_lr"

    def _training_state(self) -> dict[str, Any]:
        state = {"flow_optimizer": self.flow_optimizer, "ratio_optimizer": self.ratio_optimizer}
        if self.pairs is not None:
            state["pairs"] = self.pairs
        if self.reflow_pool is not None:
            state |= {"reflow_pool": self.reflow_pool, "reflow_optimizer": self.reflow_optimizer}
        for direction, (classifier, optimizer) in self.classifiers.items():
            state |= {f"{direction}_classifier": classifier, f"{direction}_classifier_optimizer": optimizer}
        return state
