"""SF-EUOT: simulation-free entropic unbalanced OT with one-step generation (Choi & Choi 2024, arXiv 2410.02656).

Problem (docs/math.md section 5, ``sigma^2 = eps``, cost ``c(x, y) = 1/2 |x - y|^2``)::

    min over pi >= 0 with pi_0 = P  of  E_pi[c] - eps H(pi) + tau D_Psi(pi_1 || Q)                       (1)

- **Source hard, target soft** ("semi-unbalanced"): every source point is transported (``pi_0 = P``); target
  mass may be created or destroyed at price ``tau D_Psi``. ``tau = None`` is the balanced problem, whose plan is
  ``EOT_eps(P, Q)`` of docs/math.md (on couplings ``-H(pi)`` and ``KL(pi || P x Q)`` differ by a constant).
- **Entropy reference.** ``-eps H(pi)`` is the paper's (Lebesgue) entropy, i.e. ``eps KL(pi || P x dy)``. For
  unbalanced marginals this is *not* POT's/Janati's ``eps KL(pi || P x Q)``: the exact Gaussian solution of (1) is
  ``UnbalancedGaussianEOT(..., tau_source=None, tau_target=tau, entropy="lebesgue")``; POT reproduces it with
  ``ot.unbalanced.sinkhorn_unbalanced(a, b, ot.dist(x, y), reg=2 eps, reg_m=(inf, 2 tau), c=a[:, None] * dy)``
  on a grid. (With POT's default reference ``a b^T``, ``reg = 2 eps, reg_m = (inf, 2 tau)`` solves the ``"kl"``
  variant of the same oracle.) In the papers' notation ``alpha D_Psi1(pi_0 | mu) + beta D_Psi2(pi_1 | nu)``:
  ``alpha = infinity`` and ``beta = tau``.

Dual and optimality (docs/math.md section 5): a potential ``V(t, x)`` with the HJB equation
``d_t V + 1/2 |grad V|^2 + (eps / 2) Laplacian V = 0``; the plan's conditionals are Gibbs measures of its end value
``g = V(1, .)``: ``pi(y | x) ∝ exp((g(y) - c(x, y)) / eps)``; the target marginal is ``d pi_1 / dQ =
(Psi*)'(-g / tau)``; ``V(0, x) = eps log int exp((g(y) - c(x, y)) / eps) dy - D/2 eps log(2 pi eps)`` (Hopf-Cole), and
paths are Brownian bridges ``X_t | (x, y) ~ N((1 - t) x + t y, eps t (1 - t) I)`` (reciprocal property).

Algorithm (per step; both networks trained by Adam, learning rates cosine-decayed):

1. **Generator** ``T(x, z)`` (one network evaluation, ``z ~ N(0, I)``, ``q(. | x)`` its law) minimises
   ``E[c(x, T) - V(1, T)] - eps H(q(. | x))`` = ``eps KL(q(. | x) || pi_g(. | x))`` + const: the paper's c-transform
   step ``c(x, T) - V(1, T)`` plus the entropy that makes it entropic. Both families give ``log |det dT / dz|`` with
   the sample, and ``H = D/2 log(2 pi e) + E_z log |det dT / dz|`` (change of variables, ``-log q(T | x) =
   -log N(z) + log |det dT / dz|``): exact for ``generator="gaussian"``, ``T = mu(x) + L(x) z`` with ``log |det L|``;
   an unbiased one-sample estimate for ``generator="flow"``, ``T = mu(x) + L(x) f(z; x)`` with ``f`` a conditional
   autoregressive spline flow run in its one-pass direction (:class:`~neurot.nn.FlowGenerator`). Only the flow's
   conditionals can be multimodal: a plan that splits one source point's mass between distant modes (a balanced
   plan onto a target with a far cluster; the mixture benchmark's conditionals) is out of the Gaussian family's
   reach.
2. **Potential** minimises the semi-dual of (1) in ``g``, with the generator's samples standing in for the plan:
   ``E[V(1, T(x, z))] + tau E_Q[Psi*(-V(1, y) / tau)]`` (balanced: ``E[V(1, T)] - E_Q[V(1, y)]``), plus
   ``hjb_weight * E[R^2] / (scale^2 + eps)^2`` with ``R`` the HJB residual on Brownian-bridge points between ``x`` and
   ``T(x, z)`` at ``t ~ U(0, 1)`` (exact Laplacian by autograd for ``D <= exact_laplacian_max_dim``, Hutchinson
   otherwise, with two independent probes so that ``E[R^2]`` is estimated without bias). This is the UOTM shape
   (same authors) with the entropic generator and the bridge/HJB regularity of SF-EUOT; the terminal potential gets
   its gradient from the semi-dual directly, not through the PINN residual, which the paper reports as the accuracy
   bottleneck. ``V(t < 1, .)`` is fitted by the residual alone; the diagnostic
   ``gibbs_gap = E_x[E_z(c - V(1, T)) - eps H(T(x, .)) + eps log Z(x)]`` uses ``V(0, .)`` for ``eps log Z`` and
   estimates ``eps E_x KL(T(x, .) || pi_g(. | x))`` (>= 0 when ``V(0, .)`` is accurate).

Generator families (BENCHMARKS.md, "SF-EUOT generator families" and the single-cell section): the flow represents
the multimodal conditionals of the mixture benchmark and carries a balanced plan's mass to far outliers, where the
Gaussian family cannot; it costs a few times the Gaussian's fit time at D <= 16 and far more at D = 50, where the
single-cell time course scores the same with either. The default ``"auto"`` is the flow up to D = 16, the Gaussian
above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neurot._validation import (
    check_activation,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_widths,
)
from neurot.bridges import bridge_points
from neurot.costs import quadratic
from neurot.data import DataSource
from neurot.divergences import CONJUGATES
from neurot.nn import FlowGenerator, GaussianGenerator, TimeMLPPotential, conditional_generator
from neurot.nn.generator import GENERATORS, gibbs_kl_loss
from neurot.optim import optimizer_step, read_scalars
from neurot.solvers.base import Solver


@dataclass
class SFEUOTConfig:
    """Options of :class:`SFEUOT`. Only ``eps`` is required.

    Attributes:
        eps: entropic regularisation ``sigma^2`` (``-eps H(pi)``, cost ``1/2 |x - y|^2``).
        tau: weight of the target marginal penalty ``tau D_Psi(pi_1 || Q)``; ``None``: balanced (hard target).
        psi: the divergence, one of :data:`neurot.divergences.CONJUGATES` (``"kl"``, ``"chi2"``, ``"softplus"``).
        hidden, activation: MLP of the potential ``V(t, x)``; ``generator_hidden``: MLP of the generator (and of
            each flow layer).
        generator: the family of ``T(x, .)``: ``"flow"`` (:class:`~neurot.nn.FlowGenerator`, a conditional spline
            flow before a Gaussian layer: multimodal conditionals), ``"gaussian"``
            (:class:`~neurot.nn.GaussianGenerator`, one Gaussian per source point: exact entropy, faster) or
            ``"auto"`` (the flow up to ``D = 16``, the Gaussian above).
        flow_transforms, flow_bins: layers of the flow and spline bins per layer (``generator="flow"``).
        generator_covariance: ``"full"`` (lower-triangular ``L(x)``), ``"diag"``, or ``"auto"`` (full for
            ``D <= 16``).
        steps, batch_size: training iterations and batch size (the default length is what the D = 16 mixture
            pairs need; BENCHMARKS.md, SF-EUOT).
        lr, generator_lr: Adam learning rates of the potential and generator (``None``: ``lr``), cosine-decayed.
        generator_steps: generator updates per potential update. The potential's loss is a max-min: with one
            update the fitted ``V(1, .)`` is not a dual solution by itself (a generator refitted against it leaves
            the target); three keep the generator near its best response (BENCHMARKS.md, SF-EUOT).
        hjb_weight: weight of the mean squared HJB residual, in units of ``(scale^2 + eps)^2``, the residual's
            size (``d_t V`` and ``|grad V|^2`` grow as ``scale^2``, ``eps Laplacian V`` as ``eps``), so that the
            penalty does not outweigh the semi-dual at large ``eps``; 0 disables it.
        hjb_points: bridge points per step for the residual (``None``: ``batch_size // 4``).
        exact_laplacian_max_dim: exact Laplacian up to this dimension, Hutchinson above (two independent Rademacher
            probes, whose residuals' product estimates ``R^2`` without bias; see :func:`hjb_residuals`).
        alpha: weight of ``mean(V(1, y)^2) / scale^4`` on target points (keeps the balanced potential bounded).

    """

    eps: float
    tau: float | None = None
    psi: str = "kl"
    hidden: tuple[int, ...] = (128, 128, 128)
    activation: str = "silu"
    generator_hidden: tuple[int, ...] = (128, 128)
    generator: str = "auto"
    flow_transforms: int = 3
    flow_bins: int = 8
    generator_covariance: str = "auto"
    steps: int = 3000
    batch_size: int = 512
    lr: float = 1e-3
    generator_lr: float | None = None
    generator_steps: int = 3
    hjb_weight: float = 0.1
    hjb_points: int | None = None
    exact_laplacian_max_dim: int = 8
    alpha: float = 0.0

    def __post_init__(self) -> None:
        check_positive("eps", self.eps)
        check_positive("tau", self.tau, allow_none=True)
        check_choice("psi", self.psi, CONJUGATES)
        check_choice("generator_covariance", self.generator_covariance, ["auto", "full", "diag"])
        check_choice("generator", self.generator, ["auto", *GENERATORS])
        for name in ("steps", "batch_size", "generator_steps", "flow_transforms"):
            check_int(name, getattr(self, name))
        check_int("hjb_points", self.hjb_points, allow_none=True)
        check_int("flow_bins", self.flow_bins, minimum=2)
        check_int("exact_laplacian_max_dim", self.exact_laplacian_max_dim, minimum=0)
        check_positive("lr", self.lr)
        check_positive("generator_lr", self.generator_lr, allow_none=True)
        for name in ("hjb_weight", "alpha"):
            check_nonnegative(name, getattr(self, name))
        check_activation("activation", self.activation)
        for name in ("hidden", "generator_hidden"):
            setattr(self, name, check_widths(name, getattr(self, name)))


def hjb_residuals(potential: nn.Module, t: torch.Tensor, x: torch.Tensor, eps: float, *, exact: bool,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two estimates of the HJB residual whose product is an unbiased estimate of its square.

    ``R_1, R_2 [n]`` estimate ``R = d_t V + 1/2 |grad_x V|^2 + (eps / 2) Laplacian_x V`` at ``t [n]``, ``x [n, D]``.
    Differentiable in the potential's parameters (``create_graph``). ``exact``: the Laplacian as ``D`` second
    backward passes, and ``R_1 = R_2 = R``. Otherwise Hutchinson's ``r^T H r`` with two independent Rademacher
    probes, one per estimate: the square of a one-probe estimate would add ``(eps / 2)^2 Var(r^T H r) = (eps^2 / 2)
    sum_{i != j} H_ij^2`` to ``E[R^2]``, a penalty on the potential's off-diagonal curvature that grows as ``eps^2``
    (BENCHMARKS.md, SF-EUOT on the mixture pairs), while ``E[R_1 R_2] = E[R_1] E[R_2] = R^2``.
    """
    t = t.detach().requires_grad_(True)
    x = x.detach().requires_grad_(True)
    value = potential(t, x)
    d_t, grad = torch.autograd.grad(value.sum(), (t, x), create_graph=True)
    first_order = d_t + 0.5 * grad.square().sum(1)
    if exact:
        laplacian = sum(torch.autograd.grad(grad[:, i].sum(), x, create_graph=True)[0][:, i]
                        for i in range(x.shape[1]))
        residual = first_order + 0.5 * eps * laplacian
        return residual, residual
    estimates = []
    for _ in range(2):
        probe = torch.randint(0, 2, x.shape, generator=generator, device=x.device).to(x.dtype) * 2 - 1
        hess_probe = torch.autograd.grad((grad * probe).sum(), x, create_graph=True)[0]
        estimates.append(first_order + 0.5 * eps * (hess_probe * probe).sum(1))
    return estimates[0], estimates[1]


class SFEUOT(Solver):
    """Simulation-free entropic unbalanced OT: a potential ``V(t, x)`` and a one-step generator ``T(x, z)``.

    Example::

        solver = neurot.SFEUOT(eps=0.1, tau=1.0).fit(x, y)   # x [N, D], y [M, D]
        samples = solver.sample(x_test, n_per_x=10)           # [n, 10, D], one network evaluation
        weights = solver.target_weight(y)                     # [M]: d pi_1 / dQ, small on discarded outliers
    """

    name = "sfeuot"
    Config = SFEUOTConfig

    def __init__(self, eps: float, tau: float | None = None, **options: Any) -> None:
        super().__init__(eps=eps, tau=tau, **options)
        self.potential: TimeMLPPotential | None = None
        self.generator_net: GaussianGenerator | FlowGenerator | None = None

    # -- the model ----------------------------------------------------------------------------------------------
    def _build(self, dim: int) -> None:
        config = self.config
        self.dim = dim
        self.potential = TimeMLPPotential(dim, config.hidden, config.activation).to(self.device)
        self.generator_net = conditional_generator(
            dim, config.generator, config.generator_covariance, hidden=config.generator_hidden,
            activation=config.activation, eps0=config.eps, transforms=config.flow_transforms, bins=config.flow_bins,
        ).to(self.device)

    def _modules(self) -> dict[str, nn.Module]:
        return {"potential": self.potential, "generator": self.generator_net}

    def _terminal(self, y: torch.Tensor) -> torch.Tensor:
        """``V(1, y)`` for ``y [n, D]``, ``[n]``."""
        return self.potential(torch.ones(len(y), device=y.device, dtype=y.dtype), y)

    @torch.no_grad()
    def log_potential(self, y: torch.Tensor) -> torch.Tensor:
        """``V(1, y) / eps``: the generator's conditionals are fitted to the Gibbs conditionals of ``V(1, .)``."""
        return self._terminal(y) / self.config.eps

    def _generate(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return self.generator_net(x, z)

    # -- training -----------------------------------------------------------------------------------------------
    def _setup(self, source: DataSource, target: DataSource) -> None:
        config = self.config
        self.source_data, self.target_data = source, target
        self._build(source.dim)
        self.scale = max(source.std, target.std)
        self.potential.set_normalization((source.mean + target.mean) / 2, self.scale)
        self.generator_net.set_normalization(source.mean, source.std)
        betas = (0.5, 0.9)
        self.optimizer = torch.optim.Adam(self.potential.parameters(), lr=config.lr, betas=betas)
        self.generator_optimizer = torch.optim.Adam(self.generator_net.parameters(),
                                                    lr=config.generator_lr or config.lr, betas=betas)

    def _generator_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = gibbs_kl_loss(x, *self._generate(x, self.generator), quadratic, self._terminal, self.config.eps)
        return {"generator_loss": optimizer_step(self.generator_optimizer, loss, "SF-EUOT generator")}

    def _potential_loss(self, x: torch.Tensor, y_pos: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        config, scale4 = self.config, self.scale**4
        with torch.no_grad():
            y_gen, log_det = self._generate(x, self.generator)
        v_gen, v_pos = self._terminal(y_gen), self._terminal(y_pos)
        if config.tau is None:
            boundary = v_gen.mean() - v_pos.mean()
        else:
            conjugate, _ = CONJUGATES[config.psi]
            boundary = v_gen.mean() + config.tau * conjugate(-v_pos / config.tau).mean()
        loss = boundary
        metrics = {"boundary": boundary.detach()}
        if config.alpha:
            loss = loss + config.alpha * v_pos.square().mean() / scale4
        if config.hjb_weight:
            n = config.hjb_points or max(config.batch_size // 4, 1)
            t = torch.rand(n, generator=self.generator, device=self.device)
            points = bridge_points(x[:n], y_gen[:n], t, config.eps, self.generator)
            exact = self.dim <= config.exact_laplacian_max_dim
            first, second = hjb_residuals(self.potential, t, points, config.eps, exact=exact,
                                          generator=self.generator)
            hjb = (first * second).mean() / (self.scale**2 + config.eps) ** 2
            loss = loss + config.hjb_weight * hjb
            metrics["hjb"] = hjb.detach()
            with torch.no_grad():
                v0 = self.potential(torch.zeros(n, device=self.device), x[:n])
                d = self.dim
                gibbs = (quadratic(x[:n], y_gen[:n]) - v_gen[:n].detach() - config.eps * log_det[:n] + v0
                         + 0.5 * d * config.eps * (math.log(config.eps) - 1))
            metrics["gibbs_gap"] = gibbs.mean()
        return loss, metrics

    def _train_step(self, step: int, total: int) -> dict[str, float]:
        config = self.config
        lr = self.schedule.set_lr(self.optimizer, config.lr, step)
        self.schedule.set_lr(self.generator_optimizer, config.generator_lr or config.lr, step)
        metrics: dict[str, float] = {}
        for _ in range(config.generator_steps):
            x = self.source_data.sample(config.batch_size, self.generator)
            metrics.update(self._generator_step(x))
        x = self.source_data.sample(config.batch_size, self.generator)
        y_pos = self.target_data.sample(config.batch_size, self.generator)
        loss, potential_metrics = self._potential_loss(x, y_pos)
        values = read_scalars({"loss": loss, **potential_metrics, **metrics, "lr": lr})
        optimizer_step(self.optimizer, loss, "SF-EUOT potential", value=values["loss"])
        return values

    # -- inference ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, x: Any, n_per_x: int | None = None, *, seed: int | None = None) -> torch.Tensor:
        """Draw ``y = T(x, z)``, ``z ~ N(0, I)``: one network evaluation (NFE = 1).

        ``x [M, D]`` gives ``[M, D]``, or ``[M, n_per_x, D]`` when ``n_per_x`` is set. Every source point is
        transported (the source marginal is hard); the unbalanced target shows in *where* samples land.
        """
        x = self._points("x", x)
        check_int("n_per_x", n_per_x, allow_none=True)
        generator = self._sampling_generator(seed)
        repeats = n_per_x or 1
        y, _ = self._generate(x.repeat_interleave(repeats, dim=0), generator)
        return y if n_per_x is None else y.view(len(x), repeats, -1)

    @torch.no_grad()
    def potential_value(self, t: float, x: Any) -> torch.Tensor:
        """``V(t, x)`` for ``t`` in ``[0, 1]`` and ``x [M, D]``, returned ``[M]``."""
        x = self._points("x", x)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
            raise ValueError(f"t must be a number in [0, 1], got {t!r}")
        return self.potential(torch.full((len(x),), float(t), device=self.device), x)

    @torch.no_grad()
    def target_weight(self, y: Any) -> torch.Tensor:
        """Learned density ratio ``d pi_1 / dQ (y) = (Psi*)'(-V(1, y) / tau)`` at target points ``y [M, D]``, ``[M]``.

        Its mean over a sample of ``Q`` estimates the transported mass (1 at the optimum: the source is hard);
        outliers the plan discards get weights near 0. All ones for the balanced problem (``tau = None``).
        """
        y = self._points("y", y)
        if self.config.tau is None:
            return torch.ones(len(y), device=self.device)
        _, ratio = CONJUGATES[self.config.psi]
        return ratio(-self._terminal(y) / self.config.tau)

    # -- checkpoints and divergence -------------------------------------------------------------------------
    divergence_advice = "a lower lr or generator_lr, or a larger alpha"

    def _training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "generator_optimizer": self.generator_optimizer}
