"""The OT-flow latent translation example (digits-otflow) end to end with tiny steps, and its autoencoder."""

import json

import pytest
import torch
from PIL import Image

from neurot.data.digits import colored_digits
from neurot.examples import EXAMPLES, run_example
from neurot.examples.digits import train_autoencoder
from neurot.examples.otflow_latent import PATH_TIMES
from neurot.solvers import OTFlow

EVALUATION_KEYS = {"evaluation", "classified_as_target", "color_error", "diversity", "images_per_second", "threads",
                   "device", "fit_seconds", "autoencoder_seconds", "outputs_per_input",
                   "kinetic_energy"}


def test_digits_otflow_runs_end_to_end(tmp_path):
    """A few steps of each network (~20 s): the run directory, the evaluation line and the path figure.

    The device is a ``torch.device``, as ``neurot fit --example`` passes it."""
    assert "digits-otflow" in EXAMPLES
    out = tmp_path / "run"
    metrics = run_example("digits-otflow", out, steps=20, autoencoder_steps=20, device=torch.device("cpu"))
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1] == json.loads(json.dumps(metrics)) and set(metrics) == EVALUATION_KEYS
    assert [line["step"] for line in lines[:-1]][-1] == 20
    assert metrics["diversity"] == 0.0 and metrics["outputs_per_input"] == 1
    assert 0 <= metrics["classified_as_target"] <= 1 and 0 <= metrics["color_error"] <= 180
    assert metrics["kinetic_energy"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["example"] == "digits-otflow" and config["solver"]["name"] == "otflow"
    assert config["fit"]["steps"] == 20 and config["fit"]["device"] == "cpu"
    flow = OTFlow.load(out / "model")
    assert flow.transport(torch.zeros(3, 8)).shape == (3, 8)
    for name in ("encoder", "decoder", "classifier"):
        assert (out / f"{name}.safetensors").exists()
    with Image.open(out / "figure.png") as figure:  # 12 rows of the input then the decoded path: 16 px + 2 pad, x4
        assert figure.size == (4 * (18 * (1 + len(PATH_TIMES)) + 2), 4 * (18 * 12 + 2))


@pytest.fixture(scope="module")
def digits():
    return colored_digits(3, 500, seed=1)[0]


def test_train_autoencoder_is_seeded(digits):
    """digits-latent keeps its decoder: the same seed gives the same weights (the refactor from train_decoder was
    checked bitwise against the old function)."""
    first, second = (train_autoencoder(digits, steps=5, seed=3)[1] for _ in range(2))
    other = train_autoencoder(digits, steps=5, seed=4)[1]
    for a, b, c in zip(first.parameters(), second.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_encoder_means_are_codes_the_decoder_reconstructs(digits):
    """After a short fit, decoding an image's code is closer to it than decoding a draw from the prior."""
    encoder, decoder = train_autoencoder(digits, steps=300, seed=0)
    codes = encoder.encode(digits)
    assert codes.shape == (500, 8) and not codes.requires_grad
    with torch.no_grad():
        own = (decoder(codes) - digits).square().mean()
        prior = (decoder(torch.randn(codes.shape, generator=torch.Generator().manual_seed(0))) - digits).square().mean()
    assert own < 0.7 * prior
