"""Offline metrics of digit translation and generation.

A color-blind digit classifier (trained here on the bundled digits), the hue kept from input to output, the
diversity of several outputs for one input, the Frechet distance between image sets in the classifier's feature
space, and the metrics of generated digits built on it (:func:`generation_metrics`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from neurot.data.digits import hue_distance, image_hue, intensity, load_digits
from neurot.io import read_tensors, write_tensors
from neurot.nn import ConvClassifier

#: Shape of the classifier's inputs: digit intensities (the channel maximum of colored digits).
INPUT_SHAPE = (1, 16, 16)


def train_digit_classifier(
    steps: int = 600, seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 128
) -> ConvClassifier:
    """A CNN on intensities ``[n, 1, 16, 16]`` of the bundled digits' train split (seconds on a CPU core).

    Trained with Adam on random one-pixel shifts and Gaussian pixel noise (std 0.1), so that it reads slightly
    noisy or shifted generated digits too; held-out accuracy about 0.98.
    """
    generator = torch.Generator().manual_seed(seed)
    images, labels = load_digits("train")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = ConvClassifier(INPUT_SHAPE, 10).to(device)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=3e-3)
    for _ in range(steps):
        index = torch.randint(len(images), (batch_size,), generator=generator)
        shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
        batch = torch.roll(images[index], shifts=shift, dims=(2, 3))
        batch = (batch + 0.1 * torch.randn(batch.shape, generator=generator)).clamp(0, 1)
        loss = F.cross_entropy(classifier(batch.to(device)), labels[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return classifier.eval()


def digit_classifier(cache: Path | None = None, device: str | torch.device = "cpu") -> ConvClassifier:
    """The classifier of :func:`train_digit_classifier`, cached in the safetensors file ``cache``.

    Read from ``cache`` if it exists, else trained (and written there).
    """
    if cache is not None and Path(cache).exists():
        classifier = ConvClassifier(INPUT_SHAPE, 10).to(device)
        classifier.load_state_dict(read_tensors(Path(cache), device))
        return classifier.eval()
    classifier = train_digit_classifier(device=device)
    if cache is not None:
        write_tensors(Path(cache), classifier.state_dict())
    return classifier


@torch.no_grad()
def classify(classifier: ConvClassifier, images: torch.Tensor) -> torch.Tensor:
    """Predicted digits ``[n]`` of colored digits ``[n, 3, H, W]`` in ``[-1, 1]`` (read from their intensity)."""
    device = next(classifier.parameters()).device
    return classifier(intensity(images).to(device)).argmax(1).cpu()


@torch.no_grad()
def classifier_features(classifier: ConvClassifier, images: torch.Tensor) -> torch.Tensor:
    """Penultimate-layer features ``[n, F]`` (the input of the readout) of colored digits ``[n, 3, H, W]``."""
    device = next(classifier.parameters()).device
    return classifier.features(intensity(images).to(device)).flatten(1).cpu()


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``[n, F]`` and ``[m, F]`` (FID's formula).

    ``|m_a - m_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with the sample means and covariances, computed in float64;
    the square root is ``scipy.linalg.sqrtm``'s (a ridge ``1e-6 I`` is added if it fails), whose negligible
    imaginary part (round-off) is dropped. Estimated from finite samples it is biased upwards: compare it with the
    distance between two real sets of the same sizes.
    """
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"{name} must have shape [n >= 2, F], got {list(features.shape)}")
        if not torch.isfinite(features).all():
            raise ValueError(f"{name} holds non-finite values")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"feature dimensions differ: {features_a.shape[1]} and {features_b.shape[1]}")
    a, b = (features.detach().cpu().double().numpy() for features in (features_a, features_b))
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular covariances (features constant over a set) are common and harmless
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():  # as pytorch-fid: retry with a small ridge
            ridge = 1e-6 * np.eye(len(cov_a))
            root = scipy.linalg.sqrtm((cov_a + ridge) @ (cov_b + ridge))
    distance = np.square(mean_a - mean_b).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root).real
    return float(max(distance, 0.0))


