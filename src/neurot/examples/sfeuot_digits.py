"""SF-EUOT on colored digits: generation from Gaussian noise, and the 2 -> 3 translation of ``digits-2to3``.

SF-EUOT takes flat points, so images ``[N, 3, 16, 16]`` travel as vectors ``[N, 768]`` and its outputs are reshaped
back; its cost ``1/2 |x - y|^2`` needs source and target of one dimension, so the noise of the generation example is
``N(0, I)`` in 768 dimensions. Each output is one evaluation of the generator ``T(x, z)``.

The run directories are those of :mod:`neurot.examples.digits` (whose training and, for the translation, evaluation
they reuse): ``config.json``, ``model/``, ``metrics.jsonl`` (training lines, then one evaluation line),
``classifier.safetensors`` and ``figure.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from neurot.data.digits import SIZE, colored_digits
from neurot.data.images import save_image_grid
from neurot.examples.digit_metrics import classifier_features, digit_classifier, frechet_distance
from neurot.examples.digits import CLASSIFIER_FILE, N_TEST, SOURCE_DIGIT, TARGET_DIGIT, TRAIN_SIZE, _evaluate, _fit
from neurot.runs import FIGURE_FILE, METRICS_FILE
from neurot.solvers import SFEUOT

#: Shape of one colored digit, and its number of entries (the dimension SF-EUOT sees).
IMAGE_SHAPE = (3, SIZE, SIZE)
IMAGE_DIM = 3 * SIZE * SIZE
#: Generated images evaluated (and real held-out images per half of the Frechet floor), and the figure's grid.
N_GENERATED = 1000
GRID_ROWS, GRID_COLUMNS = 8, 12
#: Softmax probability above which a generated image counts as a confidently read digit.
CONFIDENCE = 0.9

#: Both: balanced plans, small eps (outputs carry per-pixel noise of std about sqrt(eps)), no HJB residual (its
#: one-probe Hutchinson Laplacian in 768 dimensions made the potential blow up), ``alpha`` to keep the potential
#: bounded (BENCHMARKS.md, "SF-EUOT digits examples").
#: Noise -> all ten digits: a generator wider than the 768 inputs, trained faster than the potential. Its samples
#: are still noise, as with every variant tried (BENCHMARKS.md).
GENERATE_OPTIONS: dict[str, Any] = {
    "eps": 0.01, "hidden": (256, 256, 256), "generator_hidden": (1024, 1024), "hjb_weight": 0.0, "alpha": 0.01,
    "lr": 2e-4, "generator_lr": 1e-3, "batch_size": 256, "steps": 1500,
}
#: Colored 2s -> colored 3s, as digits-2to3 with EgNOT: the generator's mean starts at its input.
TRANSLATE_OPTIONS: dict[str, Any] = {
    "eps": 0.01, "hidden": (256, 256, 256), "generator_hidden": (256, 256), "hjb_weight": 0.0, "alpha": 1.0,
    "lr": 2e-4, "batch_size": 256, "steps": 10000,
}


def run_digits_generate(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None
) -> dict[str, Any]:
    """Train SF-EUOT from ``N(0, I)`` (768 dimensions) to colored digits of all ten classes; evaluate its samples."""
    target, _ = colored_digits(None, TRAIN_SIZE, seed, "train")
    noise = torch.Generator().manual_seed(seed + 3)

    def draw_noise(n: int) -> torch.Tensor:
        """``n`` fresh noise vectors ``[n, 768]``."""
        return torch.randn(n, IMAGE_DIM, generator=noise)

    solver = SFEUOT(**GENERATE_OPTIONS)
    fit_seconds = _fit(solver, "digits-generate", draw_noise, target.flatten(1), out, steps, seed, device, progress)
    return _evaluate_generation(out, solver, seed, device, fit_seconds)


def run_digits_2to3_sfeuot(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None
) -> dict[str, Any]:
    """``digits-2to3`` (same data, metrics and figure) with SF-EUOT's one-step generator instead of EgNOT."""
    source, _ = colored_digits(SOURCE_DIGIT, TRAIN_SIZE, seed, "train")
    target, _ = colored_digits(TARGET_DIGIT, TRAIN_SIZE, seed + 1, "train")
    solver = SFEUOT(**TRANSLATE_OPTIONS)
    fit_seconds = _fit(solver, "digits-2to3-sfeuot", source.flatten(1), target.flatten(1), out, steps, seed, device,
                       progress)
    inputs, hues = colored_digits(SOURCE_DIGIT, N_TEST, seed + 2, "test")

    def translate(x: torch.Tensor, *, n_per_x: int, seed: int) -> torch.Tensor:
        """Images ``[M, 3, H, W]`` to ``n_per_x`` outputs each, ``[M, n_per_x, 3, H, W]``."""
        return solver.sample(x.flatten(1), n_per_x, seed=seed).view(len(x), n_per_x, *IMAGE_SHAPE)

    return _evaluate(out, translate, inputs, hues, seed, device, extra={"fit_seconds": fit_seconds})


