"""EgNOT: energy-guided entropic neural optimal transport (Mokrov et al., ICLR 2024, arXiv 2304.06094).

One potential ``f`` on the target space. The plan's conditionals are energy-based models (docs/math.md section 1)

    pi_f(y | x) ∝ exp(-E_x(y)),   E_x(y) = (c(x, y) - f(y)) / eps,

and ``f`` maximises the weak dual ``L(f) = E_Q[f(y)] - eps E_P[log Z_f(x)]``. Its gradient (Theorem 3 of the paper)
needs samples of ``pi_f(. | x)``, drawn by Langevin MCMC; the minimised loss per batch is
``mean f(y_neg) - mean f(y_pos)`` with ``y_pos ~ Q`` and detached ``y_neg ~ pi_f(. | x)``, ``x ~ P``.

The cost may be any differentiable ``c(x, y) -> [n]`` (gradients by autograd), and source and target points may
have different shapes: images ``x [N, C, H, W]`` and latent codes ``y [N, d]`` under ``neurot.costs.latent(G)``.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from neurot._validation import (
    PointShape,
    check_activation,
    check_bool,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_probability,
    check_widths,
    shape_tuple,
)
from neurot.costs import LatentCost, is_quadratic, resolve_cost
from neurot.data import DataSource
from neurot.nn import ConvPotential, MLPPotential, conditional_generator
from neurot.nn.generator import gibbs_kl_loss, resolve_generator
from neurot.optim import Schedule, optimizer_step, read_scalars
from neurot.samplers import (
    KERNELS,
    ChainDivergedError,
    DataJump,
    EnergyPlateau,
    ReplayBuffer,
    StepSizeAdapter,
    Target,
    resampled_starts,
    run_chain,
)
from neurot.solvers.base import Solver, draw_in_chunks

logger = logging.getLogger(__name__)


@dataclass
class EgNOTConfig:
    """Options of :class:`EgNOT`. Only ``eps`` is required; the rest have defaults chosen from the data.

    Attributes:
        eps: entropic regularisation (``eps KL(pi || P x Q)``).
        potential: ``"mlp"``, ``"conv"`` (images ``[N, C, H, W]``: :class:`neurot.nn.ConvPotential`) or any
            ``nn.Module`` ``[n, ...] -> [n]``. (A Gaussian-mixture potential, with exact loss and sampling, is the
            solver :class:`neurot.LightSB`; ``EgNOT(eps, potential="gmm", ...)`` returns one.)
        hidden, activation: widths and activation of the MLP potential (activation also of the conv potential);
            channels: of the conv potential's layers.
        gaussian_part: for the quadratic cost, add to the MLP potential (:class:`neurot.nn.MLPPotential`) the
            exact potential between the Gaussians with the data's means and covariances (fixed at the start of
            ``fit``, from at most ``MOMENT_POINTS`` points of each side; :func:`gaussian_potential`): the plan
            starts near that Gaussian plan, exact for Gaussian data, and the network learns the rest. A network alone
            fits the quadratic slowly when ``D`` is large (BENCHMARKS.md, EgNOT Gaussian benchmark at D = 128).
        cost: ``"quadratic"`` (``1/2 |x - y|^2``) or any callable ``c(x [n, ...], y [n, ...]) -> [n]`` differentiable
            in ``y``, such as ``neurot.costs.latent(G)``; with a callable, source and target shapes may differ.
        steps, batch_size, lr: training iterations, batch size, Adam learning rate, cosine-decayed to 0 (the
            networks normalise their inputs by the target's mean and scale). The accuracy comes at the end of the
            decay, where the potential's gradient noise fades (BENCHMARKS.md: accuracy against iterations). With the
            MLP potential ``steps`` is a cap (``fit``'s default ``stop="auto"``): once the plan has settled (its
            log-densities move by at most 0.2 nats per 200 steps) the rate decays over twice as many steps as were
            run (:class:`neurot.stopping.Stopping`, docs/math.md section 9); a plan that keeps moving runs ``steps``.
        alpha: weight of ``mean(f^2) / (eps scale^2)`` over both batches (``scale``: the target's std), keeping the
            energy bounded (0 disables it). The penalty pulls ``f`` toward 0 against the dual, whose curvature in
            ``f`` is of order ``1 / eps``: so scaled, its bias on the plan does not grow as ``eps`` shrinks (with
            ``mean((f / eps)^2)`` it grew as ``1 / eps``, and on a real time course at eps = 0.1 the plan missed its
            target marginal; BENCHMARKS.md, single-cell). It also holds ``f`` where the training chains lag behind
            ``pi_f``: weaker, the fit's push beyond its target grows and some seeds run off (docs/math.md section 1,
            "Short chains and the penalty").
        sampler: Langevin kernel, one of :data:`neurot.samplers.KERNELS`, or ``"auto"``: ``"split_mala"`` for the
            quadratic cost (its Gaussian factor integrated exactly), ``"mala"`` for any other cost.
        langevin_steps: kernel steps per training iteration; ``sample_steps``: per chain when sampling.
        jump_every, jump_points: every ``jump_every``-th Langevin step (training and sampling chains; 0: never) is
            followed by a jump (:class:`neurot.samplers.DataJump`): an independence proposal near one of
            ``jump_points`` target points drawn at the start of the fit (bandwidth ``sqrt(eps)``; the same points
            serve ``start="resample"``, and are saved with the model), accepted by the
            Metropolis-Hastings ratio. It carries chains between separated modes of ``pi_f(. | x)`` that Langevin
            moves do not cross, at the cost of one more energy gradient and two kernel densities over the
            references per jump. Meant for low-dimensional targets: in high dimension a proposal from the whole
            target rarely lands in one conditional and is rejected (BENCHMARKS.md, data jumps).
        sample_stop: stop sampling chains early, once their mean energy no longer drifts
            (:class:`neurot.samplers.EnergyPlateau`; ``sample_steps`` is then the most they run). Safe when the
            chains need not cross between modes of ``pi_f(. | x)``, which a fixed number of steps does not ensure
            either; not used with ``anneal < 1``. Its speed and accuracy on the benchmarks: BENCHMARKS.md.
        step_size: initial Langevin step ``eta`` (None: ``eps``, capped by the target's variance for plain ULA);
            adjusted kernels adapt it toward ``target_acceptance`` during training.
        buffer_size, buffer_prob: replay buffer of ``(x, y)`` chain states; each training chain restarts from it
            with probability ``buffer_prob`` (so chains persist with their own ``x``), else from a fresh start.
        start: where fresh chains start: ``"source"`` (at ``x`` plus noise; needs equal shapes), ``"resample"``
            (one of ``start_candidates`` points, a ``"source"`` start and the others near the ``jump_points``
            target points, chosen by importance weight toward ``pi_f(. | x)``: :func:`neurot.samplers.resampled_starts`;
            chains then start in far modes of the conditional with their mass), ``"target"``
            (``N(mean_Q, std_Q^2 I)`` in the target space) or ``"auto"``: ``"source"`` for the quadratic cost (it
            then draws ``N(x, eps I)``, the conditional when ``f`` is constant) and for other costs between points
            of one shape, ``"target"`` for latent costs and between points of different shapes.
        start_noise: standard deviation of the noise added to ``"source"`` starts and of the ``"resample"``
            candidates near ``x`` (None: ``sqrt(eps)``).
        anneal: final temperature of the chains of :meth:`EgNOT.sample`: 1 (default) samples ``pi_f(. | x)``; below
            1 the chains' temperature falls geometrically from 1 to ``anneal`` (the drift is unchanged, the noise
            shrinks), which removes Langevin noise from images at the price of some diversity.
        step_backoff: when a training chain diverges (NaN/Inf), halve the Langevin step and redo the iteration, at
            most this many times in a row (0: stop with :class:`~neurot.solvers.base.DivergenceError`).

    """

    eps: float
    potential: Any = "mlp"
    hidden: tuple[int, ...] = (128, 128, 128)
    activation: str = "silu"
    gaussian_part: bool = True
    cost: Any = "quadratic"
    channels: tuple[int, ...] = (32, 64, 64)
    steps: int = 10_000
    batch_size: int = 1024
    lr: float = 1e-3
    alpha: float = 2e-4
    sampler: str = "auto"
    langevin_steps: int = 10
    sample_steps: int = 300
    sample_stop: bool = False
    jump_every: int = 0
    jump_points: int = 1024
    step_size: float | None = None
    target_acceptance: float = 0.65
    buffer_size: int = 10_000
    buffer_prob: float = 0.95
    start: str = "auto"
    start_noise: float | None = None
    start_candidates: int = 32
    anneal: float = 1.0
    step_backoff: int = 0

    def __post_init__(self) -> None:
        check_positive("eps", self.eps)
        if not isinstance(self.potential, nn.Module):
            check_choice("potential", self.potential, POTENTIALS)
        quadratic = is_quadratic(resolve_cost(self.cost))
        if quadratic:
            self.cost = "quadratic"
        check_choice("sampler", self.sampler, ["auto", *KERNELS])
        if not quadratic and KERNELS.get(self.sampler, KERNELS["mala"]).needs_gaussian_part:
            raise ValueError(f"sampler={self.sampler!r} integrates the Gaussian factor of the quadratic cost; "
                             "with another cost use 'mala' (the default) or 'ula'")
        check_choice("start", self.start, ["auto", "source", "target", "resample"])
        check_positive("start_noise", self.start_noise, allow_none=True)
        check_positive("anneal", self.anneal)
        if self.anneal > 1:
            raise ValueError(f"anneal must be in (0, 1], got {self.anneal!r}")
        for name in ("steps", "batch_size", "buffer_size"):
            check_int(name, getattr(self, name))
        check_int("jump_points", self.jump_points)
        check_int("start_candidates", self.start_candidates, minimum=2)
        for name in ("langevin_steps", "sample_steps", "step_backoff", "jump_every"):
            check_int(name, getattr(self, name), minimum=0)
        check_positive("lr", self.lr)
        check_positive("step_size", self.step_size, allow_none=True)
        check_probability("buffer_prob", self.buffer_prob)
        check_bool("sample_stop", self.sample_stop)
        check_bool("gaussian_part", self.gaussian_part)
        check_probability("target_acceptance", self.target_acceptance)
        check_nonnegative("alpha", self.alpha)
        check_activation("activation", self.activation)
        self.hidden, self.channels = check_widths("hidden", self.hidden), check_widths("channels", self.channels)


#: Built-in potentials (besides any ``nn.Module``).
POTENTIALS = ("mlp", "conv")
#: Most points of each side whose moments give the potential's Gaussian part (``gaussian_part``).
MOMENT_POINTS = 100_000
#: Ridge added to both covariances, in units of the target's per-coordinate variance: data on a subspace (a constant
#: pixel) still has a finite Gaussian potential.
MOMENT_RIDGE = 1e-4
#: Temperature stages of an annealed sampling chain (``anneal < 1``).
ANNEAL_STAGES = 10


def gaussian_potential(source: DataSource, target: DataSource, eps: float,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(H [D, D], h [D])`` of the EgNOT potential between Gaussians with the data's moments, in normalised units.

    With ``u = (y - m) / s`` (``m``, ``s``: the target's ``mean`` and ``std``, as :class:`MLPPotential` normalises)
    the potential of the Gaussian plan between ``N(a, A)`` and ``N(b, B)`` (the moments of :data:`MOMENT_POINTS`
    points of each side, plus :data:`MOMENT_RIDGE`) is ``f(y) = s^2 (u^T H u / 2 + h^T u)`` up to a constant, with
    ``H = I - eps Cov(y | x)^{-1}`` (:attr:`neurot.benchmarks.GaussianEOT.potential_hessian`, computed with
    everything divided by ``s``: ``eps -> eps / s^2``) and ``h = (I - H) b' - a'`` from ``grad f(b) = b - a``
    (``a' = (a - m) / s``, ``b' = (b - m) / s``). It is the exact potential when ``P`` and ``Q`` are Gaussian.
    """
    from neurot.benchmarks.gaussian import GaussianEOT  # numpy oracle; imported when a fit needs it

    loc, scale = target.mean.flatten().double(), target.std
    (a, cov_a), (b, cov_b) = (side.moments(MOMENT_POINTS, generator) for side in (source, target))
    ridge = MOMENT_RIDGE * torch.eye(len(loc), dtype=torch.float64, device=loc.device)
    a, b = ((mean - loc) / scale for mean in (a, b))
    cov_a, cov_b = (cov / scale**2 + ridge for cov in (cov_a, cov_b))
    plan = GaussianEOT(*(value.cpu().numpy() for value in (a, cov_a, b, cov_b)), eps / scale**2)
    hessian = torch.tensor(plan.potential_hessian, device=loc.device)
    gradient = b - hessian @ b - a
    return hessian.float(), gradient.float()


class EgNOT(Solver):
    """Energy-guided entropic neural OT.

    Example::

        solver = neurot.EgNOT(eps=0.1).fit(x, y)     # x [N, D], y [M, D]
        samples = solver.sample(x_test, n_per_x=100)  # [n, 100, D]

        # images to latent codes of a generator G: x [N, C, H, W], z [M, d]
        solver = neurot.EgNOT(eps=1.0, cost=neurot.costs.latent(G)).fit(x, z)
    """

    name = "egnot"
    Config = EgNOTConfig
    flat_data = False

    def __new__(cls, eps: float, **options: Any) -> Any:
        """``EgNOT(eps, potential="gmm", ...)`` is the former spelling of :class:`~neurot.LightSB` and returns one."""
        if isinstance(options.get("potential"), str) and options["potential"] == "gmm":
            from neurot.solvers.lightsb import LightSB

            return LightSB(eps, **{k: v for k, v in options.items() if k != "potential"})
        return super().__new__(cls)

    def __init__(self, eps: float, **options: Any) -> None:
        if "quadratic" in options:
            raise ValueError("the option quadratic (a learned quadratic form in the MLP potential, neurot 0.1.0) is "
                             "gone: the potential's Gaussian part is now fixed from the data (gaussian_part); a model "
                             "saved with quadratic must be fitted again")
        super().__init__(eps=eps, **options)
        self.cost = resolve_cost(self.config.cost)
        sampler = self.config.sampler
        if sampler == "auto":
            sampler = "split_mala" if is_quadratic(self.cost) else "mala"
        self.kernel = KERNELS[sampler](self.config.step_size or self.config.eps)
        self.potential: nn.Module | None = None
        self.jump: DataJump | None = None
        self.amortiser: nn.Module | None = None
        self.amortiser_family: tuple[str, str] | None = None  # (family, covariance) of the amortised sampler
        self.target_shape: tuple[int, ...] | None = None
        self.target_mean: torch.Tensor | None = None
        self.target_std = 1.0

    # -- the model ----------------------------------------------------------------------------------------------
    def _target_dim(self, source: DataSource) -> PointShape | None:
        return source.point_shape if is_quadratic(self.cost) else None

    def _build(self, dim: PointShape) -> None:
        self.dim = dim
        shape = self.target_shape = self.target_shape or shape_tuple(dim)
        if self.target_mean is None:
            self.target_mean = torch.zeros(shape)
        self.target_mean = self.target_mean.to(self.device)
        if isinstance(self.cost, nn.Module):
            self.cost.to(self.device)
        config, potential = self.config, self.config.potential
        if isinstance(potential, nn.Module):
            self.potential = potential
        elif potential == "conv":
            self.potential = ConvPotential(shape, config.channels, config.activation)
        else:
            gaussian_part = config.gaussian_part and is_quadratic(self.cost)
            self.potential = MLPPotential(math.prod(shape), config.hidden, config.activation, gaussian_part)
        self.potential.to(self.device)
        self.jump = None
        if config.jump_every or self.start == "resample":
            self.jump = DataJump(torch.zeros(config.jump_points, *shape), math.sqrt(config.eps)).to(self.device)
        self._build_amortiser()

    def _build_amortiser(self) -> None:
        """The untrained one-step sampler of ``amortiser_family`` (None when there is none)."""
        self.amortiser = None
        if self.amortiser_family is not None:
            self.amortiser = conditional_generator(self.dim, *self.amortiser_family, eps0=self.config.eps)
            self.amortiser.to(self.device)

    def _auto_stop(self) -> bool:
        return isinstance(self.config.potential, str) and self.config.potential == "mlp"

    def _modules(self) -> dict[str, nn.Module]:
        optional = {"jump": self.jump, "amortiser": self.amortiser}
        return {"potential": self.potential} | {name: module for name, module in optional.items() if module is not None}

    @torch.no_grad()
    def log_potential(self, y: torch.Tensor) -> torch.Tensor:
        """``f(y) / eps`` for ``y [n, ...]``, ``[n]`` (:meth:`Solver.log_potential`)."""
        return self.potential(y) / self.config.eps

    def energy_target(self, x: torch.Tensor, temperature: float = 1.0) -> Target:
        """The conditional ``pi_f(. | x)`` as an MCMC target, ``E_x(y) = (c(x, y) - f(y)) / eps`` for ``x [n, ...]``.

        ``temperature`` ``T`` tempers it to ``exp(-E_x(y) / T)``.
        """
        eps = self.config.eps * temperature
        cost, potential = self.cost, self.potential
        gaussian = cost.gaussian_reference(x, eps) if is_quadratic(cost) else None
        return Target(lambda y: (cost(x, y) - potential(y)) / eps, gaussian=gaussian)

    @property
    def start(self) -> str:
        """Where fresh chains start: the ``start`` option with ``"auto"`` resolved."""
        if self.config.start != "auto":
            return self.config.start
        if is_quadratic(self.cost):
            return "source"
        same_space = shape_tuple(self.dim) == self.target_shape and not isinstance(self.cost, LatentCost)
        return "source" if same_space else "target"

    def _initial_points(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Chain starts ``[n, *target_shape]`` for sources ``x [n, ...]`` (see the ``start`` option)."""
        if self.start == "target":
            noise = torch.randn((len(x), *self.target_shape), generator=generator, device=x.device)
            return self.target_mean + self.target_std * noise
        if tuple(x.shape[1:]) != self.target_shape:
            raise ValueError(f"start={self.start!r} needs source and target points of one shape, got "
                             f"{list(x.shape[1:])} and {list(self.target_shape)}; use start='target'")
        std = math.sqrt(self.config.eps) if self.config.start_noise is None else self.config.start_noise
        if self.start == "resample":
            return resampled_starts(x, self.energy_target, self.jump, self.config.start_candidates, std, generator)
        return x + std * torch.randn(x.shape, generator=generator, device=x.device)

    # -- training -----------------------------------------------------------------------------------------------
    def _setup(self, source: DataSource, target: DataSource) -> None:
        config = self.config
        self.source_data, self.target_data = source, target
        self.target_shape, self.target_mean, self.target_std = target.shape, target.mean, target.std
        self.amortiser_family = None  # a sampler amortised for an earlier potential would not fit the new one
        self._build(source.point_shape)
        if isinstance(self.potential, (MLPPotential, ConvPotential)):
            loc = target.mean
            self.potential.set_normalization(loc.flatten() if isinstance(self.potential, MLPPotential) else loc,
                                             target.std)
        if isinstance(self.potential, MLPPotential) and self.potential.gaussian_part:
            self.potential.set_gaussian_part(*gaussian_potential(source, target, config.eps, self.generator))
        # Every fit starts from the same step, so a refit with the same seed repeats the first one.
        unadjusted_step = min(config.eps, 0.1 * target.std**2)
        self.kernel.step_size = config.step_size or (config.eps if self.kernel.adjusted else unadjusted_step)
        if self.jump is not None:
            self.jump.references.copy_(target.sample(config.jump_points, self.generator))
        self.optimizer = torch.optim.Adam(self.potential.parameters(), lr=config.lr)
        self.buffer = ReplayBuffer(config.buffer_size)
        # Past ~10 eps the split kernel's Gaussian part is already a fresh draw; larger steps only stall chains
        # once f has structure (observed: acceptance 0.9 -> 0.001 within 40 iterations, then divergence).
        self.adapter = StepSizeAdapter(config.target_acceptance, max_step=10 * config.eps)

    def _negatives(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Chains for the batch ``x [B, ...]``: restart from the buffer or from a fresh start, run, store.

        Plain starts cost nothing and are drawn for every row; resampled ones (``start_candidates`` energies each)
        only for the rows that start fresh.
        """
        config, generator = self.config, self.generator
        resample = self.start == "resample"
        y0 = x.clone() if resample else self._initial_points(x, generator)
        fresh = torch.ones(len(x), dtype=torch.bool, device=x.device)
        if len(self.buffer) and config.buffer_prob > 0:
            fresh = torch.rand(len(x), generator=generator, device=self.device) >= config.buffer_prob
            x_old, y_old = self.buffer.sample(len(x), generator)
            x = torch.where(fresh.view(-1, *[1] * (x.ndim - 1)), x, x_old)
            y0 = torch.where(fresh.view(-1, *[1] * (y0.ndim - 1)), y0, y_old)
        if resample:
            y0[fresh] = self._initial_points(x[fresh], generator)
        result = run_chain(self.kernel, self.energy_target(x), y0, config.langevin_steps, generator, self.adapter,
                           **self._jumps())
        self.buffer.push(x, result.state.y)
        return x, result.state.y, result.diagnostics()

    def _train_step(self, step: int, total: int) -> dict[str, float]:
        config = self.config
        x = self.source_data.sample(config.batch_size, self.generator)
        y_pos = self.target_data.sample(config.batch_size, self.generator)
        lr = self.schedule.set_lr(self.optimizer, config.lr, step)
        f_pos = self.potential(y_pos)
        _, y_neg, diagnostics = self._negatives(x)
        f_neg = self.potential(y_neg)
        loss = f_neg.mean() - f_pos.mean()
        if config.alpha:
            penalty = (f_pos.square().mean() + f_neg.square().mean()) / (config.eps * self.target_std**2)
            loss = loss + config.alpha * penalty
        metrics = read_scalars({"loss": loss, "lr": lr, "f_pos": f_pos.mean(), "f_neg": f_neg.mean(),
                                "step_size": self.kernel.step_size, **diagnostics})
        optimizer_step(self.optimizer, loss, "EgNOT", value=metrics["loss"])
        return metrics

    # -- inference ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        x: Any,
        n_per_x: int | None = None,
        *,
        seed: int | None = None,
        steps: int | None = None,
        stop: bool | None = None,
        anneal: float | None = None,
        chunk_size: int = 65_536,
    ) -> torch.Tensor:
        """Draw ``y ~ pi_f(. | x)`` by Langevin chains (see ``start``; after :meth:`amortise`, from its draws).

        ``x [M, ...]`` (the source's point shape) gives ``[M, ...]`` (one draw per row, in the target's point
        shape), or ``[M, n_per_x, ...]`` when ``n_per_x`` is set; ``seed`` makes the draw reproducible. The chains'
        options default to the solver's ``sample_steps``, ``sample_stop`` and ``anneal`` (see the options): ``steps``
        per chain, ``stop`` early on an energy plateau, ``anneal < 1`` ends the chains at a lower temperature.
        ``chunk_size`` bounds the chains run at once (memory). With an amortised sampler, ``steps=0`` returns its
        draws: one network evaluation per sample.
        """
        x = self._points("x", x)
        config = self.config
        steps = config.sample_steps if steps is None else steps
        stop = config.sample_stop if stop is None else stop
        anneal = config.anneal if anneal is None else anneal
        check_int("n_per_x", n_per_x, allow_none=True)
        check_int("steps", steps, minimum=0)
        check_bool("stop", stop)
        check_probability("anneal", anneal)
        check_positive("anneal", anneal)
        check_int("chunk_size", chunk_size)
        generator = self._sampling_generator(seed)
        repeats = n_per_x or 1
        y = draw_in_chunks(x, repeats, chunk_size, lambda chunk: self._sampling_chain(
            chunk, self._sampling_starts(chunk, generator), steps, generator, stop, anneal))
        return y if n_per_x is None else y.view(len(x), repeats, *self.target_shape)

    def _sampling_chain(self, x: torch.Tensor, y0: torch.Tensor, n_steps: int, generator: torch.Generator,
                        stop_early: bool, anneal: float) -> torch.Tensor:
        """``n_steps`` of the kernel from ``y0`` on ``pi_f(. | x)``, tempered in stages from 1 to ``anneal``.

        At temperature ``T`` the kernel runs on ``exp(-E_x / T)`` with step ``T eta``: the same drift
        ``-(eta / 2) grad E_x`` (where the kernel's taming, a cap proportional to the noise, does not bind), noise
        ``sqrt(T eta)``.
        """
        if n_steps == 0:
            return y0
        stages = 1 if anneal == 1 else min(ANNEAL_STAGES, n_steps)
        stop = EnergyPlateau() if stop_early and stages == 1 else None
        y = y0
        for stage, stage_steps in enumerate(torch.arange(n_steps).tensor_split(stages)):
            temperature = anneal ** (stage / max(stages - 1, 1))
            kernel = copy.copy(self.kernel)  # keeps per-instance settings such as max_move
            kernel.step_size = self.kernel.step_size * temperature
            y = run_chain(kernel, self.energy_target(x, temperature), y, len(stage_steps), generator, stop=stop,
                          **self._jumps()).state.y
        return y

    def _sampling_starts(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Where sampling chains start: a draw of the amortised sampler when there is one, else ``_initial_points``."""
        if self.amortiser is None:
            return self._initial_points(x, generator)
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return self.amortiser(x, z)[0]

    # -- amortised sampling -------------------------------------------------------------------------------------
    def amortise(self, x: Any, steps: int = 2000, *, family: str = "auto", covariance: str = "auto",
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0) -> EgNOT:
        """Train a one-step sampler ``T(x, z)`` of the fitted plan's conditionals; returns ``self``.

        ``T`` (:func:`neurot.nn.conditional_generator` of ``family`` and ``covariance``, ``z ~ N(0, I)``, law
        ``q(. | x)``, exact log-determinant) minimises, with the potential fixed, on source points ``x [N, D]``::

            E_x E_z [c(x, T) - f(T)] - eps E_x H(q(. | x)) = eps E_x KL(q(. | x) || pi_f(. | x)) - eps E_x log Z_f(x)

        by ``steps`` Adam steps of ``batch_size`` rows at rate ``lr``, cosine-decayed (the generator step of
        :class:`~neurot.SFEUOT` against EgNOT's potential). Afterwards :meth:`sample` starts its chains at ``T``'s
        draws, and ``sample(x, steps=0)`` is one network evaluation per sample; the sampler is saved with the model.
        The reverse KL seeks modes: a Gaussian ``T`` puts each conditional in one mode, the flow can split it, and a
        few Langevin steps after ``T`` correct what it misses (BENCHMARKS.md, "Amortised EgNOT sampling").
        Vector data of one dimension ``D`` on both sides only.
        """
        self._check_fitted()
        x = self._points("x", x)
        if x.ndim != 2 or self.target_shape != tuple(x.shape[1:]):
            raise ValueError(f"amortise needs source and target points of one dimension D ([N, D]), got source "
                             f"points {list(x.shape[1:])} and target points {list(self.target_shape)}")
        for name, value in (("steps", steps), ("batch_size", batch_size)):
            check_int(name, value)
        check_positive("lr", lr)
        self.amortiser_family = resolve_generator(x.shape[1], family, covariance)
        self._build_amortiser()
        self.amortiser.set_normalization(x.mean(0), float(x.std()))
        optimizer = torch.optim.Adam(self.amortiser.parameters(), lr=lr)
        schedule, generator = Schedule(steps), self._sampling_generator(seed)
        self.potential.requires_grad_(False)
        try:
            for step in tqdm(range(1, steps + 1), desc="egnot amortise", disable=not sys.stderr.isatty(), leave=False):
                schedule.set_lr(optimizer, lr, step)
                batch = x[torch.randint(len(x), (batch_size,), generator=generator, device=x.device)]
                z = torch.randn(batch.shape, generator=generator, device=x.device, dtype=x.dtype)
                loss = gibbs_kl_loss(batch, *self.amortiser(batch, z), self.cost, self.potential, self.config.eps)
                optimizer_step(optimizer, loss, "EgNOT amortised sampler")
        finally:
            self.potential.requires_grad_(True)
        return self

    def _jumps(self) -> dict[str, Any]:
        """``run_chain``'s jump options (none when ``jump_every`` is 0)."""
        return {"jump": self.jump, "jump_every": self.config.jump_every} if self.config.jump_every else {}

    def _bridge_eps(self) -> float:
        if not is_quadratic(self.cost):
            raise ValueError("paths (interpolate, sample_path, evaluate) are Brownian bridges of the quadratic cost; "
                             "this EgNOT has another cost: use sample() for its plan")
        return self.config.eps

    def _extra_state(self) -> dict[str, Any]:
        return {"step_size": self.kernel.step_size, "target_shape": list(self.target_shape),
                "target_mean": self.target_mean.flatten().tolist(), "target_std": self.target_std,
                "amortiser": list(self.amortiser_family) if self.amortiser_family else None}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.kernel.step_size = float(state.get("step_size", self.kernel.step_size))
        if "target_shape" in state:
            self.target_shape = tuple(state["target_shape"])
            self.target_mean = torch.tensor(state["target_mean"]).view(self.target_shape)
            self.target_std = float(state["target_std"])
        family = state.get("amortiser")
        self.amortiser_family = tuple(family) if family else None

    # -- checkpoints and divergence -------------------------------------------------------------------------
    divergence_advice = ("a lower lr or step_size, a larger alpha, or step_backoff = 5 (halves a diverged chain's "
                         "step); for data of huge values (the potential grows as their square), the data divided by "
                         "a constant c and eps by c^2")

    def _training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "buffer": self.buffer}

    def _back_off(self, error: FloatingPointError, attempt: int) -> bool:
        if not isinstance(error, ChainDivergedError) or attempt >= self.config.step_backoff:
            return False
        self.kernel.step_size /= 2
        logger.warning("EgNOT step %d: %s; retrying with step size %.3g", self.step, error, self.kernel.step_size)
        return True
