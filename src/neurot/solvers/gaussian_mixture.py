"""The potential of :class:`neurot.LightSB`: a Gaussian mixture times ``exp(|y|^2 / (2 eps))``.

The LightSB parametrisation (Korotin et al., ICLR 2024, eq. 9) of EgNOT's potential for the quadratic cost:

    exp(f(y) / eps) = exp(|y|^2 / (2 eps)) v(y),        v(y) = sum_k a_k N(y; r_k, eps S_k),

with ``S_k`` diagonal or full. Everything the solver needs is then closed form (docs/math.md section 2):

    pi_f(y | x) = sum_k beta_k(x) N(y; r_k + S_k x, eps S_k),   beta_k(x) ∝ a_k exp((x^T S_k x + 2 r_k^T x) / (2 eps)),
    log Z_f(x) = -|x|^2 / (2 eps) + log sum_k a_k exp((x^T S_k x + 2 r_k^T x) / (2 eps)),

so the dual ``L(f) = E_Q[f] - eps E_P[log Z_f]`` is computed without MCMC and ``pi_f`` is sampled exactly. The
factor ``exp(|y|^2 / (2 eps))`` matters: with ``exp(f / eps)`` itself a mixture (``f`` concave), every conditional
covariance stays below ``eps I``, while the exact plan between Gaussians needs ``eps S`` with ``S`` above ``I`` in
the directions where the target is wider than the source; here one component holds it. ``covariance="diag"``
learns ``S_k = diag(s_k)`` (elementwise formulas); ``covariance="full"`` learns ``S_k = L_k L_k^T`` with ``L_k``
lower-triangular with a positive (exponentiated) diagonal.
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
    """``f(y) = |y|^2 / 2 + eps log sum_k a_k N(y; r_k, eps S_k)`` with learned ``log a [K]``, ``r [K, D]``, ``S_k``.

    Parameters: ``log_weights [K]`` (``a = softmax``), ``centres [K, D]`` (``r``) and by ``covariance``:

    - ``"diag"``: ``log_spreads [K, D]``, ``S_k = diag(exp(log_spreads_k))``;
    - ``"full"``: ``raw_spread_tril [K, D, D]``, ``S_k = L_k L_k^T`` with ``L_k = tril(raw_k, -1) +
      diag(exp(diag(raw_k)))``; the upper triangle of ``raw`` is unused.

    ``eps`` is fixed at construction (it is part of the parametrisation). :meth:`initialize` starts from spread-out
    target samples, each component with the spread of the target points nearest it, and balances the weights.
    """

    def __init__(self, dim: int, n_components: int, eps: float, covariance: str = "diag") -> None:
        super().__init__()
        check_choice("covariance", covariance, COVARIANCES)
        self.eps = float(eps)
        self.covariance = covariance
        self.log_weights = nn.Parameter(torch.zeros(n_components))
        self.centres = nn.Parameter(torch.randn(n_components, dim))
        if covariance == "diag":
            self.log_spreads = nn.Parameter(torch.zeros(n_components, dim))
        else:
            self.raw_spread_tril = nn.Parameter(torch.zeros(n_components, dim, dim))

    @torch.no_grad()
    def initialize(
        self, source_points: torch.Tensor, target_points: torch.Tensor, scale: float,
        generator: torch.Generator | None = None,
    ) -> None:
        """Start from samples of ``P`` and ``Q`` (``[n, D]`` each, ``n >= K``).

        Each component starts where a component ``N(m_k, s_k I)`` of ``exp(f / eps)`` would: ``m_k`` one of ``K``
        target points chosen by :func:`spread_out_subset`, ``s_k`` the variance of its cell (:func:`cell_variances`,
        as scikit-learn's ``GaussianMixture`` starts from k-means cells), at least ``(MIN_INITIAL_STD scale)^2``;
        in this parametrisation ``S_k = s_k / (s_k + eps) I`` and ``r_k = (1 - s_k / (s_k + eps)) m_k``. Weights by
        :meth:`balance_weights`. A single narrow start (std 0.1 scale for every component) stalls in high dimension;
        a single broad one (0.5 scale) never reaches a far-away small cluster at small eps (both measured in
        BENCHMARKS.md).
        """
        starts = spread_out_subset(target_points, len(self.centres), generator)
        variances = cell_variances(target_points, starts).clamp(min=(MIN_INITIAL_STD * scale) ** 2)       # [K]
        spreads = variances / (variances + self.eps)                                                       # [K]
        self.centres.copy_((1 - spreads)[:, None] * starts)
        log_spreads = spreads.log()[:, None].expand_as(self.centres)                                       # [K, D]
        if self.covariance == "diag":
            self.log_spreads.copy_(log_spreads)
        else:
            self.raw_spread_tril.copy_(torch.diag_embed(0.5 * log_spreads))
        self.balance_weights(source_points, target_points)

    @torch.no_grad()
    def balance_weights(self, x: torch.Tensor, y: torch.Tensor, iterations: int = 100) -> None:
        """Fixed-point updates of the weights alone toward a stationary point of the dual in ``log a``.

        ``dL / d log a_k = eps (E_Q[rho_k(y)] - E_P[beta_k(x)])`` with ``rho_k(y) ∝ a_k N(y; r_k, eps S_k)`` the
        components' responsibilities and ``beta_k(x)`` the conditional weights; each iteration sets
        ``log a_k += log mean_y rho_k(y) - log mean_x beta_k(x)`` (a Sinkhorn-like scaling) on samples ``x [n, D]``
        of ``P`` and ``y [m, D]`` of ``Q``. At small ``eps`` the optimal ``log a`` span ``O(distance^2 / eps)``
        (hundreds for a far-away cluster at ``eps = 0.1``), out of reach of gradient steps of size ``lr``.
        """
        for _ in range(iterations):
            log_target_share = self._log_terms(y).log_softmax(1).logsumexp(0)
            log_source_share = self._log_conditional_terms(x).log_softmax(1).logsumexp(0)
            self.log_weights += log_target_share - log_source_share
            self.log_weights -= self.log_weights.max()

    # -- the learned spreads -----------------------------------------------------------------------------------
    def spread_tril(self) -> torch.Tensor:
        """``L [K, D, D]``, lower-triangular with positive diagonal, ``S_k = L_k L_k^T`` (both structures)."""
        if self.covariance == "diag":
            return torch.diag_embed((0.5 * self.log_spreads).exp())
        raw = self.raw_spread_tril
        return raw.tril(-1) + torch.diag_embed(torch.diagonal(raw, dim1=1, dim2=2).exp())

    def spreads(self) -> torch.Tensor:
        """``S [K, D, D]``: each component of ``pi_f(. | x)`` has covariance ``eps S_k``."""
        scale = self.spread_tril()
        return scale @ scale.mT

    def _log_terms(self, y: torch.Tensor) -> torch.Tensor:
        """``log a_k + log N(y; r_k, eps S_k)``: ``[n, D] -> [n, K]``."""
        if self.covariance == "diag":
            log_density = _diag_gaussian_log_density(y, self.centres, self.eps * self.log_spreads.exp())
        else:
            log_density = _tril_gaussian_log_density(y, self.centres, math.sqrt(self.eps) * self.spread_tril())
        return log_density + self.log_weights.log_softmax(0)

    def _log_conditional_terms(self, x: torch.Tensor) -> torch.Tensor:
        """``log a_k + (x^T S_k x + 2 r_k^T x) / (2 eps)``, ``log beta_k(x)`` up to a constant: ``[n, D] -> [n, K]``."""
        if self.covariance == "diag":
            quadratic = x.square() @ self.log_spreads.exp().T                                              # [n, K]
        else:
            quadratic = (x @ self.spread_tril()).square().sum(-1).T                        # |L_k^T x|^2: [n, K]
        return (quadratic + 2 * x @ self.centres.T) / (2 * self.eps) + self.log_weights.log_softmax(0)

    # -- the potential and its closed forms --------------------------------------------------------------------
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``f(y)``: ``[n, D] -> [n]``."""
        return 0.5 * y.square().sum(1) + self.eps * torch.logsumexp(self._log_terms(y), dim=1)

    def log_partition(self, x: torch.Tensor) -> torch.Tensor:
        """``log Z_f(x) = log integral exp((f(y) - 1/2 |x - y|^2) / eps) dy``: ``[n, D] -> [n]``."""
        return torch.logsumexp(self._log_conditional_terms(x), dim=1) - x.square().sum(1) / (2 * self.eps)

    def conditional_weights_and_means(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log beta [n, K]`` and means ``r_k + S_k x`` ``[n, K, D]`` of ``pi_f(. | x)`` for ``x [n, D]``."""
        log_beta = self._log_conditional_terms(x).log_softmax(1)
        if self.covariance == "diag":
            return log_beta, self.centres[None] + self.log_spreads.exp()[None] * x[:, None, :]
        return log_beta, self.centres[None] + torch.einsum("kij,nj->nki", self.spreads(), x)

    def conditional(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``log beta [n, K]``, ``mu [n, K, D]`` and covariances ``eps S`` of ``pi_f(. | x)`` for ``x [n, D]``.

        The covariances are ``[K, D]`` (the diagonals) for ``covariance="diag"`` and ``[K, D, D]`` for ``"full"``.
        """
        log_beta, mu = self.conditional_weights_and_means(x)
        spreads = self.log_spreads.exp() if self.covariance == "diag" else self.spreads()
        return log_beta, mu, self.eps * spreads

    def sample_conditional(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One exact draw of ``pi_f(. | x)`` per row: ``[n, D] -> [n, D]``."""
        log_beta, mu = self.conditional_weights_and_means(x)
        component = torch.multinomial(log_beta.exp(), 1, generator=generator).squeeze(1)
        noise = math.sqrt(self.eps) * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        mean = mu[torch.arange(len(x), device=x.device), component]
        if self.covariance == "diag":
            return mean + (0.5 * self.log_spreads[component]).exp() * noise
        return mean + (self.spread_tril()[component] @ noise[:, :, None])[:, :, 0]
