"""digits-generate end to end with a few steps, and the PCA basis it generates in."""

import json

import pytest
import torch

from neurot.data.digits import colored_digits
from neurot.examples import EXAMPLES, run_example
from neurot.examples.digit_metrics import digit_classifier
from neurot.examples.digits_generate import PCA_COMPONENTS, PCA_FILE, PCABasis
from neurot.solvers import SFEUOT


def test_pca_basis_round_trip_and_whitened_codes(tmp_path):
    images, _ = colored_digits(None, 400, seed=0, split="train")
    basis = PCABasis.fit(images, 40)
    assert basis.mean.shape == (768,) and basis.components.shape == (40, 768) and basis.scale.shape == (40,)
    assert torch.allclose(basis.components @ basis.components.T, torch.eye(40), atol=1e-4)
    codes = basis.encode(images)
    assert torch.allclose(codes.mean(0), torch.zeros(40), atol=1e-3)
    assert torch.allclose(codes.std(0), torch.ones(40), atol=1e-3)
    decoded = basis.decode(codes)
    assert decoded.shape == images.shape and decoded.abs().max() <= 1  # clamped to the data's range
    coarse = PCABasis.fit(images, 10)
    assert (decoded - images).square().mean() < 0.5 * (coarse.decode(coarse.encode(images)) - images).square().mean()
    full = PCABasis.fit(images[:30], 29)  # 30 centred images span 29 dimensions: exact reconstruction
    assert torch.allclose(full.decode(full.encode(images[:30])), images[:30], atol=1e-4)
    basis.save(tmp_path / PCA_FILE)
    again = PCABasis.load(tmp_path / PCA_FILE)
    assert torch.equal(again.components, basis.components) and torch.equal(again.scale, basis.scale)
    with pytest.raises(ValueError, match="k must be"):
        PCABasis.fit(images[:10], 11)


def test_digits_generate_runs_end_to_end(tmp_path):
    assert "digits-generate" in EXAMPLES
    out = tmp_path / "run"
    out.mkdir()
    digit_classifier(out / "classifier.safetensors")
    metrics = run_example("digits-generate", out, steps=3)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1] == json.loads(json.dumps(metrics)) and lines[-1]["evaluation"]
    assert [line["step"] for line in lines[:-1]][-1] == 3
    config = json.loads((out / "config.json").read_text())
    assert config["example"] == "digits-generate" and config["solver"]["name"] == "sfeuot"
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keys = {"frechet_distance", "frechet_floor", "frechet_pca_floor", "frechet_gaussian", "confident",
            "confident_real", "class_shares", "class_tv", "samples_per_second", "fit_seconds"}
    assert keys <= set(metrics)
    # the latent's own floor lies between the real floor and the untrained generator (the codes' Gaussian fit)
    assert metrics["frechet_floor"] < metrics["frechet_pca_floor"] < metrics["frechet_gaussian"]
    assert metrics["frechet_distance"] > 3 * metrics["frechet_pca_floor"]
    # the saved model and basis generate images after the run
    solver, basis = SFEUOT.load(out / "model"), PCABasis.load(out / PCA_FILE)
    images = basis.decode(solver.sample(torch.randn(5, PCA_COMPONENTS), seed=0))
    assert images.shape == (5, 3, 16, 16) and images.abs().max() <= 1
