"""The SF-EUOT digits examples end to end with a few steps, and the Frechet distance behind digits-generate."""

import json
import shutil

import numpy as np
import pytest
import torch

from neurot.cli import main
from neurot.data.digits import colored_digits
from neurot.examples import EXAMPLES, run_example
from neurot.examples.digit_metrics import classifier_features, digit_classifier, frechet_distance
from neurot.examples.sfeuot_digits import generation_metrics


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """The digit classifier, trained once for the module and copied into each run directory."""
    path = tmp_path_factory.mktemp("cache") / "classifier.safetensors"
    digit_classifier(path)
    return path


def run(name, tmp_path, classifier_file):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(classifier_file, out / "classifier.safetensors")
    metrics = run_example(name, out, steps=3)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1] == json.loads(json.dumps(metrics)) and lines[-1]["evaluation"]
    assert [line["step"] for line in lines[:-1]][-1] == 3
    config = json.loads((out / "config.json").read_text())
    assert config["example"] == name and config["solver"]["name"] == "sfeuot" and config["fit"]["steps"] == 3
    assert (out / "model" / "weights.safetensors").exists()
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return metrics


def test_registry_holds_the_sfeuot_examples():
    assert {"digits-generate", "digits-2to3-sfeuot"} <= set(EXAMPLES)


def test_digits_generate_runs_end_to_end(tmp_path, classifier_file):
    metrics = run("digits-generate", tmp_path, classifier_file)
    keys = {"frechet_distance", "frechet_floor", "confident", "confident_real", "class_shares", "class_tv",
            "samples_per_second", "fit_seconds"}
    assert keys <= set(metrics)
    # three steps leave the generator near N(x, eps I): noise, far from real digits
    assert metrics["frechet_distance"] > 3 * metrics["frechet_floor"] > 0
    assert len(metrics["class_shares"]) == 10 and abs(sum(metrics["class_shares"]) - 1) < 1e-3
    assert 0 <= metrics["class_tv"] <= 1 and metrics["confident_real"] > 0.8


def test_digits_2to3_sfeuot_runs_end_to_end(tmp_path, classifier_file):
    metrics = run("digits-2to3-sfeuot", tmp_path, classifier_file)
    assert {"classified_as_target", "color_error", "diversity", "images_per_second", "fit_seconds"} <= set(metrics)
    assert metrics["diversity"] > 0  # a stochastic generator


def test_the_command_line_runs_an_example(tmp_path, classifier_file):
    """``neurot fit --example`` (the device it checks is recorded in config.json as a string)."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(classifier_file, out / "classifier.safetensors")
    assert main(["fit", "--example", "digits-2to3-sfeuot", "--out", str(out), "--steps", "2"]) == 0
    assert json.loads((out / "config.json").read_text())["fit"]["device"] == "cpu"


def gaussian_sample(mean, cov, n, seed):
    """``n`` points whose sample mean and (unbiased) sample covariance are exactly ``mean`` and ``cov``."""
    z = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z - z.mean(0)
    z = z @ torch.linalg.inv(torch.linalg.cholesky(torch.atleast_2d(torch.cov(z.T)))).T
    return mean + z @ torch.linalg.cholesky(cov).T


def psd_root(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T


def test_frechet_distance_matches_the_closed_form_of_two_gaussians():
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(5, 5, generator=generator, dtype=torch.float64) for _ in range(2))
    cov1, cov2 = a @ a.T + 0.1 * torch.eye(5), b @ b.T + 0.1 * torch.eye(5)
    mean1, mean2 = torch.randn(5, generator=generator, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    s1, s2 = cov1.numpy(), cov2.numpy()
    root1 = psd_root(s1)
    expected = float(((mean1 - mean2) ** 2).sum()) + np.trace(s1 + s2 - 2 * psd_root(root1 @ s2 @ root1))
    features1, features2 = gaussian_sample(mean1, cov1, 400, 1), gaussian_sample(mean2, cov2, 300, 2)
    assert frechet_distance(features1, features2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(features1, features1) == pytest.approx(0, abs=1e-6)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2
    scalar = {"dtype": torch.float64}
    one = gaussian_sample(torch.tensor([1.0], **scalar), torch.tensor([[4.0]], **scalar), 50, 3)
    other = gaussian_sample(torch.tensor([-2.0], **scalar), torch.tensor([[1.0]], **scalar), 60, 4)
    assert frechet_distance(one, other) == pytest.approx(9 + 1, rel=1e-9)


def test_frechet_distance_rejects_bad_features():
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(torch.zeros(5), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="differ"):
        frechet_distance(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="non-finite"):
        frechet_distance(torch.full((5, 2), float("nan")), torch.zeros(5, 2))


def test_generation_metrics_of_real_digits_and_of_one_class(classifier_file):
    classifier = digit_classifier(classifier_file)
    real, _ = colored_digits(None, 800, seed=1, split="test")
    other, _ = colored_digits(None, 400, seed=2, split="test")
    assert classifier_features(classifier, real[:3]).shape == (3, 512)
    same = generation_metrics(classifier, real[400:], real[:400], other)
    sevens, _ = colored_digits(7, 400, seed=3, split="test")
    collapsed = generation_metrics(classifier, sevens, real[:400], other)
    assert same["class_tv"] < 0.15 and same["confident"] > 0.8
    assert same["frechet_distance"] < 2 * same["frechet_floor"] < collapsed["frechet_distance"]
    assert collapsed["class_shares"][7] > 0.9 and collapsed["class_tv"] > 0.8
    with pytest.raises(ValueError, match="one shape"):
        generation_metrics(classifier, real[:10], real[:10], other[:9])