@torch.no_grad()
def classifier_accuracy(classifier: ConvClassifier, split: str = "test") -> float:
    """Share of the bundled digits of ``split`` classified correctly."""
    images, labels = load_digits(split)
    device = next(classifier.parameters()).device
    return float((classifier(images.to(device)).argmax(1).cpu() == labels).float().mean())


@torch.no_grad()
def translation_metrics(
    classifier: ConvClassifier, input_hues: torch.Tensor, outputs: torch.Tensor, target_digit: int
) -> dict[str, float]:
    """Metrics of outputs ``[M, K, 3, H, W]`` (``K`` per input) for inputs painted in hues ``[M]``.

    - ``classified_as_target``: share of outputs the classifier reads as ``target_digit``;
    - ``color_error``: mean circular hue difference between input and output, in degrees (uniformly random
      hues would score 90);
    - ``diversity``: per-pixel standard deviation over the ``K`` outputs of one input, averaged (pixels in
      ``[-1, 1]``; 0 for a deterministic map).
    """
    outputs = outputs.detach().cpu()
    flat = outputs.flatten(0, 1)
    hues = input_hues.cpu().repeat_interleave(outputs.shape[1])
    return {
        "classified_as_target": float((classify(classifier, flat) == target_digit).float().mean()),
        "color_error": float(hue_distance(image_hue(flat), hues).mean()),
        "diversity": float(outputs.std(1).mean()) if outputs.shape[1] > 1 else 0.0,
    }


#: Softmax probability above which a generated image counts as a confidently read digit.
CONFIDENCE = 0.9


@torch.no_grad()
def generation_metrics(classifier: ConvClassifier, images: torch.Tensor, real: torch.Tensor,
                       real_other: torch.Tensor) -> dict[str, Any]:
    """Metrics of generated colored digits ``images [n, 3, H, W]`` against real ones ``real [m, 3, H, W]``.

    - ``frechet_distance``: between ``images`` and ``real`` in the classifier's penultimate features;
      ``frechet_floor``: the same between ``real_other [m, 3, H, W]``, another real set, and ``real`` (the distance
      of a perfect generator, up to sampling);
    - ``confident``: share of ``images`` whose most probable digit has probability above ``CONFIDENCE``
      (``confident_real``: the same for ``real``);
    - ``class_shares``: share of ``images`` read as each digit 0..9; ``class_tv``: their total variation from the
      uniform shares (0: every digit as often; 0.9: one digit only).

    The classifier reads intensities only: these metrics are blind to color.
    """
    if not images.shape[1:] == real.shape[1:] == real_other.shape[1:] or len(real) != len(real_other):
        raise ValueError(f"images, real and real_other must be [n, C, H, W] sets of one shape, the last two of one "
                         f"size: got {list(images.shape)}, {list(real.shape)} and {list(real_other.shape)}")
    device = next(classifier.parameters()).device
    features = {name: classifier_features(classifier, value)
                for name, value in (("images", images), ("real", real), ("real_other", real_other))}
    probabilities = {name: classifier.readout(features[name].to(device)).softmax(1).cpu()
                     for name in ("images", "real")}
    shares = torch.bincount(probabilities["images"].argmax(1), minlength=10).double() / len(images)
    return {
        "frechet_distance": frechet_distance(features["images"], features["real"]),
        "frechet_floor": frechet_distance(features["real_other"], features["real"]),
        "confident": float((probabilities["images"].amax(1) > CONFIDENCE).float().mean()),
        "confident_real": float((probabilities["real"].amax(1) > CONFIDENCE).float().mean()),
        "class_shares": [round(float(share), 4) for share in shares],
        "class_tv": float(0.5 * (shares - 0.1).abs().sum()),
    }
