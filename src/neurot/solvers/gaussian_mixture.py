"""The potential of :class:`neurot.LightSB`: ``exp(f(y) / eps) = sum_k w_k N(y; m_k, S_k)``, ``S_k`` diagonal or full.

This is the LightSB parametrisation (Korotin et al., ICLR 2024) of EgNOT's potential. For the quadratic cost
everything the solver needs is then closed form (docs/math.md section 2):

    pi_f(y | x) = sum_k beta_k(x) N(y; mu_k(x), V_k),          beta_k(x) ∝ w_k N(x; m_k, S_k + eps I),
    V_k = eps S_k (S_k + eps I)^{-1},                          mu_k(x) = (S_k + eps I)^{-1} (eps m_k + S_k x),
    log Z_f(x) = log sum_k w_k N(x; m_k, S_k + eps I) + (D / 2) log(2 pi eps),

so the dual ``L(f) = E_Q[f] - eps E_P[log Z_f]`` is computed without MCMC and ``pi_f`` is sampled exactly.
``covariance="diag"`` learns ``S_k = diag(s_k)`` (elementwise formulas); ``covariance="full"`` learns
``S_k = L_k L_k^T`` with ``L_k`` lower-triangular with a positive (exponentiated) diagonal, and uses batched
Cholesky solves.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neurot._validation import check_choice

#: Covariance structures of the mixture components.
COVARIANCES = ("diag", "full")

#: Smallest initial component std, in units of the data's scale (see :meth:`GaussianMixturePotential.initialize`).
MIN_INITIAL_STD = 0.1


def _diag_gaussian_log_density(x: torch.Tensor, means: torch.Tensor, variances: torch.Tensor) -> torch.Tensor:
    """``log N(x_i; m_k, diag(v_k))`` for ``x [n, D]``, ``means [K, D]``, ``variances [K, D]``: ``[n, K]``."""
    diff = x[:, None, :] - means[None]
    return -0.5 * (diff.square() / variances + variances.log() + math.log(2 * math.pi)).sum(-1)


def _tril_gaussian_log_density(x: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor) -> torch.Tensor:
    """``log N(x_i; m_k, C_k C_k^T)`` for ``x [n, D]``, ``means [K, D]``, lower-triangular ``C [K, D, D]``: ``[n, K]``.

    ``|C_k^{-1} (x - m_k)|^2`` by one triangular solve per component, ``log det = 2 sum log diag(C_k)``.
    """
    diff = (x[None, :, :] - means[:, None, :]).transpose(1, 2)                       # [K, D, n]
    whitened = torch.linalg.solve_triangular(scale_tril, diff, upper=False)            # [K, D, n]
    log_det = 2 * torch.diagonal(scale_tril, dim1=1, dim2=2).log().sum(1)            # [K]
    return -0.5 * (whitened.square().sum(1) + log_det[:, None] + x.shape[1] * math.log(2 * math.pi)).T


def spread_out_subset(points: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` rows of ``points [n, D]`` chosen by D^2 seeding (k-means++, Arthur and Vassilvitskii 2007): ``[k, D]``.

    Each next row is drawn with probability proportional to its squared distance to the rows already chosen, so
    small far-away clusters get a component (a uniform draw of 50 rows misses a 2 % cluster a third of the time).
    """
    if k > len(points):
        raise ValueError(f"cannot choose {k} components from {len(points)} points")
    first = torch.randint(len(points), (1,), generator=generator, device=points.device)
    chosen = [points[first]]
    nearest = (points - chosen[0]).square().sum(1)
    for _ in range(k - 1):
        index = torch.multinomial(nearest + 1e-30, 1, generator=generator)
        chosen.append(points[index])
        nearest = torch.minimum(nearest, (points - chosen[-1]).square().sum(1))
    return torch.cat(chosen)


