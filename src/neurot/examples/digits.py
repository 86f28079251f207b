"""Colored digits 2 -> 3, in pixel space and in the latent space of a decoder.

The EgNOT paper's colored MNIST and AFHQ-through-StyleGAN experiments, offline and at CPU scale.

The entropic plan with a small ``eps`` keeps what the cost sees: an input's color survives translation because
a 3 of another hue is far in pixel space.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neurot.costs import latent
from neurot.data.digits import SIZE, colored_digits
from neurot.data.images import save_image_grid
from neurot.examples.digit_metrics import digit_classifier, translation_metrics
from neurot.io import write_json, write_tensors
from neurot.nn.mlp import mlp
from neurot.runs import FIGURE_FILE, METRICS_FILE, MODEL_DIR, RUN_CONFIG, MetricsWriter
from neurot.solvers import EgNOT, Solver

SOURCE_DIGIT, TARGET_DIGIT = 2, 3
#: Colored training images drawn per domain (re-colorings of the train split's digits).
TRAIN_SIZE = 5000
#: Held-out inputs evaluated, outputs per input, and rows of the figure.
N_TEST, N_PER_X, N_SHOWN = 64, 4, 12
CLASSIFIER_FILE = "classifier.safetensors"
DECODER_FILE = "decoder.safetensors"

#: Pixel space: quadratic cost, conv potential, chains from the source image (small noise); test chains annealed
#: to temperature 0.01 so that outputs carry no Langevin noise.
PIXEL_OPTIONS: dict[str, Any] = {
    "eps": 0.1, "potential": "conv", "batch_size": 64, "steps": 1000, "langevin_steps": 20, "sample_steps": 500,
    "start_noise": 0.1, "anneal": 0.01, "alpha": 1e-6,
}
#: Latent space: cost 1/2 |x - G(z)|^2 through the decoder G, MLP potential on z, Q = N(0, I).
LATENT_OPTIONS: dict[str, Any] = {
    "eps": 1.0, "hidden": (256, 256), "batch_size": 256, "steps": 1000, "langevin_steps": 20, "sample_steps": 500,
    "anneal": 0.01,
}
LATENT_DIM = 8


def training_digits(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples' training sets: ``TRAIN_SIZE`` colored 2s and 3s ``[TRAIN_SIZE, 3, 16, 16]`` each (train split)."""
    return (colored_digits(SOURCE_DIGIT, TRAIN_SIZE, seed, "train")[0],
            colored_digits(TARGET_DIGIT, TRAIN_SIZE, seed + 1, "train")[0])


def run_digits_2to3(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None
) -> dict[str, Any]:
    """Train EgNOT from colored 2s to colored 3s in pixel space; evaluate on held-out 2s (see the module)."""
    source, target = training_digits(seed)
    solver = EgNOT(**PIXEL_OPTIONS)
    fit_seconds = _fit(solver, "digits-2to3", source, target, out, steps, seed, device, progress)
    inputs, hues = colored_digits(SOURCE_DIGIT, N_TEST, seed + 2, "test")
    return _evaluate(out, solver.sample, inputs, hues, seed, device, extra={"fit_seconds": fit_seconds})


def run_digits_latent(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None
) -> dict[str, Any]:
    """Colored 2s to 3s through a decoder ``G`` of colored 3s, which is trained first (a VAE).

    EgNOT then learns the plan from colored 2s to latent codes ``z ~ N(0, I)`` under the cost
    ``1/2 |x - G(z)|^2``; the outputs are ``G(z)``.
    """
    source, threes = training_digits(seed)
    _, decoder = train_autoencoder(threes, seed=seed, device=device)
    out.mkdir(parents=True, exist_ok=True)
    write_tensors(out / DECODER_FILE, decoder.state_dict())
    codes = torch.randn(TRAIN_SIZE * 4, LATENT_DIM, generator=torch.Generator().manual_seed(seed + 3))
    solver = EgNOT(cost=latent(decoder), **LATENT_OPTIONS)
    fit_seconds = _fit(solver, "digits-latent", source, codes, out, steps, seed, device, progress)
    inputs, hues = colored_digits(SOURCE_DIGIT, N_TEST, seed + 2, "test")

    def translate(x: torch.Tensor, **options: Any) -> torch.Tensor:
        z = solver.sample(x, **options)
        with torch.no_grad():
            return decoder(z.flatten(0, 1)).view(*z.shape[:2], 3, SIZE, SIZE)

    return _evaluate(out, translate, inputs, hues, seed, device, extra={"fit_seconds": fit_seconds})


