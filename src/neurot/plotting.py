"""Figures (matplotlib, an optional extra: ``pip install 'neurot[plot]'``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

#: Points drawn per set, source points whose paths are drawn, and times per path.
SHOWN, N_PATHS, PATH_TIMES = 5000, 30, 21


def plot_run(solver, source: np.ndarray, target: np.ndarray, path: str | Path, seed: int = 0,
             history: Sequence[dict[str, float]] | None = None, n_anchors: int = 6, n_per_anchor: int = 200) -> Path:
    """The figure of a fitted solver: data, conditionals, paths and the loss curve; a PNG written to ``path``.

    Panels: (a) source ``[N, D]`` and target ``[M, D]`` points (target points coloured by the learned weight
    ``d pi_1 / dQ`` for an unbalanced solver); (b) draws of ``pi(. | x)`` for ``n_anchors`` source points; (c) the
    paths of :meth:`~neurot.solvers.base.Solver.sample_path` from a few source points (Brownian bridges of the
    entropic plans, the flow of OT flow); (d) the training loss against the step, from ``history`` (the solver's
    own when None). For ``D > 2`` the first two coordinates are drawn, and the title says so.
    """
    rng = np.random.default_rng(seed)
    source = source[rng.permutation(len(source))[:SHOWN]]
    target = target[rng.permutation(len(target))[:SHOWN]]
    fig, axes = plt.subplots(2, 2, figsize=(11, 10))
    _data_panel(axes[0, 0], solver, source, target)
    _conditional_panel(axes[0, 1], solver, source[:n_anchors], target, n_per_anchor, seed)
    _path_panel(axes[1, 0], solver, source[:N_PATHS], target, seed)
    _loss_panel(axes[1, 1], solver.history if history is None else history)
    eps = getattr(solver.config, "eps", None)
    title = type(solver).__name__ + (f", eps = {eps:g}" if eps is not None else "")
    dim = source.shape[1]
    if dim > 2:
        title += f" (coordinates 1 and 2 of D = {dim})"
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _data_panel(ax, solver, source: np.ndarray, target: np.ndarray) -> None:
    ax.scatter(source[:, 0], source[:, 1], s=1, alpha=0.3, color="tab:blue", label="source P")
    weight = getattr(solver, "target_weight", None)
    if weight is not None and getattr(solver.config, "tau", None) is not None:
        weights = weight(torch.as_tensor(target, dtype=torch.float32)).cpu().numpy()
        top = max(1.0, float(np.quantile(weights, 0.99)))  # a few large weights would wash out the rest
        shown = ax.scatter(target[:, 0], target[:, 1], s=2, c=weights, cmap="viridis", vmin=0, vmax=top)
        plt.colorbar(shown, ax=ax, label="learned target weight d pi_1 / dQ", extend="max")
        ax.set_title("samples; target coloured by its learned weight")
    else:
        ax.scatter(target[:, 0], target[:, 1], s=1, alpha=0.3, color="tab:orange", label="target Q")
        ax.set_title("samples")
    ax.legend(markerscale=8, loc="upper right")
    ax.set_aspect("equal")


def _conditional_panel(ax, solver, anchors: np.ndarray, target: np.ndarray, n_per_anchor: int, seed: int) -> None:
    samples = solver.sample(torch.as_tensor(anchors, dtype=torch.float32), n_per_x=n_per_anchor, seed=seed)
    ax.scatter(target[:, 0], target[:, 1], s=1, alpha=0.15, color="0.6")
    colors = plt.cm.tab10(np.arange(len(anchors)) % 10)
    for anchor, cloud, color in zip(anchors, samples.cpu().numpy(), colors, strict=True):
        ax.scatter(cloud[:, 0], cloud[:, 1], s=3, alpha=0.6, color=color)
        ax.scatter(anchor[0], anchor[1], s=160, marker="*", color=color, edgecolor="black", zorder=3)
    ax.set_title("draws of pi(y | x) for the starred x (grey: target)")
    ax.set_aspect("equal")


def _path_panel(ax, solver, starts: np.ndarray, target: np.ndarray, seed: int) -> None:
    ax.scatter(target[:, 0], target[:, 1], s=1, alpha=0.15, color="0.6")
    times = np.linspace(0.0, 1.0, PATH_TIMES)
    try:
        paths = solver.sample_path(torch.as_tensor(starts, dtype=torch.float32), times, seed=seed).cpu().numpy()
    except ValueError as error:  # a plan without paths, e.g. EgNOT with a latent cost
        ax.set_title(f"no paths: {error}"[:80])
        return
    for k in range(paths.shape[1]):
        ax.plot(paths[:, k, 0], paths[:, k, 1], lw=0.8, color="tab:purple", alpha=0.7)
    ax.scatter(paths[0, :, 0], paths[0, :, 1], s=12, color="tab:blue", zorder=3, label="x (t = 0)")
    ax.scatter(paths[-1, :, 0], paths[-1, :, 1], s=12, color="tab:red", zorder=3, label="end (t = 1)")
    ax.set_title("paths X_t from a few source points")
    ax.legend(loc="upper right")
    ax.set_aspect("equal")


def _loss_panel(ax, history: Sequence[dict[str, float]]) -> None:
    logged = [(line["step"], line["loss"]) for line in history if "loss" in line]
    if logged:
        steps, losses = zip(*logged, strict=True)
        ax.plot(steps, losses, lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("training loss" if logged else "training loss (no history)")
