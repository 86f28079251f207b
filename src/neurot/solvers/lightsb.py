"""LightSB: EgNOT's dual with a Gaussian-mixture potential, trained and sampled in closed form (no MCMC).

Korotin et al., "Light Schrödinger Bridge" (ICLR 2024). The plan of EgNOT (docs/math.md section 1) with
``exp(f(y) / eps) = exp(|y|^2 / (2 eps)) sum_k a_k N(y; r_k, eps S_k)``
(:class:`~neurot.solvers.gaussian_mixture.GaussianMixturePotential`).
For the quadratic cost ``c(x, y) = 1/2 |x - y|^2`` the normaliser of ``pi_f(y | x) ∝ exp((f(y) - c(x, y)) / eps)``
is closed form, so the dual (docs/math.md section 2)

    L(f) = E_Q[f(y)] - eps E_P[log Z_f(x)]                                                              (1)

is maximised by Adam on minibatches without sampling, and ``pi_f(. | x)`` is itself a Gaussian mixture, sampled
exactly in one call. The price is the family: ``K`` Gaussians must describe ``exp(f / eps) exp(-|y|^2 / (2 eps))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neurot._validation import check_choice, check_int, check_positive
from neurot.data import DataSource
from neurot.optim import optimizer_step, read_scalars
from neurot.solvers.base import Solver, draw_in_chunks
from neurot.solvers.gaussian_mixture import COVARIANCES, GaussianMixturePotential

#: Largest dimension for which the defaults are 50 components with full covariances.
FULL_MIXTURE_MAX_DIM = 16


@dataclass
class LightSBConfig:
    """Options of :class:`LightSB`. Only ``eps`` is required.

    Attributes:
        eps: entropic regularisation (``eps KL(pi || P x Q)``, cost ``1/2 |x - y|^2``).
        n_components, covariance: the mixture's components (``None``: 50 up to ``D = 16``, 20 above) and their
            spreads ``S_k``, ``"full"`` (``S_k = L_k L_k^T``), ``"diag"`` or ``"auto"`` (full up to ``D = 16``,
            diagonal above, as LightSB used diagonal components at D = 50-1000: a full one costs ``O(D^2)`` per
            component and point against ``O(D)``, and scored worse on the D = 50 time course of BENCHMARKS.md).
        potential: None (the mixture above) or any ``nn.Module`` ``f: [n, D] -> [n]`` that also has
            ``log_partition(x) -> [n]`` (``log Z_f``) and ``sample_conditional(x, generator) -> [n, D]``.
        steps, batch_size, lr: training iterations, batch size and Adam learning rate (cosine-decayed to 0).

    """

    eps: float
    n_components: int | None = None
    covariance: str = "auto"
    potential: Any = None
    steps: int = 5000
    batch_size: int = 1024
    lr: float = 1e-2

    def __post_init__(self) -> None:
        check_positive("eps", self.eps)
        check_choice("covariance", self.covariance, ["auto", *COVARIANCES])
        check_int("n_components", self.n_components, allow_none=True)
        for name in ("steps", "batch_size"):
            check_int(name, getattr(self, name))
        check_positive("lr", self.lr)
        closed_forms = ("log_partition", "sample_conditional")
        if self.potential is not None and not (isinstance(self.potential, nn.Module)
                                               and all(hasattr(self.potential, name) for name in closed_forms)):
            raise TypeError("potential must be None or an nn.Module with log_partition(x) and "
                            f"sample_conditional(x, generator), got {type(self.potential).__name__}")


class LightSB(Solver):
    """The entropic plan with a Gaussian-mixture potential: exact loss, exact sampling, one call per draw.

    Example::

        solver = neurot.LightSB(eps=0.1).fit(x, y)       # x [N, D], y [M, D]
        samples = solver.sample(x_test, n_per_x=100)      # [n, 100, D], exact draws of pi_f(. | x)
    """

    name = "lightsb"
    Config = LightSBConfig

    def __init__(self, eps: float, **options: Any) -> None:
        super().__init__(eps=eps, **options)
        self.potential: nn.Module | None = None

    def _build(self, dim: int) -> None:
        self.dim = dim
        config = self.config
        if config.potential is not None:
            self.potential = config.potential
        else:
            small = dim <= FULL_MIXTURE_MAX_DIM
            covariance = ("full" if small else "diag") if config.covariance == "auto" else config.covariance
            self.potential = GaussianMixturePotential(dim, config.n_components or (50 if small else 20), config.eps,
                                                      covariance)
        self.potential.to(self.device)

    def _modules(self) -> dict[str, nn.Module]:
        return {"potential": self.potential}

    def _setup(self, source: DataSource, target: DataSource) -> None:
        self.source_data, self.target_data = source, target
        self._build(source.dim)
        if isinstance(self.potential, GaussianMixturePotential):
            n_points = max(4096, len(self.potential.centres))
            self.potential.initialize(source.sample(n_points, self.generator),
                                      target.sample(n_points, self.generator), target.std, self.generator)
        self.optimizer = torch.optim.Adam(self.potential.parameters(), lr=self.config.lr)

    def _train_step(self, step: int, total: int) -> dict[str, float]:
        """One Adam step on ``-L(f)`` of (1) for a batch of each side."""
        config = self.config
        x = self.source_data.sample(config.batch_size, self.generator)
        y = self.target_data.sample(config.batch_size, self.generator)
        lr = self.schedule.set_lr(self.optimizer, config.lr, step)
        f_pos = self.potential(y).mean()
        loss = config.eps * self.potential.log_partition(x).mean() - f_pos
        metrics = read_scalars({"loss": loss, "lr": lr, "f_pos": f_pos})
        optimizer_step(self.optimizer, loss, "LightSB", value=metrics["loss"])
        return metrics

    def _training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer}

    @torch.no_grad()
    def sample(self, x: Any, n_per_x: int | None = None, *, seed: int | None = None,
               chunk_size: int = 65_536) -> torch.Tensor:
        """Exact draws of ``pi_f(. | x)``: ``x [M, D]`` gives ``[M, D]``, or ``[M, n_per_x, D]`` with ``n_per_x``.

        ``seed`` makes the draw reproducible; ``chunk_size`` bounds the rows drawn at once (memory).
        """
        x = self._points("x", x)
        check_int("n_per_x", n_per_x, allow_none=True)
        check_int("chunk_size", chunk_size)
        generator = self._sampling_generator(seed)
        repeats = n_per_x or 1
        y = draw_in_chunks(x, repeats, chunk_size, lambda chunk: self.potential.sample_conditional(chunk, generator))
        return y if n_per_x is None else y.view(len(x), repeats, -1)
