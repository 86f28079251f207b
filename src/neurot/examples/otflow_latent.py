"""Colored digits 2 -> 3 by OT flow between latent codes: encode, flow, decode.

An autoencoder (the VAE of :func:`~neurot.examples.digits.train_autoencoder`) is trained on colored 2s and 3s
together, so that both have codes in one latent space; its encoder means are the codes. OT flow learns the
least-kinetic-energy flow from the codes of 2s to those of 3s; a held-out 2 is translated by encoding it, moving
its code along the flow to ``t = 1`` and decoding. Decoding the code at intermediate times shows the flow's path,
which is the figure: one row per input, the input then the decoded path at :data:`PATH_TIMES`.

The map is deterministic, one output per input: the ``diversity`` of the evaluation line is 0 by construction.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from neurot.data.digits import SIZE, colored_digits
from neurot.examples.digits import (
    DECODER_FILE,
    N_SHOWN,
    N_TEST,
    SOURCE_DIGIT,
    Decoder,
    Encoder,
    _evaluate,
    _fit,
    train_autoencoder,
    training_digits,
)
from neurot.io import write_tensors
from neurot.solvers import OTFlow

ENCODER_FILE = "encoder.safetensors"
#: OT flow's options: its defaults but the density-ratio phase, which translation does not use.
OTFLOW_OPTIONS: dict[str, Any] = {"ratio_steps": 0}
#: The fit's steps, the warm start and reflow in OT flow's default proportions (2308 and 692): fewer than its
#: default 13000, which fit the training codes more tightly and held-out ones worse (BENCHMARKS.md).
OTFLOW_STEPS = 3000
#: Times along the flow decoded in the figure's columns (after the input).
PATH_TIMES = (0.0, 0.25, 0.5, 0.75, 1.0)


def run_digits_otflow(
    out: Path, *, steps: int | None = None, seed: int = 0, device: str = "cpu", progress: bool | None = None,
    autoencoder_steps: int = 3000,
) -> dict[str, Any]:
    """Train the autoencoder on colored 2s and 3s, OT flow between their codes; evaluate on held-out 2s.

    ``steps``: OT flow's training steps (:data:`OTFLOW_STEPS` when None); ``autoencoder_steps``: the VAE's.
    Writes the encoder and decoder weights beside the run's model; returns the evaluation metrics, with the flow's
    kinetic energy from the held-out inputs' codes (``kinetic_energy``, latent units).
    """
    twos, threes = training_digits(seed)
    start = time.perf_counter()
    encoder, decoder = train_autoencoder(torch.cat([twos, threes]), steps=autoencoder_steps, seed=seed,
                                         device=device)
    autoencoder_seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    write_tensors(out / ENCODER_FILE, encoder.state_dict())
    write_tensors(out / DECODER_FILE, decoder.state_dict())
    solver = OTFlow(**OTFLOW_OPTIONS)
    source, target = encoder.encode(twos.to(device)), encoder.encode(threes.to(device))
    fit_seconds = _fit(solver, "digits-otflow", source, target, out, steps or OTFLOW_STEPS, seed, device, progress)
    inputs, hues = colored_digits(SOURCE_DIGIT, N_TEST, seed + 2, "test")

    def translate(x: torch.Tensor, n_per_x: int, seed: int) -> torch.Tensor:
        """Inputs ``[M, 3, 16, 16]`` to outputs ``[M, n_per_x, 3, 16, 16]`` (copies: the map is deterministic)."""
        z = solver.sample(encoder.encode(x.to(device)), n_per_x, seed=seed)
        return decode(decoder, z)

    figure = torch.cat([inputs[:N_SHOWN, None], decoded_paths(solver, encoder, decoder, inputs[:N_SHOWN])], 1)
    kinetic = solver.kinetic_energy(encoder.encode(inputs.to(device)))
    return _evaluate(out, translate, inputs, hues, seed, device, n_per_x=1, figure=figure,
                     extra={"fit_seconds": fit_seconds, "autoencoder_seconds": autoencoder_seconds,
                            "outputs_per_input": 1, "kinetic_energy": kinetic})


@torch.no_grad()
def decode(decoder: Decoder, z: torch.Tensor) -> torch.Tensor:
    """Decode codes ``[..., d]`` to colored digits ``[..., 3, 16, 16]`` (on the host)."""
    return decoder(z.flatten(0, -2)).view(*z.shape[:-1], 3, SIZE, SIZE).cpu()


def decoded_paths(solver: OTFlow, encoder: Encoder, decoder: Decoder, inputs: torch.Tensor) -> torch.Tensor:
    """The decoded flow paths of ``inputs [n, 3, 16, 16]`` at :data:`PATH_TIMES`: ``[n, len(PATH_TIMES), 3, 16, 16]``.

    Column 0 decodes the input's own code (its reconstruction), the last column its translation.
    """
    codes = encoder.encode(inputs.to(solver.device))
    return decode(decoder, solver.sample_path(codes, PATH_TIMES).transpose(0, 1))
