import os

import numpy as np
import pytest
import torch

# cuBLAS is deterministic only with a fixed workspace, set before CUDA starts (tests/test_devices.py compares a resumed
# fit bitwise with an uninterrupted one on CUDA too).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

from neurot.benchmarks.metrics import bw2_uvp


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def bridge_errors():
    """``errors(problem, solver)``: BW2-UVP (%) of a fitted solver's paths (20k source points) against the Schrodinger
    bridge of a ``GaussianEOT`` problem, by time ``t`` in (0.3, 0.5, 0.8)."""

    def errors(problem, solver, times=(0.3, 0.5, 0.8)):
        x = problem.sample_source(20_000, np.random.default_rng(6))
        path = solver.sample_path(x, list(times), seed=7).double().numpy()
        return {t: bw2_uvp(points, *problem.bridge_marginal(t)) for points, t in zip(path, times, strict=True)}

    return errors


#: The devices of the ``device`` fixture: the CPU always, CUDA (marked ``gpu``) where a GPU is visible.
DEVICES = ["cpu", *([pytest.param("cuda", marks=pytest.mark.gpu)] if torch.cuda.is_available() else [])]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each device the library runs on here, resolved as ``fit(device=...)`` resolves it (``cuda`` -> ``cuda:0``)."""
    from neurot._validation import check_device

    return check_device("device", request.param)
