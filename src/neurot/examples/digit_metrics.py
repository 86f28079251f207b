"""Offline metrics of digit translation.

A color-blind digit classifier (trained here on the bundled digits), the hue kept from input to output, and the
diversity of several outputs for one input.
"""

from __future__ import annotations

from pathlib import Path

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
