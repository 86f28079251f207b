"""Figures (matplotlib, an optional extra: ``pip install 'neurot[plot]'``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def plot_conditionals(
    source: np.ndarray, target: np.ndarray, anchors: np.ndarray, samples: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """Draw source, target and the plan's conditionals; write a PNG to ``path``.

    Shows the first two coordinates: source and target, and over the target ``samples [k, m, D]`` drawn from
    the plan for each of the ``k`` ``anchors [k, D]``, one colour per anchor.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True)
    axes[0].scatter(source[:, 0], source[:, 1], s=1, alpha=0.3, color="tab:blue", label="source P")
    axes[0].scatter(target[:, 0], target[:, 1], s=1, alpha=0.3, color="tab:orange", label="target Q")
    axes[0].set_title("samples")
    axes[0].legend(markerscale=8, loc="upper right")
    axes[1].scatter(target[:, 0], target[:, 1], s=1, alpha=0.15, color="0.6", label="target Q")
    colors = plt.cm.tab10(np.arange(len(anchors)) % 10)
    for anchor, cloud, color in zip(anchors, samples, colors, strict=True):
        axes[1].scatter(cloud[:, 0], cloud[:, 1], s=3, alpha=0.6, color=color)
        axes[1].scatter(anchor[0], anchor[1], s=160, marker="*", color=color, edgecolor="black", zorder=3)
    axes[1].set_title("pi(y | x) for the starred x")
    for ax in axes:
        ax.set_aspect("equal")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_trajectories(paths: np.ndarray, target: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Draw a flow's paths ``paths [T, n, D]`` (grey), their starts (blue) and ends (black) over ``target [m, D]``.

    Shows the first two coordinates; writes a PNG to ``path``.
    """
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(target[:, 0], target[:, 1], s=1, alpha=0.2, color="tab:orange", label="target Q")
    ax.plot(paths[:, :, 0], paths[:, :, 1], color="0.5", lw=0.5, alpha=0.6)
    ax.scatter(paths[0, :, 0], paths[0, :, 1], s=4, color="tab:blue", label="x ~ P", zorder=3)
    ax.scatter(paths[-1, :, 0], paths[-1, :, 1], s=4, color="black", label="T(x)", zorder=3)
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=3, markerscale=3)
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_run(solver, source: np.ndarray, target: np.ndarray, path: str | Path, seed: int = 0, n_anchors: int = 6,
             n_per_anchor: int = 200, n_paths: int = 300) -> Path:
    """The standard figure of a fitted solver.

    For a flow (a solver with ``trajectory``, such as OT flow, whose plan is a map) the paths of ``n_paths`` source
    points; otherwise the conditionals of ``n_anchors`` source points (``sample(x, n_per_x)``).
    """
    rng = np.random.default_rng(seed)
    shown = 5000
    source = source[rng.permutation(len(source))[:shown]]
    target = target[rng.permutation(len(target))[:shown]]
    if hasattr(solver, "trajectory"):
        paths = solver.trajectory(torch.as_tensor(source[:n_paths], dtype=torch.float32), n_steps=20)
        return plot_trajectories(paths.cpu().numpy(), target, path, f"{type(solver).__name__}: paths x(t)")
    anchors = source[:n_anchors]
    samples = solver.sample(torch.as_tensor(anchors, dtype=torch.float32), n_per_x=n_per_anchor, seed=seed)
    eps = getattr(solver.config, "eps", None)
    title = f"{type(solver).__name__}" + (f", eps = {eps:g}" if eps is not None else "")
    return plot_conditionals(source, target, anchors, samples.cpu().numpy(), path, title)
