"""Colored digits of all ten classes from Gaussian noise in one step: SF-EUOT in a PCA latent space.

SF-EUOT from ``N(0, I)`` straight to colored digits in pixel space (768 dimensions) gave noise (BENCHMARKS.md,
"SF-EUOT digits examples"). Here the colored training digits are first expressed in their ``k`` leading principal
components, each coefficient divided by its standard deviation (whitened codes, :class:`PCABasis`), and SF-EUOT
learns the balanced entropic plan from ``N(0, I_k)`` to these codes; a sample is one generator call and a decoding
(a matrix product back to pixels, clamped to ``[-1, 1]``). Whitening gives the codes the covariance of the noise,
so the untrained generator (``N(x, eps I)``) already draws the data's Gaussian fit (``frechet_gaussian`` below) and
training learns only what is not Gaussian.

The run directory is that of :mod:`neurot.examples.digits`: ``config.json``, ``model/`` (the solver, on codes),
``pca.safetensors`` (the basis: ``mean [768]``, ``components [k, 768]``, ``scale [k]``; :meth:`PCABasis.load`),
``metrics.jsonl`` (training lines, then one evaluation line), ``classifier.safetensors`` and ``figure.png`` (a
10 x 10 grid of samples). The evaluation line holds :func:`~neurot.examples.digit_metrics.generation_metrics`,
``frechet_pca_floor`` (real held-out digits through encode/decode: the best the latent allows),
``frechet_gaussian`` (the codes' Gaussian fit decoded), ``samples_per_second`` (generation and decoding) and
``fit_seconds``. After the run::

    solver, basis = SFEUOT.load(out / "model"), PCABasis.load(out / "pca.safetensors")
    images = basis.decode(solver.sample(torch.randn(n, 64)))   # [n, 3, 16, 16] in [-1, 1]
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neurot.data.digits import SIZE, colored_digits
from neurot.data.images import save_image_grid
from neurot.examples.digit_metrics import classifier_features, digit_classifier, frechet_distance, generation_metrics
from neurot.examples.digits import CLASSIFIER_FILE, _fit
from neurot.io import read_tensors, write_tensors
from neurot.runs import FIGURE_FILE, METRICS_FILE
from neurot.solvers import SFEUOT

#: Shape of one colored digit.
IMAGE_SHAPE = (3, SIZE, SIZE)
#: Colored training digits of all ten classes (re-colorings of the train split), and principal components kept.
GENERATE_TRAIN_SIZE = 20000
PCA_COMPONENTS = 64
PCA_FILE = "pca.safetensors"
#: Generated images evaluated (and real held-out images per set of the Frechet floors), and the figure's grid side.
N_GENERATED = 1000
GRID_SIDE = 10

#: N(0, I_k) -> whitened codes: balanced plan, Gaussian generator (diagonal covariance at k = 64), the HJB residual
#: (Hutchinson, default weight) and ``alpha`` to hold the potential, two generator updates per potential update.
#: Chosen among the settings of BENCHMARKS.md ("Generation in a PCA latent"): longer fits (20000 steps) collapsed.
GENERATE_OPTIONS: dict[str, Any] = {
    "eps": 0.01, "hidden": (256, 256, 256), "generator_hidden": (256, 256), "alpha": 1.0, "generator_steps": 2,
    "lr": 1e-3, "batch_size": 256, "steps": 10000,
}


@dataclass
class PCABasis:
    """Whitened principal components of flattened images: ``code = ((x - mean) @ components.T) / scale``.

    ``mean [P]`` (``P`` pixels), ``components [k, P]`` (orthonormal rows, by decreasing variance), ``scale [k]``
    (the standard deviation of each coefficient over the fitted images).
    """

    mean: torch.Tensor
    components: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def fit(cls, images: torch.Tensor, k: int) -> PCABasis:
        """The ``k`` leading components of images ``[N, C, H, W]`` (an SVD of the centred ``[N, P]`` matrix)."""
        flat = images.flatten(1).double()
        if not 0 < k <= min(flat.shape):
            raise ValueError(f"k must be in 1..{min(flat.shape)}, got {k}")
        mean = flat.mean(0)
        _, singular, vh = torch.linalg.svd(flat - mean, full_matrices=False)
        scale = singular[:k] / (len(flat) - 1) ** 0.5
        return cls(mean.float(), vh[:k].float(), scale.float())

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``[n, C, H, W]`` to whitened codes ``[n, k]``."""
        return (images.flatten(1) - self.mean) @ self.components.T / self.scale

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[n, k]`` to images ``[n, *IMAGE_SHAPE]``, clamped to the data's range ``[-1, 1]``."""
        return ((codes * self.scale) @ self.components + self.mean).clamp(-1, 1).view(len(codes), *IMAGE_SHAPE)

    def save(self, path: Path) -> None:
        """Write the basis as safetensors (``mean``, ``components``, ``scale``)."""
        write_tensors(path, {"mean": self.mean, "components": self.components, "scale": self.scale})

    @classmethod
    def load(cls, path: Path) -> PCABasis:
        """Read a basis written by :meth:`save`."""
        tensors = read_tensors(path)
        return cls(tensors["mean"], tensors["components"], tensors["scale"])


def run_digits_generate(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None
) -> dict[str, Any]:
    """Fit the PCA basis, train SF-EUOT from ``N(0, I_k)`` to the whitened codes, evaluate decoded samples."""
    images, _ = colored_digits(None, GENERATE_TRAIN_SIZE, seed, "train")
    basis = PCABasis.fit(images, PCA_COMPONENTS)
    out.mkdir(parents=True, exist_ok=True)
    basis.save(out / PCA_FILE)
    noise = torch.Generator().manual_seed(seed + 3)
    solver = SFEUOT(**GENERATE_OPTIONS)
    fit_seconds = _fit(solver, "digits-generate", lambda n: torch.randn(n, PCA_COMPONENTS, generator=noise),
                       basis.encode(images), out, steps, seed, device, progress)
    return _evaluate_generation(out, solver, basis, seed, device, extra={"fit_seconds": fit_seconds})


def _evaluate_generation(out: Path, solver: SFEUOT, basis: PCABasis, seed: int, device: str, *,
                         extra: dict[str, Any]) -> dict[str, Any]:
    """Draw ``N_GENERATED`` images from fresh noise, append their metrics to ``metrics.jsonl``, draw the figure."""
    noise = torch.randn(N_GENERATED, len(basis.scale), generator=torch.Generator().manual_seed(seed + 4))
    start = time.perf_counter()
    images = basis.decode(solver.sample(noise, seed=seed).cpu())  # the copy waits for the device
    seconds = time.perf_counter() - start
    real, _ = colored_digits(None, 2 * N_GENERATED, seed + 5, "test")
    real, other = real[:N_GENERATED], real[N_GENERATED:]
    classifier = digit_classifier(out / CLASSIFIER_FILE, device)
    real_features = classifier_features(classifier, real)

    def frechet_to_real(candidates: torch.Tensor) -> float:
        return frechet_distance(classifier_features(classifier, candidates), real_features)

    metrics = {"evaluation": True, **generation_metrics(classifier, images, real, other),
               "frechet_pca_floor": frechet_to_real(basis.decode(basis.encode(other))),
               "frechet_gaussian": frechet_to_real(basis.decode(noise)),
               "samples_per_second": N_GENERATED / seconds, "threads": torch.get_num_threads(), "device": str(device),
               **extra}
    with (out / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(metrics) + "\n")
    save_image_grid(images[:GRID_SIDE**2].view(GRID_SIDE, GRID_SIDE, *IMAGE_SHAPE), out / FIGURE_FILE)
    return metrics
