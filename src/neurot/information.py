"""Mutual information from samples through the OT flow's density ratio (Xu, Cheng, Xie, AISTATS 2025, section 5).

``I(X; Y) = KL(P_XY || P_X x P_Y) = E_P[log p(x, y) - log q(x, y)]`` with ``p`` the joint density and
``q = p_X p_Y`` the product of the marginals. The flow is trained from ``P`` (the pairs as given) to ``Q`` (the same
pairs with the rows of ``Y`` shuffled, which makes them independent with unchanged marginals), and its
infinitesimal density ratio ``log q - log p = integral_0^1 r(z, s) ds`` is averaged over held-out pairs
(docs/math.md section 6).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neurot._validation import as_points, check_int, check_probability
from neurot.solvers.otflow import OTFlow

__all__ = ["mutual_information", "product_of_marginals"]


def product_of_marginals(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Samples of the joint ``[x, y]`` and of the product of marginals ``[x, y[perm]]``: two ``[n, D_x + D_y]``.

    ``x [n, D_x]`` and ``y [n, D_y]`` are paired by row; a random permutation of the rows of ``y`` breaks the
    pairing and keeps both marginals.
    """
    return np.hstack([x, y]), np.hstack([x, y[rng.permutation(len(y))]])


def mutual_information(x: Any, y: Any, *, flow: OTFlow | None = None, test_fraction: float = 0.2,
                       steps: int | None = None, seed: int = 0, device: str | None = None) -> float:
    """Estimate ``I(X; Y)`` in nats from paired samples ``x [n, D_x]``, ``y [n, D_y]`` (row ``i`` is one draw).

    The last ``test_fraction`` of the rows is held out; on the others ``flow`` (default ``OTFlow()``; fitted in
    place, so it can be inspected afterwards) is fitted from the joint to the product of marginals
    (:func:`product_of_marginals`) for ``steps`` iterations (default: its schedule), and the estimate is

        I_hat = -(1 / n_test) sum_i log_density_ratio([x_i, y_i])   over the held-out rows,

    :meth:`OTFlow.kl_divergence` of the joint from the product, the paper's ``KL(P || Q)`` through the
    integrated time score. Shuffle the rows first if they are ordered (by time, class, ...).
    """
    check_probability("test_fraction", test_fraction)
    check_int("seed", seed, minimum=0)
    first = as_points("x", x, dtype=torch.float64).cpu().numpy()
    second = as_points("y", y, dtype=torch.float64).cpu().numpy()
    if len(first) != len(second):
        raise ValueError(f"x and y must have the same number of rows (pairs), got {len(first)} and {len(second)}")
    n_test = round(test_fraction * len(first))
    if not 0 < n_test < len(first) - 1:
        raise ValueError(f"test_fraction {test_fraction} leaves no held-out or no training pairs of {len(first)}")
    joint, product = product_of_marginals(first[:-n_test], second[:-n_test], np.random.default_rng(seed))
    flow = OTFlow() if flow is None else flow
    flow.fit(joint, product, steps=steps, seed=seed, device=device)
    return flow.kl_divergence(np.hstack([first[-n_test:], second[-n_test:]]))
