"""EgNOT: energy-guided entropic neural optimal transport (Mokrov et al., ICLR 2024, arXiv 2304.06094).

One potential ``f`` on the target space. The plan's conditionals are energy-based models (MATH.md section 1)

    pi_f(y | x) ∝ exp(-E_x(y)),   E_x(y) = (c(x, y) - f(y)) / eps,

and ``f`` maximises the weak dual ``L(f) = E_Q[f(y)] - eps E_P[log Z_f(x)]``. Its gradient (Theorem 3 of the paper)
needs samples of ``pi_f(. | x)``, drawn by Langevin MCMC; the minimised loss per batch is
``mean f(y_neg) - mean f(y_pos)`` with ``y_pos ~ Q`` and detached ``y_neg ~ pi_f(. | x)``, ``x ~ P``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neurot._validation import check_choice, check_int, check_positive, check_probability
from neurot.costs import COSTS
from neurot.data import DataSource
from neurot.nn import GaussianMixturePotential, MLPPotential
from neurot.nn.gmm import COVARIANCES
from neurot.samplers import KERNELS, ChainDivergedError, ReplayBuffer, StepSizeAdapter, Target, run_chain
from neurot.solvers.base import Solver

logger = logging.getLogger(__name__)


@dataclass
class EgNOTConfig:
    """Options of :class:`EgNOT`. Only ``eps`` is required; the rest have defaults chosen from the data.

    Attributes:
        eps: entropic regularisation (``eps KL(pi || P x Q)`` with the cost ``1/2 |x - y|^2``).
        potential: ``"mlp"``, ``"gmm"`` (``exp(f / eps)`` a Gaussian mixture of ``n_components``: the loss is then
            exact and sampling needs no MCMC, the LightSB parametrisation) or any ``nn.Module`` ``[n, D] -> [n]``
            (one that also has ``log_partition(x)`` and ``sample_conditional(x, generator)`` is used exactly too).
        hidden, activation: widths and activation of the MLP potential; n_components: of the mixture potential.
        covariance: of the mixture's components, ``"full"`` (``S_k = L_k L_k^T``, default) or ``"diag"``; mixture only.
        steps, batch_size, lr: training iterations, batch size, Adam learning rate, cosine-decayed to 0 (None:
            1e-3 for the MLP, which normalises its inputs by the target's mean and scale, 1e-2 for the mixture).
        alpha: weight of ``mean((f / eps)^2)`` over both batches, keeping the energy bounded (0 disables it).
            Without it, training on thin targets (the Swiss roll at eps = 0.1) diverges: chains stall where ``f``
            steepens and ``f`` runs off. At 1e-4, D = 8 Gaussians at eps = 0.1 scored plan BW2-UVP 0.069 % with it
            and 0.087 % without (at 1e-3: 0.63 %, a visible bias).
        sampler: Langevin kernel, one of :data:`neurot.samplers.KERNELS`.
        langevin_steps: kernel steps per training iteration; ``sample_steps``: per chain when sampling.
        step_size: initial Langevin step ``eta`` (None: ``eps``, capped by the target's variance for plain ULA);
            adjusted kernels adapt it toward ``target_acceptance`` during training.
        buffer_size, buffer_prob: replay buffer of ``(x, y)`` chain states; each training chain restarts from it
            with probability ``buffer_prob``, else from ``N(x, eps I)`` at a fresh ``x``.
        step_backoff: when a training chain diverges (NaN/Inf), halve the Langevin step and redo the iteration, at
            most this many times in a row (0: stop with :class:`~neurot.solvers.base.DivergenceError`).

    """

    eps: float
    potential: Any = "mlp"
    hidden: tuple[int, ...] = (128, 128, 128)
    activation: str = "silu"
    n_components: int = 50
    covariance: str = "full"
    cost: str = "quadratic"
    steps: int = 2000
    batch_size: int = 1024
    lr: float | None = None
    alpha: float = 1e-4
    sampler: str = "split_mala"
    langevin_steps: int = 10
    sample_steps: int = 300
    step_size: float | None = None
    target_acceptance: float = 0.65
    buffer_size: int = 10_000
    buffer_prob: float = 0.95
    step_backoff: int = 0

    def __post_init__(self) -> None:
        check_positive("eps", self.eps)
        if not isinstance(self.potential, nn.Module):
            check_choice("potential", self.potential, ["mlp", "gmm"])
        check_choice("covariance", self.covariance, COVARIANCES)
        check_choice("cost", self.cost, COSTS)
        check_choice("sampler", self.sampler, KERNELS)
        for name in ("steps", "batch_size", "buffer_size", "n_components"):
            check_int(name, getattr(self, name))
        for name in ("langevin_steps", "sample_steps", "step_backoff"):
            check_int(name, getattr(self, name), minimum=0)
        check_positive("lr", self.lr, allow_none=True)
        check_positive("step_size", self.step_size, allow_none=True)
        check_probability("buffer_prob", self.buffer_prob)
        check_probability("target_acceptance", self.target_acceptance)
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(not isinstance(w, int) or w < 1 for w in self.hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {self.hidden!r}")


class EgNOT(Solver):
    """Energy-guided entropic neural OT.

    Example::

        solver = neurot.EgNOT(eps=0.1).fit(x, y)     # x [N, D], y [M, D]
        samples = solver.sample(x_test, n_per_x=100)  # [n, 100, D]
    """

    name = "egnot"
    Config = EgNOTConfig

    def __init__(self, eps: float, **options: Any) -> None:
        super().__init__(eps=eps, **options)
        self.cost = COSTS[self.config.cost]
        kernel_class = KERNELS[self.config.sampler]
        self.kernel = kernel_class(self.config.step_size or self.config.eps)
        self.potential: nn.Module | None = None

    # -- the model ----------------------------------------------------------------------------------------------
    def _build(self, dim: int) -> None:
        self.dim = dim
        potential = self.config.potential
        if isinstance(potential, nn.Module):
            self.potential = potential.to(self.device)
        elif potential == "gmm":
            config = self.config
            self.potential = GaussianMixturePotential(dim, config.n_components, config.eps, config.covariance)
            self.potential.to(self.device)
        else:
            self.potential = MLPPotential(dim, self.config.hidden, self.config.activation).to(self.device)

    @property
    def exact(self) -> bool:
        """True when the potential gives ``log Z_f`` and samples of ``pi_f`` in closed form (no MCMC)."""
        return hasattr(self.potential, "log_partition") and hasattr(self.potential, "sample_conditional")

    def _modules(self) -> dict[str, nn.Module]:
        return {"potential": self.potential}

    def energy_target(self, x: torch.Tensor) -> Target:
        """The conditional ``pi_f(. | x)`` as an MCMC target, ``E_x(y) = (c(x, y) - f(y)) / eps`` for ``x [n, D]``."""
        eps = self.config.eps
        potential = self.potential
        _, gaussian_var = self.cost.gaussian_reference(x, eps)
        return Target(lambda y: (self.cost(x, y) - potential(y)) / eps, gaussian_var=gaussian_var)

    def _initial_points(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Chain starts for sources ``x [n, D]``: a draw of ``N(x, eps I)``, the conditional when ``f`` is constant."""
        mean, var = self.cost.gaussian_reference(x, self.config.eps)
        return mean + math.sqrt(var) * torch.randn(mean.shape, generator=generator, device=mean.device)

    # -- training -----------------------------------------------------------------------------------------------
    def _setup(self, source: DataSource, target: DataSource) -> None:
        config = self.config
        self.source_data, self.target_data = source, target
        self._build(source.dim)
        if isinstance(self.potential, MLPPotential):
            self.potential.set_normalization(target.mean.to(self.device), target.std)
        if isinstance(self.potential, GaussianMixturePotential):
            self.potential.initialize(target.sample(self.config.n_components, self.generator, self.device), target.std)
        # Every fit starts from the same step, so a refit with the same seed repeats the first one.
        unadjusted_step = min(config.eps, 0.1 * target.std**2)
        self.kernel.step_size = config.step_size or (config.eps if self.kernel.adjusted else unadjusted_step)
        self.lr = config.lr or (1e-2 if isinstance(self.potential, GaussianMixturePotential) else 1e-3)
        self.optimizer = torch.optim.Adam(self.potential.parameters(), lr=self.lr)
        self.buffer = ReplayBuffer(config.buffer_size)
        # Past ~10 eps the split kernel's Gaussian part is already a fresh draw; larger steps only stall chains
        # once f has structure (observed: acceptance 0.9 -> 0.001 within 40 iterations, then divergence).
        self.adapter = StepSizeAdapter(config.target_acceptance, max_step=10 * config.eps)

    def _negatives(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Chains for the batch ``x [B, D]``: restart from the buffer or from ``N(x, eps I)``, run, store."""
        config, generator = self.config, self.generator
        y0 = self._initial_points(x, generator)
        if len(self.buffer) and config.buffer_prob > 0:
            reuse = torch.rand(len(x), generator=generator, device=self.device) < config.buffer_prob
            x_old, y_old = self.buffer.sample(len(x), generator)
            x = torch.where(reuse[:, None], x_old, x)
            y0 = torch.where(reuse[:, None], y_old, y0)
        result = run_chain(self.kernel, self.energy_target(x), y0, config.langevin_steps, generator, self.adapter)
        self.buffer.push(x, result.state.y)
        return x, result.state.y, result.diagnostics()

    def _train_step(self, step: int, total: int) -> dict[str, float]:
        config = self.config
        x = self.source_data.sample(config.batch_size, self.generator, self.device)
        y_pos = self.target_data.sample(config.batch_size, self.generator, self.device)
        lr = self.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / total))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        f_pos = self.potential(y_pos)
        if self.exact:
            # -L(f) = eps E_P[log Z_f(x)] - E_Q[f(y)], computed in closed form.
            loss = config.eps * self.potential.log_partition(x).mean() - f_pos.mean()
            metrics = {"f_pos": f_pos.mean().item()}
        else:
            _, y_neg, diagnostics = self._negatives(x)
            f_neg = self.potential(y_neg)
            loss = f_neg.mean() - f_pos.mean()
            if config.alpha:
                loss = loss + config.alpha * (f_pos.square().mean() + f_neg.square().mean()) / config.eps**2
            metrics = {"f_pos": f_pos.mean().item(), "f_neg": f_neg.mean().item(),
                       "step_size": self.kernel.step_size, **diagnostics}
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the EgNOT loss is {loss.item()}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "lr": lr, **metrics}

    # -- inference ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        x: Any,
        n_per_x: int | None = None,
        *,
        steps: int | None = None,
        seed: int | None = None,
        chunk_size: int = 65_536,
    ) -> torch.Tensor:
        """Draw ``y ~ pi_f(. | x)``: exactly for a mixture potential, else by Langevin chains from ``N(x, eps I)``.

        ``x [M, D]`` gives ``[M, D]`` (one draw per row), or ``[M, n_per_x, D]`` when ``n_per_x`` is set.
        ``steps`` overrides ``sample_steps``; ``seed`` makes the draw reproducible.
        """
        x = self._points("x", x)
        check_int("n_per_x", n_per_x, allow_none=True)
        check_int("steps", steps, minimum=0, allow_none=True)
        check_int("chunk_size", chunk_size)
        generator = self._sampling_generator(seed)
        repeats = n_per_x or 1
        sources = x.repeat_interleave(repeats, dim=0)
        n_steps = self.config.sample_steps if steps is None else steps
        chunks = []
        for x_chunk in sources.split(chunk_size):
            if self.exact:
                chunks.append(self.potential.sample_conditional(x_chunk, generator))
                continue
            y0 = self._initial_points(x_chunk, generator)
            chunks.append(run_chain(self.kernel, self.energy_target(x_chunk), y0, n_steps, generator).state.y)
        y = torch.cat(chunks)
        return y if n_per_x is None else y.view(len(x), repeats, -1)

    def _extra_state(self) -> dict[str, Any]:
        return {"step_size": self.kernel.step_size}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.kernel.step_size = float(state.get("step_size", self.kernel.step_size))

    # -- checkpoints and divergence -------------------------------------------------------------------------
    divergence_advice = "a lower lr or step_size, a larger alpha, or step_backoff = 5 (halves a diverged chain's step)"

    def _training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "buffer": self.buffer}

    def _back_off(self, error: FloatingPointError, attempt: int) -> bool:
        if not isinstance(error, ChainDivergedError) or attempt >= self.config.step_backoff:
            return False
        self.kernel.step_size /= 2
        logger.warning("EgNOT step %d: %s; retrying with step size %.3g", self.step, error, self.kernel.step_size)
        return True