class Decoder(nn.Module):
    """``G(z) = tanh(MLP(z))``: latent codes ``[n, d]`` to colored digits ``[n, 3, 16, 16]`` in ``[-1, 1]``."""

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: tuple[int, ...] = (256, 512)) -> None:
        super().__init__()
        self.net = mlp(latent_dim, hidden, 3 * SIZE * SIZE, "silu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``[n, d] -> [n, 3, 16, 16]``."""
        return torch.tanh(self.net(z)).view(-1, 3, SIZE, SIZE)


class Encoder(nn.Module):
    """The VAE's encoder: colored digits ``[n, 3, 16, 16]`` to the means and log-variances ``[n, d]`` of codes."""

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: tuple[int, ...] = (512, 256)) -> None:
        super().__init__()
        self.net = mlp(3 * SIZE * SIZE, hidden, 2 * latent_dim, "silu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[n, 3, 16, 16] -> (mean [n, d], log_var [n, d])``."""
        mean, log_var = self.net(x.flatten(1)).chunk(2, dim=1)
        return mean, log_var

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic codes of ``x [n, 3, 16, 16]``: the means ``[n, d]``."""
        return self(x)[0]


def train_autoencoder(
    images: torch.Tensor, *, steps: int = 3000, seed: int = 0, device: str = "cpu", noise_var: float = 0.02
) -> tuple[Encoder, Decoder]:
    """A VAE with prior ``N(0, I)`` fitted to ``images [N, 3, 16, 16]``: its encoder and decoder (a CPU-core minute).

    Gaussian likelihood with variance ``noise_var`` per pixel; the encoder gives means and log-variances.
    """
    generator = torch.Generator(device).manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        decoder = Decoder().to(device)
        encoder = Encoder().to(device)
    optimizer = torch.optim.Adam([*decoder.parameters(), *encoder.parameters()], lr=1e-3)
    images = images.to(device)
    for step in range(steps):
        x = images[torch.randint(len(images), (128,), generator=generator, device=device)]
        mean, log_var = encoder(x)
        z = mean + (0.5 * log_var).exp() * torch.randn(mean.shape, generator=generator, device=device)
        reconstruction = (x - decoder(z)).square().flatten(1).sum(1) / (2 * noise_var)
        kl = 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(1)
        loss = (reconstruction + kl).mean()
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return encoder.eval(), decoder.eval()


def _fit(solver: Solver, name: str, source: torch.Tensor, target: torch.Tensor, out: Path, steps: int | None,
         seed: int, device: str, progress: bool | None) -> float:
    """Train ``solver`` and write the run directory's config, training metrics and model; returns the fit's seconds."""
    out.mkdir(parents=True, exist_ok=True)
    fit = {"steps": steps or solver.config.steps, "seed": seed, "device": str(device), "log_every": 10}
    write_json(out / RUN_CONFIG, {"example": name, "solver": {"name": solver.name, **solver.config_dict()},
                                  "fit": fit})
    writer = MetricsWriter(out / METRICS_FILE, fit["log_every"])
    start = time.perf_counter()
    solver.fit(source, target, steps=fit["steps"], seed=seed, device=device, callbacks=[writer], progress=progress)
    seconds = time.perf_counter() - start
    writer.close()
    solver.save(out / MODEL_DIR)
    return seconds


def _evaluate(out: Path, translate, inputs: torch.Tensor, hues: torch.Tensor, seed: int, device: str, *,
              n_per_x: int = N_PER_X, figure: torch.Tensor | None = None, extra: dict | None = None) -> dict:
    """Translate ``inputs [M, 3, H, W]`` (``n_per_x`` outputs each), log the metrics and draw the figure.

    The metrics, and ``extra`` ones (such as the fit's seconds), are appended to ``metrics.jsonl`` as one line. The
    figure is ``figure [R, K, 3, H, W]`` if given, else one row per input: the input, then its outputs.
    """
    start = time.perf_counter()
    outputs = translate(inputs, n_per_x=n_per_x, seed=seed).cpu()  # the copy waits for the device
    seconds = time.perf_counter() - start
    classifier = digit_classifier(out / CLASSIFIER_FILE, device)
    metrics = {"evaluation": True, **translation_metrics(classifier, hues, outputs, TARGET_DIGIT),
               "images_per_second": outputs.shape[0] * outputs.shape[1] / seconds, "threads": torch.get_num_threads(),
               "device": str(device), **(extra or {})}
    with (out / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(metrics) + "\n")
    if figure is None:
        figure = torch.cat([inputs[:N_SHOWN, None], outputs[:N_SHOWN]], 1)
    save_image_grid(figure, out / FIGURE_FILE)
    return metrics
