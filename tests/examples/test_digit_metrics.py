"""The digit classifier behind the examples' metrics, and the metrics themselves."""

import numpy as np
import pytest
import torch

from neurot.data.digits import colored_digits
from neurot.examples.digit_metrics import (
    classifier_accuracy,
    classifier_features,
    classify,
    digit_classifier,
    frechet_distance,
    generation_metrics,
    translation_metrics,
)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return digit_classifier(tmp_path_factory.mktemp("cache") / "classifier.safetensors")


def test_classifier_reads_held_out_digits_in_any_color(classifier):
    assert classifier_accuracy(classifier, "test") > 0.9
    threes, _ = colored_digits(3, 200, seed=5, split="test")
    assert float((classify(classifier, threes) == 3).float().mean()) > 0.9


def test_classifier_is_cached(classifier, tmp_path_factory):
    cache = next(tmp_path_factory.getbasetemp().glob("cache*/classifier.safetensors"))
    again = digit_classifier(cache)
    for a, b in zip(classifier.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


def test_translation_metrics_of_the_identity_and_of_recolored_targets(classifier):
    twos, hues = colored_digits(2, 50, seed=1, split="test")
    identity = translation_metrics(classifier, hues, twos[:, None].expand(50, 3, 3, 16, 16), target_digit=3)
    assert identity["classified_as_target"] < 0.1
    assert identity["color_error"] < 0.01 and identity["diversity"] == 0.0
    threes, three_hues = colored_digits(3, 50, seed=2, split="test")
    other = translation_metrics(classifier, hues, threes[:, None], target_digit=3)
    assert other["classified_as_target"] > 0.9 and other["color_error"] > 30


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
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2
    scalar = {"dtype": torch.float64}
    one = gaussian_sample(torch.tensor([1.0], **scalar), torch.tensor([[4.0]], **scalar), 50, 3)
    other = gaussian_sample(torch.tensor([-2.0], **scalar), torch.tensor([[1.0]], **scalar), 60, 4)
    assert frechet_distance(one, other) == pytest.approx(9 + 1, rel=1e-9)


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    features = torch.randn(300, 8, generator=torch.Generator().manual_seed(5))
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-6)
    distances = [frechet_distance(features, features + shift) for shift in (0.5, 1.0, 2.0)]
    assert distances == pytest.approx([8 * 0.25, 8 * 1.0, 8 * 4.0], rel=1e-6)  # |shift|^2 per coordinate


def test_frechet_distance_rejects_bad_features():
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(torch.zeros(5), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="differ"):
        frechet_distance(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="non-finite"):
        frechet_distance(torch.full((5, 2), float("nan")), torch.zeros(5, 2))


def test_generation_metrics_of_real_digits_and_of_one_class(classifier):
    real, _ = colored_digits(None, 800, seed=1, split="test")
    other, _ = colored_digits(None, 400, seed=2, split="test")
    assert classifier_features(classifier, real[:3]).shape == (3, 512)
    same = generation_metrics(classifier, real[400:], real[:400], other)
    sevens, _ = colored_digits(7, 400, seed=3, split="test")
    collapsed = generation_metrics(classifier, sevens, real[:400], other)
    assert same["class_tv"] < 0.15 and same["confident"] > 0.8 and same["confident_real"] > 0.8
    assert same["frechet_distance"] < 2 * same["frechet_floor"] < collapsed["frechet_distance"]
    assert collapsed["class_shares"][7] > 0.9 and collapsed["class_tv"] > 0.8
    assert len(same["class_shares"]) == 10 and sum(same["class_shares"]) == pytest.approx(1, abs=1e-3)
    with pytest.raises(ValueError, match="one shape"):
        generation_metrics(classifier, real[:10], real[:10], other[:9])
