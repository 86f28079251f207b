"""One-step stochastic generators ``T(x, z)`` with a tractable log-determinant ``log |det dT / dz|``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from zuko.flows import NSF

from neurot.nn.mlp import ACTIVATIONS, mlp

#: Generator families of :func:`conditional_generator`.
GENERATORS = ("flow", "gaussian")
#: Largest dimension for which the family ``"auto"`` is the flow and the covariance ``"auto"`` is full.
FLOW_MAX_DIM = 16


class GaussianGenerator(nn.Module):
    """``T(x, z) = mu(x) + L(x) z``: a conditional Gaussian ``N(mu(x), L(x) L(x)^T)`` in one network evaluation.

    ``mu(x) = x + scale * m((x - loc) / scale)`` and ``L(x)`` lower triangular (``"full"``) or diagonal
    (``"diag"``) with positive diagonal ``sqrt(eps0) exp(.)``, both heads of one MLP. The output layer starts at zero,
    so the untrained generator is ``N(x, eps0 I)``: the plan's conditional when the potential is constant.
    ``forward(x [n, D], z [n, D]) -> (y [n, D], log_det [n])`` with ``log_det = log |det L(x)|``, so the entropy of
    ``T(x, .)`` is ``D/2 log(2 pi e) + log_det``.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128), activation: str = "silu",
                 covariance: str = "full", eps0: float = 1.0) -> None:
        super().__init__()
        if covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be 'full' or 'diag', got {covariance!r}")
        self.dim, self.covariance = dim, covariance
        n_off = dim * (dim - 1) // 2 if covariance == "full" else 0
        self.net = mlp(dim, hidden, 2 * dim + n_off, activation)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("log_root_eps", torch.tensor(0.5 * math.log(eps0)))
        rows, cols = torch.tril_indices(dim, dim, offset=-1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc [D]`` and divide them by ``scale``."""
        self.loc.copy_(loc)
        self.scale.fill_(scale)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [n, D], z [n, D] -> (y [n, D], log |det dy/dz| [n])``."""
        d = self.dim
        out = self.net((x - self.loc) / self.scale)
        mean = x + self.scale * out[:, :d]
        log_diag = self.log_root_eps + out[:, d:2 * d]
        y = mean + log_diag.exp() * z
        if self.covariance == "full" and d > 1:
            off = out[:, 2 * d:] * self.log_root_eps.exp()
            # strictly lower part: y_i += sum_{j < i} L_ij z_j
            y = y.index_add(1, self.rows, off * z[:, self.cols])
        return y, log_diag.sum(1)


class FlowGenerator(nn.Module):
    """``T(x, z) = G(x, f(z; x))``: a conditional spline flow ``f`` on the noise, then a Gaussian generator ``G``.

    ``f`` is zuko's autoregressive rational-quadratic spline flow (:class:`zuko.flows.NSF`, ``transforms`` layers of
    ``bins`` bins on ``[-5, 5]``, identity outside) with context ``(x - loc) / scale``, run in its *forward*
    direction, ``u_i = f_i(z_i | z_<i, x)``: one pass of each layer's masked network gives ``u`` and
    ``log |det du/dz|`` (the inverse-autoregressive use; zuko's sampling direction would take ``D`` passes). A
    monotone spline per coordinate can split one Gaussian coordinate into several modes, so ``T(x, .)`` can be
    multimodal. ``G`` (:class:`GaussianGenerator`) then shifts and scales: ``y = mu(x) + L(x) u``. Every layer's last
    linear map starts at zero, so ``f`` starts as the identity and the untrained generator is ``N(x, eps0 I)``.
    ``forward(x [n, D], z [n, D]) -> (y [n, D], log_det [n])``, ``log_det = log |det dy/dz|``, so the entropy of
    ``T(x, .)`` is ``D/2 log(2 pi e) + E log_det`` and ``-log q(y | x) = |z|^2 / 2 + D/2 log(2 pi) + log_det``.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128), activation: str = "silu",
                 covariance: str = "full", eps0: float = 1.0, transforms: int = 3, bins: int = 8) -> None:
        super().__init__()
        self.gaussian = GaussianGenerator(dim, hidden, activation, covariance, eps0)
        self.flow = NSF(dim, context=dim, transforms=transforms, bins=bins, hidden_features=tuple(hidden),
                        activation=ACTIVATIONS[activation]).transform
        for layer in self.flow.transforms:
            last = layer.hyper[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def set_normalization(self, loc: torch.Tensor, scale: float) -> None:
        """Centre inputs at ``loc [D]`` and divide them by ``scale`` (the flow's context and ``G``'s input)."""
        self.gaussian.set_normalization(loc, scale)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [n, D], z [n, D] -> (y [n, D], log |det dy/dz| [n])``."""
        context = (x - self.gaussian.loc) / self.gaussian.scale
        u, flow_log_det = self.flow(context).call_and_ladj(z)
        y, gaussian_log_det = self.gaussian(x, u)
        return y, flow_log_det + gaussian_log_det


def resolve_generator(dim: int, family: str = "auto", covariance: str = "auto") -> tuple[str, str]:
    """``(family, covariance)`` of :func:`conditional_generator` on ``D = dim`` with ``"auto"`` resolved."""
    if family == "auto":
        family = "flow" if dim <= FLOW_MAX_DIM else "gaussian"
    if covariance == "auto":
        covariance = "full" if dim <= FLOW_MAX_DIM else "diag"
    if family not in GENERATORS:
        raise ValueError(f"generator family must be 'auto' or one of {list(GENERATORS)}, got {family!r}")
    if covariance not in ("full", "diag"):
        raise ValueError(f"covariance must be 'auto', 'full' or 'diag', got {covariance!r}")
    return family, covariance


def conditional_generator(dim: int, family: str = "auto", covariance: str = "auto", *,
                          hidden: Sequence[int] = (128, 128), activation: str = "silu", eps0: float = 1.0,
                          transforms: int = 3, bins: int = 8) -> GaussianGenerator | FlowGenerator:
    """An untrained ``T(x, z)`` of ``family`` (one of :data:`GENERATORS`) on ``D = dim``, starting at ``N(x, eps0 I)``.

    ``"auto"`` resolves the family to the flow up to :data:`FLOW_MAX_DIM` (multimodal conditionals), the Gaussian
    above (the flow's cost grows quickly with ``D``), and the covariance to ``"full"`` up to :data:`FLOW_MAX_DIM`,
    ``"diag"`` above.
    """
    family, covariance = resolve_generator(dim, family, covariance)
    if family == "flow":
        return FlowGenerator(dim, hidden, activation, covariance, eps0, transforms=transforms, bins=bins)
    return GaussianGenerator(dim, hidden, activation, covariance, eps0)


def gibbs_kl_loss(x: torch.Tensor, y: torch.Tensor, log_det: torch.Tensor,
                  cost: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  potential: Callable[[torch.Tensor], torch.Tensor], eps: float) -> torch.Tensor:
    """``eps KL(q(. | x) || pi_f(. | x))`` up to a constant, averaged over the batch ``x [n, D]``.

    ``(y [n, D], log_det [n])`` is a generator's output ``T(x, z)``, ``z ~ N(0, I)``, of law ``q(. | x)``, and
    ``pi_f(y | x) ∝ exp((f(y) - c(x, y)) / eps)`` the Gibbs conditional of the potential ``f``. With
    ``H(q(. | x)) = D/2 log(2 pi e) + E_z log |det dT / dz|`` (change of variables) the loss is the one-sample
    estimate of ``E[c(x, T) - f(T)] - eps H(q(. | x))``: what SF-EUOT's generator and EgNOT's amortised sampler
    minimise.
    """
    return (cost(x, y) - potential(y) - eps * log_det).mean()
