"""The digit classifier behind the examples' metrics, and the metrics themselves."""

import pytest
import torch

from neurot.data.digits import colored_digits
from neurot.examples.digit_metrics import (
    classifier_accuracy,
    classify,
    digit_classifier,
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