def _evaluate_generation(out: Path, solver: SFEUOT, seed: int, device: str, fit_seconds: float) -> dict[str, Any]:
    """Draw ``N_GENERATED`` images from fresh noise, append their metrics to ``metrics.jsonl``, draw the figure.

    Metrics (:func:`generation_metrics`) against real held-out images, ``samples_per_second`` of sampling and the
    fit's ``fit_seconds``.
    """
    noise = torch.randn(N_GENERATED, IMAGE_DIM, generator=torch.Generator().manual_seed(seed + 4))
    start = time.perf_counter()
    images = solver.sample(noise, seed=seed).cpu().view(N_GENERATED, *IMAGE_SHAPE)  # the copy waits for the device
    seconds = time.perf_counter() - start
    real, _ = colored_digits(None, 2 * N_GENERATED, seed + 5, "test")
    classifier = digit_classifier(out / CLASSIFIER_FILE, device)
    metrics = {"evaluation": True, **generation_metrics(classifier, images, real[:N_GENERATED], real[N_GENERATED:]),
               "samples_per_second": N_GENERATED / seconds, "fit_seconds": fit_seconds,
               "threads": torch.get_num_threads(), "device": str(device)}
    with (out / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(metrics) + "\n")
    shown = images[:GRID_ROWS * GRID_COLUMNS].view(GRID_ROWS, GRID_COLUMNS, *IMAGE_SHAPE)
    save_image_grid(shown, out / FIGURE_FILE)
    return metrics


@torch.no_grad()
def generation_metrics(classifier: torch.nn.Module, images: torch.Tensor, real: torch.Tensor,
                       real_other: torch.Tensor) -> dict[str, Any]:
    """Metrics of generated colored digits ``images [n, 3, H, W]`` against real ones ``real [n, 3, H, W]``.

    - ``frechet_distance``: between ``images`` and ``real`` in the classifier's penultimate features;
      ``frechet_floor``: the same between ``real`` and another real set ``real_other`` of the same size (the
      distance of a perfect generator, up to sampling);
    - ``confident``: share of ``images`` whose most probable digit has probability above ``CONFIDENCE``
      (``confident_real``: the same for ``real``);
    - ``class_shares``: share of ``images`` read as each digit 0..9; ``class_tv``: total variation between these
      and the shares of ``real`` (0: the same digit mix; 1: disjoint).

    The classifier reads intensities only: these metrics are blind to color.
    """
    if not images.shape[1:] == real.shape[1:] == real_other.shape[1:] or len(real) != len(real_other):
        raise ValueError(f"images, real and real_other must be [n, C, H, W] sets of one shape, two of one size: got "
                         f"{list(images.shape)}, {list(real.shape)} and {list(real_other.shape)}")
    features = {name: classifier_features(classifier, value)
                for name, value in (("images", images), ("real", real), ("real_other", real_other))}
    probabilities = {name: classifier.readout(value.to(next(classifier.parameters()).device)).softmax(1).cpu()
                     for name, value in features.items() if name != "real_other"}
    shares = {name: torch.bincount(value.argmax(1), minlength=10).double() / len(value)
              for name, value in probabilities.items()}
    return {
        "frechet_distance": frechet_distance(features["images"], features["real"]),
        "frechet_floor": frechet_distance(features["real_other"], features["real"]),
        "confident": float((probabilities["images"].amax(1) > CONFIDENCE).float().mean()),
        "confident_real": float((probabilities["real"].amax(1) > CONFIDENCE).float().mean()),
        "class_shares": [round(float(share), 4) for share in shares["images"]],
        "class_tv": float(0.5 * (shares["images"] - shares["real"]).abs().sum()),
    }
