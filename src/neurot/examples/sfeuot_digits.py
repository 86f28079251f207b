"""SF-EUOT on colored digits: the 2 -> 3 translation of ``digits-2to3`` with a one-step generator.

SF-EUOT takes flat points, so images ``[N, 3, 16, 16]`` travel as vectors ``[N, 768]`` and its outputs are reshaped
back. Each output is one evaluation of the generator ``T(x, z)``. The run directory is that of
:mod:`neurot.examples.digits` (whose training and evaluation it reuses): ``config.json``, ``model/``,
``metrics.jsonl`` (training lines, then one evaluation line), ``classifier.safetensors`` and ``figure.png``.
Generation from noise in pixel space (``N(0, I_768)`` to colored digits) gave noise (BENCHMARKS.md, "SF-EUOT digits
examples"); ``digits-generate`` (:mod:`neurot.examples.digits_generate`) generates in a PCA latent instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from neurot.data.digits import SIZE, colored_digits
from neurot.examples.digits import N_TEST, SOURCE_DIGIT, _evaluate, _fit, training_digits
from neurot.solvers import SFEUOT

#: Shape of one colored digit.
IMAGE_SHAPE = (3, SIZE, SIZE)

#: Colored 2s -> colored 3s, as digits-2to3 with EgNOT: a balanced plan at small eps (outputs carry per-pixel noise
#: of std about sqrt(eps)), no HJB residual (its one-probe Hutchinson Laplacian in 768 dimensions made the potential
#: blow up), ``alpha`` to keep the potential bounded; the generator's mean starts at its input.
TRANSLATE_OPTIONS: dict[str, Any] = {
    "eps": 0.01, "hidden": (256, 256, 256), "generator_hidden": (256, 256), "hjb_weight": 0.0, "alpha": 1.0,
    "lr": 2e-4, "batch_size": 256, "steps": 10000, "generator_steps": 1,
}


def run_digits_2to3_sfeuot(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None
) -> dict[str, Any]:
    """``digits-2to3`` (same data, metrics and figure) with SF-EUOT's one-step generator instead of EgNOT."""
    source, target = training_digits(seed)
    solver = SFEUOT(**TRANSLATE_OPTIONS)
    fit_seconds = _fit(solver, "digits-2to3-sfeuot", source.flatten(1), target.flatten(1), out, steps, seed, device,
                       progress)
    inputs, hues = colored_digits(SOURCE_DIGIT, N_TEST, seed + 2, "test")

    def translate(x: torch.Tensor, *, n_per_x: int, seed: int) -> torch.Tensor:
        """Images ``[M, 3, H, W]`` to ``n_per_x`` outputs each, ``[M, n_per_x, 3, H, W]``."""
        return solver.sample(x.flatten(1), n_per_x, seed=seed).view(len(x), n_per_x, *IMAGE_SHAPE)

    return _evaluate(out, translate, inputs, hues, seed, device, extra={"fit_seconds": fit_seconds})