def cell_variances(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Per-dimension variance of each centre's Voronoi cell: ``[n, D], [K, D] -> [K]``.

    ``mean |y - m_k|^2 / D`` over the rows ``y`` of ``points`` nearest ``m_k``; 0 for a cell that holds no point.
    """
    squared, nearest = torch.cdist(points, centres).square().min(1)
    total = torch.zeros(len(centres), dtype=points.dtype, device=points.device).index_add_(0, nearest, squared)
    count = torch.bincount(nearest, minlength=len(centres))
    return total / count.clamp(min=1) / points.shape[1]


class GaussianMixturePotential(nn.Module):
    """``f(y) = eps log sum_k w_k N(y; m_k, S_k)`` with learned ``log w [K]``, ``m [K, D]`` and covariances.

    By ``covariance``:

    - ``"diag"``: ``log s [K, D]`` (``log_variances``), ``S_k = diag(s_k)``;
    - ``"full"``: ``raw [K, D, D]`` (``raw_scale_tril``), ``S_k = L_k L_k^T`` with ``L_k = tril(raw_k, -1) +
      diag(exp(diag(raw_k)))``; the upper triangle of ``raw`` is unused.

    ``eps`` is fixed at construction (it is part of the parametrisation). :meth:`initialize` places the means on
    spread-out target samples, gives each component the spread of the target points nearest it and balances the
    weights.
    """

    def __init__(self, dim: int, n_components: int, eps: float, covariance: str = "diag") -> None:
        super().__init__()
        check_choice("covariance", covariance, COVARIANCES)
        self.eps = float(eps)
        self.covariance = covariance
        self.log_weights = nn.Parameter(torch.zeros(n_components))
        self.means = nn.Parameter(torch.randn(n_components, dim))
        if covariance == "diag":
            self.log_variances = nn.Parameter(torch.zeros(n_components, dim))
        else:
            self.raw_scale_tril = nn.Parameter(torch.zeros(n_components, dim, dim))

    @torch.no_grad()
    def initialize(
        self, source_points: torch.Tensor, target_points: torch.Tensor, scale: float,
        generator: torch.Generator | None = None,
    ) -> None:
        """Start from samples of ``P`` and ``Q`` (``[n, D]`` each, ``n >= K``).

        Means at ``K`` target points chosen by :func:`spread_out_subset`; covariances ``s_k I`` with ``s_k`` the
        variance of the component's cell (:func:`cell_variances`, as scikit-learn's ``GaussianMixture`` starts from
        k-means cells), at least ``(MIN_INITIAL_STD scale)^2``; weights by :meth:`balance_weights`. A single
        narrow start (std 0.1 scale for every component) stalls in high dimension; a single broad one (0.5 scale)
        never reaches a far-away small cluster at small eps (both measured in BENCHMARKS.md).
        """
        self.means.copy_(spread_out_subset(target_points, len(self.means), generator))
        variances = cell_variances(target_points, self.means).clamp(min=(MIN_INITIAL_STD * scale) ** 2)     # [K]
        log_std = 0.5 * variances.log()[:, None].expand_as(self.means)                                     # [K, D]
        if self.covariance == "diag":
            self.log_variances.copy_(2 * log_std)
        else:
            self.raw_scale_tril.copy_(torch.diag_embed(log_std))
        self.balance_weights(source_points, target_points)

    @torch.no_grad()
    def balance_weights(self, x: torch.Tensor, y: torch.Tensor, iterations: int = 100) -> None:
        """Fixed-point updates of the weights alone toward a stationary point of the dual in ``log w``.

        ``dL / d log w_k = eps (E_Q[r_k(y)] - E_P[beta_k(x)])`` with ``r_k(y) ∝ w_k N(y; m_k, S_k)`` the
        components' responsibilities and ``beta_k(x)`` the conditional weights; each iteration sets
        ``log w_k += log mean_y r_k(y) - log mean_x beta_k(x)`` (a Sinkhorn-like scaling) on samples ``x [n, D]``
        of ``P`` and ``y [m, D]`` of ``Q``. At small ``eps`` the optimal ``log w`` span ``O(distance^2 / eps)``
        (hundreds for a far-away cluster at ``eps = 0.1``), out of reach of gradient steps of size ``lr``.
        """
        for _ in range(iterations):
            log_target_share = self._log_terms(y).log_softmax(1).logsumexp(0)
            log_source_share = self._log_terms(x, shifted=True).log_softmax(1).logsumexp(0)
            self.log_weights += log_target_share - log_source_share
            self.log_weights -= self.log_weights.max()

    # -- the learned covariances -------------------------------------------------------------------------------
    def scale_tril(self) -> torch.Tensor:
        """``L [K, D, D]``, lower-triangular with positive diagonal, ``S_k = L_k L_k^T`` (both structures)."""
        if self.covariance == "diag":
            return torch.diag_embed((0.5 * self.log_variances).exp())
        raw = self.raw_scale_tril
        return raw.tril(-1) + torch.diag_embed(torch.diagonal(raw, dim1=1, dim2=2).exp())

    def covariances(self) -> torch.Tensor:
        """``S [K, D, D]``."""
        scale = self.scale_tril()
        return scale @ scale.transpose(1, 2)

    def _shifted_scale_tril(self) -> torch.Tensor:
        """Cholesky factor of ``S_k + eps I``: ``[K, D, D]`` (full covariance only)."""
        eye = torch.eye(self.means.shape[1], dtype=self.means.dtype, device=self.means.device)
        return torch.linalg.cholesky(self.covariances() + self.eps * eye)

    def _log_terms(self, y: torch.Tensor, shifted: bool = False) -> torch.Tensor:
        """``log w_k + log N(y; m_k, S_k)``, or with ``S_k + eps I`` when ``shifted``: ``[n, D] -> [n, K]``."""
        if self.covariance == "diag":
            variances = self.log_variances.exp() + (self.eps if shifted else 0.0)
            log_density = _diag_gaussian_log_density(y, self.means, variances)
        else:
            scale = self._shifted_scale_tril() if shifted else self.scale_tril()
            log_density = _tril_gaussian_log_density(y, self.means, scale)
        return log_density + self.log_weights.log_softmax(0)

    # -- the potential and its closed forms --------------------------------------------------------------------
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``f(y)``: ``[n, D] -> [n]``."""
        return self.eps * torch.logsumexp(self._log_terms(y), dim=1)

    def log_partition(self, x: torch.Tensor) -> torch.Tensor:
        """``log Z_f(x) = log integral exp((f(y) - 1/2 |x - y|^2) / eps) dy``: ``[n, D] -> [n]``."""
        log_normaliser = 0.5 * x.shape[1] * math.log(2 * math.pi * self.eps)
        return torch.logsumexp(self._log_terms(x, shifted=True), dim=1) + log_normaliser

    def conditional_weights_and_means(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log beta [n, K]`` and ``mu [n, K, D]`` of ``pi_f(. | x)`` for ``x [n, D]``."""
        log_beta = self._log_terms(x, shifted=True).log_softmax(1)
        if self.covariance == "diag":
            variances = self.log_variances.exp()
            mu = (self.eps * self.means[None] + variances[None] * x[:, None, :]) / (variances[None] + self.eps)
            return log_beta, mu
        # mu_k(x) = (S_k + eps I)^{-1} (eps m_k + S_k x) = x + eps (S_k + eps I)^{-1} (m_k - x)
        diff = (self.means[:, None, :] - x[None, :, :]).transpose(1, 2)                  # [K, D, n]
        solved = torch.cholesky_solve(diff, self._shifted_scale_tril())                  # [K, D, n]
        return log_beta, x[:, None, :] + self.eps * solved.permute(2, 0, 1)

    def conditional_scale(self) -> torch.Tensor:
        """A square root of ``V_k``: ``sqrt(v_k) [K, D]`` (diag) or ``F [K, D, D]``, ``F_k F_k^T = V_k`` (full).

        Full: by the push-through identity ``V_k = eps L_k (L_k^T L_k + eps I)^{-1} L_k^T``, so with
        ``L_k^T L_k + eps I = R_k R_k^T`` (Cholesky; eigenvalues >= eps), ``F_k = sqrt(eps) L_k R_k^{-T}``. This has
        no cancellation when ``S_k`` is small against ``eps``, unlike ``eps (I - eps (S_k + eps I)^{-1})``.
        """
        if self.covariance == "diag":
            variances = self.log_variances.exp()
            return (self.eps * variances / (variances + self.eps)).sqrt()
        scale = self.scale_tril()
        eye = torch.eye(scale.shape[1], dtype=scale.dtype, device=scale.device)
        inner = torch.linalg.cholesky(scale.transpose(1, 2) @ scale + self.eps * eye)        # R [K, D, D]
        # L R^{-T} = (R^{-1} L^T)^T
        return math.sqrt(self.eps) * torch.linalg.solve_triangular(inner, scale.transpose(1, 2), upper=False).mT

    def conditional(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``log beta [n, K]``, ``mu [n, K, D]`` and covariances ``V`` of ``pi_f(. | x)`` for ``x [n, D]``.

        ``V`` is ``[K, D]`` (the diagonals) for ``covariance="diag"`` and ``[K, D, D]`` for ``"full"``.
        """
        log_beta, mu = self.conditional_weights_and_means(x)
        scale = self.conditional_scale()
        return log_beta, mu, scale.square() if self.covariance == "diag" else scale @ scale.mT

    def sample_conditional(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One exact draw of ``pi_f(. | x)`` per row: ``[n, D] -> [n, D]``."""
        log_beta, mu = self.conditional_weights_and_means(x)
        component = torch.multinomial(log_beta.exp(), 1, generator=generator).squeeze(1)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        mean = mu[torch.arange(len(x), device=x.device), component]
        scale = self.conditional_scale()[component]
        if self.covariance == "diag":
            return mean + scale * noise
        return mean + (scale @ noise[:, :, None])[:, :, 0]
