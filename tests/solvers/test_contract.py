"""One contract for every solver: fit, sample, paths, evaluate, save and neurot.load with the same signatures."""

import json

import numpy as np
import pytest
import torch

import neurot

SMALL = {
    "egnot": lambda: neurot.EgNOT(eps=0.5, hidden=(16,), batch_size=32, sample_steps=5),
    "lightsb": lambda: neurot.LightSB(eps=0.5, n_components=3, batch_size=32),
    "sfeuot": lambda: neurot.SFEUOT(eps=0.5, hidden=(16,), generator_hidden=(16,), batch_size=32),
    "otflow": lambda: neurot.OTFlow(hidden=(16,), ratio_hidden=(16,), batch_size=32, warmup_steps=5, reflow_steps=2,
                                    ratio_steps=2, coupling_size=32, coupled_pairs=128),
}
X = np.random.default_rng(0).normal(size=(200, 2))
Y = X + 2.0


@pytest.fixture(scope="module", params=sorted(SMALL))
def fitted(request):
    solver = SMALL[request.param]()
    return solver.fit(X, Y, steps=None if isinstance(solver, neurot.OTFlow) else 5, seed=0)


def test_sample_paths_and_evaluate_share_one_signature(fitted):
    x = torch.as_tensor(X[:20], dtype=torch.float32)
    assert fitted.sample(x, seed=1).shape == (20, 2) and fitted.sample(x, n_per_x=3, seed=1).shape == (20, 3, 2)
    path = fitted.sample_path(x, [0.0, 0.5, 1.0], seed=2)
    assert path.shape == (3, 20, 2)
    torch.testing.assert_close(path[0], x)
    torch.testing.assert_close(path, fitted.sample_path(x, [0.0, 0.5, 1.0], seed=2))
    assert fitted.interpolate(x, 0.5, seed=3).shape == (20, 2)
    check = fitted.evaluate(X[:50], Y[:50], intermediate={0.5: X[:50] + 1.0}, seed=4)
    assert set(check) == {"energy", "floor", "energy_t=0.5"} and all(np.isfinite(v) for v in check.values())


def test_conditional_mean_and_transport_cost_are_means_of_the_draws(fitted):
    x = torch.as_tensor(X[:10], dtype=torch.float32)
    draws = fitted.sample(x, n_per_x=50, seed=5)
    torch.testing.assert_close(fitted.conditional_mean(x, n_samples=50, seed=5), draws.mean(1))
    expected = 0.5 * (draws - x[:, None]).square().sum(-1).mean(1)
    torch.testing.assert_close(fitted.transport_cost(x, n_samples=50, seed=5), expected)


@pytest.mark.parametrize("solver", sorted(SMALL))
@pytest.mark.parametrize(("option", "value", "error"), [("hidden", 128, "list of layer widths"),
                                                       ("hidden", [16, 0], "positive ints"),
                                                       ("activation", "tanh", "activation must be one of")])
def test_network_options_are_checked_at_construction(solver, option, value, error):
    if solver == "lightsb":
        pytest.skip("no MLP")
    options = {"eps": 0.5} if solver != "otflow" else {}
    with pytest.raises((TypeError, ValueError), match=error):
        type(SMALL[solver]())(**options, **{option: value})


def test_neurot_load_reads_the_class_from_the_file(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = neurot.load(tmp_path / "model")
    assert type(loaded) is type(fitted)
    x = torch.as_tensor(X[:20], dtype=torch.float32)
    torch.testing.assert_close(loaded.sample(x, seed=5), fitted.sample(x, seed=5))
    torch.testing.assert_close(loaded.interpolate(x, 0.3, seed=6), fitted.interpolate(x, 0.3, seed=6))


def test_neurot_load_names_a_file_that_is_not_a_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"solver": "nope"}))
    with pytest.raises(ValueError, match="names no neurot solver"):
        neurot.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        neurot.load(tmp_path / "missing")
