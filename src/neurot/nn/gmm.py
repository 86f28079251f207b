"""Gaussian-mixture potential: ``exp(f(y) / eps) = sum_k w_k N(y; m_k, diag(s_k))``.

This is the LightSB parametrisation (Korotin et al., ICLR 2024).

For the quadratic cost everything EgNOT needs is then closed form (MATH.md section 2), with diagonal ``S_k``:

    pi_f(y | x) = sum_k beta_k(x) N(y; mu_k(x), diag(v_k)),    beta_k(x) ∝ w_k N(x; m_k, diag(s_k + eps)),
    v_k = eps s_k / (s_k + eps),                               mu_k(x) = (eps m_k + s_k x) / (s_k + eps),
    log Z_f(x) = log sum_k w_k N(x; m_k, diag(s_k + eps)) + (D / 2) log(2 pi eps),

so the dual ``L(f) = E_Q[f] - eps E_P[log Z_f]`` is computed without MCMC and ``pi_f`` is sampled exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _diag_gaussian_log_density(x: torch.Tensor, means: torch.Tensor, variances: torch.Tensor) -> torch.Tensor:
    """``log N(x_i; m_k, diag(v_k))`` for ``x [n, D]``, ``means [K, D]``, ``variances [K, D]``: ``[n, K]``."""
    diff = x[:, None, :] - means[None]
    return -0.5 * (diff.square() / variances + variances.log() + math.log(2 * math.pi)).sum(-1)


class GaussianMixturePotential(nn.Module):
    """``f(y) = eps log sum_k w_k N(y; m_k, diag(s_k))`` with learned ``log w [K]``, ``m [K, D]``, ``log s [K, D]``.

    ``eps`` is fixed at construction (it is part of the parametrisation). :meth:`initialize` places the means on
    target samples and sets the variances from the target's scale.
    """

    def __init__(self, dim: int, n_components: int, eps: float) -> None:
        super().__init__()
        self.eps = float(eps)
        self.log_weights = nn.Parameter(torch.zeros(n_components))
        self.means = nn.Parameter(torch.randn(n_components, dim))
        self.log_variances = nn.Parameter(torch.zeros(n_components, dim))

    @torch.no_grad()
    def initialize(self, target_points: torch.Tensor, scale: float) -> None:
        """Means at ``K`` target points ``[K, D]``; variances ``(0.1 scale)^2``."""
        self.means.copy_(target_points)
        self.log_variances.fill_(2 * math.log(0.1 * scale))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``f(y)``: ``[n, D] -> [n]``."""
        log_mixture = _diag_gaussian_log_density(y, self.means, self.log_variances.exp())
        return self.eps * torch.logsumexp(log_mixture + self.log_weights.log_softmax(0), dim=1)

    def log_partition(self, x: torch.Tensor) -> torch.Tensor:
        """``log Z_f(x) = log integral exp((f(y) - 1/2 |x - y|^2) / eps) dy``: ``[n, D] -> [n]``."""
        shifted = self.log_variances.exp() + self.eps
        log_terms = _diag_gaussian_log_density(x, self.means, shifted) + self.log_weights.log_softmax(0)
        return torch.logsumexp(log_terms, dim=1) + 0.5 * x.shape[1] * math.log(2 * math.pi * self.eps)

    def conditional(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``log beta [n, K]``, ``mu [n, K, D]`` and variances ``v [K, D]`` of ``pi_f(. | x)`` for ``x [n, D]``."""
        variances = self.log_variances.exp()
        shifted = variances + self.eps
        log_beta = (_diag_gaussian_log_density(x, self.means, shifted) + self.log_weights.log_softmax(0)).log_softmax(1)
        mu = (self.eps * self.means[None] + variances[None] * x[:, None, :]) / shifted[None]
        return log_beta, mu, self.eps * variances / shifted

    def sample_conditional(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One exact draw of ``pi_f(. | x)`` per row: ``[n, D] -> [n, D]``."""
        log_beta, mu, v = self.conditional(x)
        component = torch.multinomial(log_beta.exp(), 1, generator=generator).squeeze(1)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return mu[torch.arange(len(x), device=x.device), component] + v[component].sqrt() * noise
