"""The Gaussian-mixture EOT benchmark (Gushchin et al., NeurIPS 2023, arXiv 2306.10161), exact and offline.

Any pair ``(P, f)`` defines ``Q`` as the second marginal of ``x ~ P``, ``y ~ pi_f(. | x)``; ``pi_f`` is then the
exact EOT plan between ``P`` and ``Q``. With ``P`` a Gaussian mixture and ``exp(f / eps) = sum_k w_k N(m_k, S_k)``
every conditional is a Gaussian mixture in closed form (docs/math.md section 2 relates this form to LightSB's):

    pi_f(y | x) = sum_k beta_k(x) N(y; mu_k(x), V_k),          beta_k(x) ∝ w_k N(x; m_k, S_k + eps I),
    V_k = (S_k^{-1} + I / eps)^{-1},                           mu_k(x) = V_k (S_k^{-1} m_k + x / eps).

:func:`mixture_benchmark_pair` regenerates pairs from the benchmark's recipe (different random draws from the
published files, so published numbers are comparable in kind only); :func:`load_official_pair` reads the
published files when the user has them (``EOT_BENCHMARK_DATA``). numpy float64 throughout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from neurot.benchmarks.gaussian import random_gaussian

#: Environment variable naming the directory of the official benchmark files.
DATA_ENV = "EOT_BENCHMARK_DATA"


def _gaussian_log_density(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``log N(x_i; m_k, S_k)`` for ``x [n, D]``, ``means [K, D]``, ``covs [K, D, D]``: ``[n, K]``."""
    chol = np.linalg.cholesky(covs)                                        # [K, D, D]
    diff = x[:, None, :] - means[None]                                     # [n, K, D]
    solved = np.linalg.solve(chol[None], diff[..., None])[..., 0]          # [n, K, D]
    log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)       # [K]
    dim = x.shape[1]
    return -0.5 * (np.square(solved).sum(-1) + log_det + dim * np.log(2 * np.pi))


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """``sum_k weights_k N(means_k, covs_k)``: ``weights [K]`` (summing to 1), ``means [K, D]``, ``covs [K, D, D]``."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    def __post_init__(self) -> None:
        k, d = np.shape(self.means)
        if np.shape(self.weights) != (k,) or np.shape(self.covs) != (k, d, d):
            raise ValueError(f"weights [K], means [K, D], covs [K, D, D] disagree: {np.shape(self.weights)}, "
                             f"{np.shape(self.means)}, {np.shape(self.covs)}")
        object.__setattr__(self, "weights", np.asarray(self.weights, float) / np.sum(self.weights))

    @property
    def dim(self) -> int:
        """Dimension ``D``."""
        return self.means.shape[1]

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x [n, D]``: ``[n]``."""
        return logsumexp(np.log(self.weights) + _gaussian_log_density(x, self.means, self.covs), axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws ``[n, D]``."""
        components = rng.choice(len(self.weights), size=n, p=self.weights)
        noise = rng.standard_normal((n, self.dim))
        return self.means[components] + np.einsum("nij,nj->ni", np.linalg.cholesky(self.covs)[components], noise)


@dataclass(frozen=True, eq=False)
class MixtureEOT:
    """The exact EOT plan ``pi_f`` between ``source`` and the target it induces, ``exp(f / eps) = potential``."""

    source: GaussianMixture
    potential: GaussianMixture
    eps: float

    @property
    def dim(self) -> int:
        """Dimension ``D``."""
        return self.source.dim

    def conditional_components(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights ``beta [n, K]``, means ``mu [n, K, D]`` and covariances ``V [K, D, D]`` of ``pi_f(. | x)``."""
        x = np.asarray(x, float)
        eye = np.eye(self.dim)
        s, m = self.potential.covs, self.potential.means
        log_beta = np.log(self.potential.weights) + _gaussian_log_density(x, m, s + self.eps * eye)
        beta = np.exp(log_beta - logsumexp(log_beta, axis=1, keepdims=True))
        shifted_inv = np.linalg.inv(s + self.eps * eye)                             # (S + eps I)^{-1}
        # mu_k(x) = (S_k + eps I)^{-1} (eps m_k + S_k x);  V_k = eps S_k (S_k + eps I)^{-1}
        mu = np.einsum("kij,nkj->nki", shifted_inv, self.eps * m[None] + np.einsum("kij,nj->nki", s, x))
        v = self.eps * np.einsum("kij,kjl->kil", s, shifted_inv)
        return beta, mu, 0.5 * (v + np.swapaxes(v, 1, 2))

    def conditional_mean(self, x: np.ndarray) -> np.ndarray:
        """``E[y | x]`` ``[n, D]``."""
        beta, mu, _ = self.conditional_components(x)
        return np.einsum("nk,nkd->nd", beta, mu)

    def conditional_cov(self, x: np.ndarray) -> np.ndarray:
        """``Cov[y | x]`` ``[n, D, D]``: ``sum beta_k V_k + sum beta_k (mu_k - m)(mu_k - m)^T``."""
        beta, mu, v = self.conditional_components(x)
        centred = mu - np.einsum("nk,nkd->nd", beta, mu)[:, None]
        return np.einsum("nk,kij->nij", beta, v) + np.einsum("nk,nki,nkj->nij", beta, centred, centred)

    def sample_conditional(self, x: np.ndarray, n_per_x: int, rng: np.random.Generator) -> np.ndarray:
        """Exact draws of ``pi_f(. | x)``: ``[n, n_per_x, D]``."""
        beta, mu, v = self.conditional_components(x)
        n, k = beta.shape
        cumulative = np.cumsum(beta, axis=1)
        uniform = rng.random((n, n_per_x, 1))
        components = np.minimum((uniform > cumulative[:, None, :]).sum(-1), k - 1)           # [n, n_per_x]
        means = np.take_along_axis(mu, components[..., None], axis=1)                         # [n, n_per_x, D]
        noise = rng.standard_normal((n, n_per_x, self.dim))
        return means + np.einsum("nmij,nmj->nmi", np.linalg.cholesky(v)[components], noise)

    def sample_plan(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` ``[n, D]`` each, from the plan."""
        x = self.source.sample(n, rng)
        return x, self.sample_conditional(x, 1, rng)[:, 0]

    def sample_source(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``x ~ P``: ``[n, D]``."""
        return self.source.sample(n, rng)

    def sample_target(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``y ~ Q`` (the plan's second marginal): ``[n, D]``."""
        return self.sample_plan(n, rng)[1]

    def target_variance(self, rng: np.random.Generator, n: int = 100_000) -> float:
        """``Var(Q) = tr Cov(Q)``, estimated from ``n`` exact draws (the cBW2-UVP normaliser)."""
        return float(np.trace(np.cov(self.sample_target(n, rng).T)))


def mixture_benchmark_pair(dim: int, eps: float, seed: int = 0) -> MixtureEOT:
    """A pair regenerated from the benchmark's recipe.

    ``P`` has 3 components centred on distinct nodes of the grid ``{-2, 0, 2}^D`` with std 0.5; ``exp(f / eps)``
    has 5 equally weighted components with means uniform in ``[-2, 2]^D`` and covariances ``W W^T`` as in the
    Gaussian benchmark (:func:`random_gaussian`).
    """
    rng = np.random.default_rng(seed)
    nodes: set[tuple[int, ...]] = set()
    while len(nodes) < 3:
        nodes.add(tuple(rng.integers(-1, 2, size=dim) * 2))
    source_means = np.array(sorted(nodes), float)
    source = GaussianMixture(np.full(3, 1 / 3), source_means, np.stack([0.25 * np.eye(dim)] * 3))
    potential_means = rng.uniform(-2, 2, size=(5, dim))
    potential_covs = np.stack([random_gaussian(dim, rng)[1] for _ in range(5)])
    return MixtureEOT(source, GaussianMixture(np.full(5, 0.2), potential_means, potential_covs), float(eps))


def load_official_pair(dim: int, eps: float, directory: str | Path | None = None) -> MixtureEOT:
    """The published pair for ``(dim, eps)`` from the official files in ``directory`` or ``$EOT_BENCHMARK_DATA``.

    Files: ``input_{probs,mus,sigmas}_dim_D.torch`` and ``potential_{probs,mus,sigmas}_dim_D_eps_E.torch``.

    The files hold plain tensors and are read with ``torch.load(weights_only=True)``: nothing is unpickled.
    """
    import torch

    directory = Path(directory or os.environ.get(DATA_ENV, ""))
    if not directory.is_dir():
        raise FileNotFoundError(f"benchmark data directory {str(directory)!r} not found (set {DATA_ENV})")
    eps_name = f"{eps:g}"

    def read(name: str) -> np.ndarray:
        path = directory / f"{name}.torch"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing from the benchmark data")
        return torch.load(path, weights_only=True, map_location="cpu").double().numpy()

    source = GaussianMixture(*(read(f"input_{part}_dim_{dim}") for part in ("probs", "mus", "sigmas")))
    potential = GaussianMixture(*(read(f"potential_{part}_dim_{dim}_eps_{eps_name}")
                                  for part in ("probs", "mus", "sigmas")))
    return MixtureEOT(source, potential, float(eps))


def benchmark_pair(dim: int, eps: float, seed: int = 0) -> MixtureEOT:
    """The official pair when ``$EOT_BENCHMARK_DATA`` is set, else the offline regeneration."""
    if os.environ.get(DATA_ENV):
        return load_official_pair(dim, eps)
    return mixture_benchmark_pair(dim, eps, seed)
