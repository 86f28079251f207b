"""Colored digits from scikit-learn's bundled 8 x 8 digits."""

import pytest
import torch

from neurot.data.digits import (
    colored_digits,
    hue_distance,
    hue_to_rgb,
    image_hue,
    intensity,
    load_digits,
    rgb_to_hue,
)


def test_splits_are_disjoint_and_upsampled():
    train, train_labels = load_digits("train")
    test, test_labels = load_digits("test")
    assert train.shape[1:] == (1, 16, 16) and len(train) + len(test) == 1797
    assert 0 <= float(train.min()) and float(train.max()) <= 1
    assert set(test_labels.tolist()) == set(range(10))
    with pytest.raises(ValueError, match="split must be one of"):
        load_digits("val")


def test_colored_digits_keep_the_ink_and_carry_their_hue():
    images, hues = colored_digits(2, 300, seed=0)
    assert images.shape == (300, 3, 16, 16) and float(images.min()) >= -1 and float(images.max()) <= 1
    assert float(hue_distance(image_hue(images), hues).max()) < 0.01
    base, labels = load_digits("train")
    inks = base[labels == 2].flatten(1)
    # the intensity of each colored image is one of the bundled 2s
    distances = torch.cdist(intensity(images).flatten(1), inks).min(1).values
    assert float(distances.max()) < 1e-4
    again, _ = colored_digits(2, 300, seed=0)
    assert torch.equal(images, again)
    with pytest.raises(ValueError, match="digit must be in 0..9"):
        colored_digits(12, 3)


def test_hue_conversions_and_circular_distance():
    hues = torch.linspace(0, 0.999, 50)
    assert float(hue_distance(rgb_to_hue(hue_to_rgb(hues)), hues).max()) < 1e-3
    torch.testing.assert_close(hue_to_rgb(torch.tensor([0.0, 1 / 3, 2 / 3])), torch.eye(3))
    assert hue_distance(torch.tensor([0.95]), torch.tensor([0.05])).item() == pytest.approx(36.0)
