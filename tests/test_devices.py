"""Every solver on every device of the ``device`` fixture: fit, sample, evaluate, save, load and resume there.

On CUDA (``pytest -m gpu``) this is the GPU path end to end; on the CPU it checks that the device rules hold by
construction: the data, the generator, the networks and the training state live on the solver's device.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import neurot
from neurot._validation import check_device
from neurot.data import as_source
from neurot.samplers import MALA, StepSizeAdapter, Target, run_chain

TINY = {
    "egnot": lambda: neurot.EgNOT(eps=0.5, hidden=(16,), batch_size=32, buffer_size=64, langevin_steps=3,
                                  sample_steps=5),
    "lightsb": lambda: neurot.LightSB(eps=0.5, n_components=3, batch_size=32),
    "sfeuot": lambda: neurot.SFEUOT(eps=0.5, tau=1.0, hidden=(16,), generator_hidden=(16,), batch_size=32),
    "otflow": lambda: neurot.OTFlow(hidden=(16,), classifier_hidden=(8,), ratio_hidden=(8,), batch_size=32,
                                    ode_steps=3, warmup_steps=2, reflow_steps=1, refine_steps=1, ratio_steps=2,
                                    coupling_size=32, coupled_pairs=64, pair_reuse=1, reflow_pairs=64),
}
STEPS = 6
X = np.random.default_rng(0).normal(size=(300, 2))  # NumPy input: held on the CPU until fit moves it
Y = X * 0.5 + 2.0


def weights(solver):
    return {f"{name}.{key}": value.cpu() for name, module in solver._modules().items()
            for key, value in module.state_dict().items()}


def stop_at(step):
    return lambda solver, current, metrics: current == step


@pytest.fixture
def deterministic(device):
    """Deterministic kernels on CUDA for the test: some of CUDA's default backward kernels add atomically in a varying
    order (on an H200, two identical 20-step LightSB fits differed by 7.6e-6; 0 under this setting)."""
    if device.type != "cuda":
        yield
        return
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_fit_sample_evaluate_save_load_and_resume_on_the_device(kind, device, deterministic, tmp_path):
    solver = TINY[kind]().fit(X, Y, steps=STEPS, seed=0, device=device)
    assert solver.device == device
    for data in (solver.source_data, solver.target_data):
        assert data.device == device and data.points.device == device
    assert solver.generator.device == device
    assert all(p.device == device for module in solver._modules().values() for p in module.parameters())

    x = torch.as_tensor(X[:16], dtype=torch.float32)
    draw = solver.sample(x, seed=1)
    assert draw.device == device and draw.shape == (16, 2) and torch.isfinite(draw).all()
    scores = solver.evaluate(X[:40], Y[:40], intermediate={0.5: X[:40] + 1.0}, seed=2)
    assert all(np.isfinite(v) for v in scores.values())

    solver.save(tmp_path / "model")
    loaded = neurot.load(tmp_path / "model", device=device)
    assert loaded.device == device
    torch.testing.assert_close(loaded.sample(x, seed=1), draw)
    torch.testing.assert_close(loaded.sample_path(x, [0.5], seed=3), solver.sample_path(x, [0.5], seed=3))

    checkpoints = tmp_path / "checkpoints"
    TINY[kind]().fit(X, Y, steps=STEPS, seed=0, device=device, checkpoint_dir=checkpoints, callbacks=[stop_at(3)])
    resumed = TINY[kind]().fit(X, Y, steps=STEPS, seed=0, device=device, checkpoint_dir=checkpoints, resume=True)
    torch.testing.assert_close(weights(resumed), weights(solver), rtol=0, atol=0)
    assert resumed.history == solver.history


def test_auto_picks_cuda_when_there_is_one_and_the_cpu_otherwise(tmp_path):
    expected = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    assert check_device("device", "auto") == expected
    solver = TINY["lightsb"]().fit(X, Y, steps=2, device="auto")
    assert solver.device == expected
    solver.save(tmp_path / "model")
    assert neurot.load(tmp_path / "model", device="auto").device == expected
    assert check_device("device", None) == torch.device("cpu")  # the default stays the CPU


def test_a_source_refuses_a_generator_on_another_device():
    source = as_source("source", X)
    assert source.device == torch.device("cpu") and source.to(torch.device("cpu")) is source
    with pytest.raises(ValueError, match="source is held on cpu but the generator is on meta"):
        source.sample(4, SimpleNamespace(device=torch.device("meta")))  # stands for a CUDA generator


def test_the_chain_reads_the_device_once_however_many_steps_it_runs(device, monkeypatch):
    """Diagnostics stay tensors inside the loop: host reads do not grow with the number of steps."""
    reads = []
    for method in ("item", "tolist", "__float__", "__bool__", "__int__"):
        original = getattr(torch.Tensor, method)
        monkeypatch.setattr(torch.Tensor, method,
                            lambda self, *a, _m=method, _f=original: reads.append(_m) or _f(self, *a))
    target = Target(lambda y: 0.5 * y.square().sum(1))
    y0 = torch.zeros(64, 3, device=device)
    counts = []
    for n_steps in (2, 40):
        reads.clear()
        generator = torch.Generator(device).manual_seed(0)
        kernel = MALA(0.5)
        result = run_chain(kernel, target, y0, n_steps, generator, StepSizeAdapter())
        assert result.steps == n_steps and 0 < result.acceptance <= 1
        counts.append(len(reads))
    assert counts[0] == counts[1] <= 1
