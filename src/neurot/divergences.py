"""Convex conjugates ``Psi*`` of the marginal penalties of unbalanced OT (docs/math.md section 5).

A penalty ``tau D_Psi(rho || nu) = tau int Psi(d rho / d nu) d nu`` enters the dual through ``tau E_nu[Psi*(s)]``
with ``s = -V(1, y) / tau``; the optimal density ratio is ``d rho / d nu = (Psi*)'(s)``. Each conjugate is normalised
so that ``Psi*(0) = 0`` and ``(Psi*)'(0) = 1`` (a constant potential keeps the target's mass).

- ``kl``: ``Psi(r) = r log r - r + 1``, ``Psi*(s) = exp(s) - 1``, ratio ``exp(s)``: mass decays exponentially with
  the potential, so far-away outliers are discarded.
- ``chi2``: ``Psi(r) = (r - 1)^2``, ``Psi*(s) = s + s^2 / 4`` for ``s >= -2``, else ``-1``; ratio ``max(0, 1 + s/2)``.
- ``softplus``: ``Psi*(s) = 2 log(1 + e^s) - 2 log 2``, ratio ``2 sigmoid(s)`` in ``(0, 2)`` (density ratio bounded,
  as in UOTM, Choi et al. 2023).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

#: Largest exponent used by the KL conjugate (keeps ``exp`` finite while the potential is far from optimal).
_MAX_EXP = 30.0


def _kl(s: torch.Tensor) -> torch.Tensor:
    return torch.expm1(s.clamp(max=_MAX_EXP))


def _kl_ratio(s: torch.Tensor) -> torch.Tensor:
    return torch.exp(s.clamp(max=_MAX_EXP))


def _chi2(s: torch.Tensor) -> torch.Tensor:
    return torch.where(s >= -2, s + s.square() / 4, torch.full_like(s, -1.0))


def _chi2_ratio(s: torch.Tensor) -> torch.Tensor:
    return (1 + s / 2).clamp(min=0)


def _softplus(s: torch.Tensor) -> torch.Tensor:
    return 2 * F.softplus(s) - 2 * math.log(2)


def _softplus_ratio(s: torch.Tensor) -> torch.Tensor:
    return 2 * torch.sigmoid(s)


#: name -> (Psi*, (Psi*)'), both elementwise on tensors.
CONJUGATES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "kl": (_kl, _kl_ratio),
    "chi2": (_chi2, _chi2_ratio),
    "softplus": (_softplus, _softplus_ratio),
}
