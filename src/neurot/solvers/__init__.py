"""The OT solvers; each is a config dataclass plus a class with the common fit / sample / save / load contract."""

from pathlib import Path

import torch
from torch import nn

from neurot.io import CONFIG_FILE, read_json
from neurot.solvers.base import DivergenceError, NotFittedError, Solver
from neurot.solvers.egnot import EgNOT, EgNOTConfig
from neurot.solvers.lightsb import LightSB, LightSBConfig
from neurot.solvers.otflow import OTFlow, OTFlowConfig
from neurot.solvers.sfeuot import SFEUOT, SFEUOTConfig

SOLVERS: dict[str, type[Solver]] = {solver.name: solver for solver in (EgNOT, LightSB, SFEUOT, OTFlow)}


def load(path: str | Path, device: str | torch.device | None = None, **modules: nn.Module) -> Solver:
    """Load any solver written by ``save(path)``: its class is read from ``path/config.json``.

    ``device`` and ``modules`` (custom networks or costs used in training) as in :meth:`Solver.load`.
    """
    meta = read_json(Path(path) / CONFIG_FILE)
    name = meta.get("solver") if isinstance(meta, dict) else None
    if name not in SOLVERS:
        raise ValueError(f"{Path(path) / CONFIG_FILE} names no neurot solver (solver = {name!r}; known: "
                         f"{sorted(SOLVERS)})")
    return SOLVERS[name].load(path, device=device, **modules)

__all__ = [
    "SFEUOT",
    "SOLVERS",
    "DivergenceError",
    "EgNOT",
    "EgNOTConfig",
    "LightSB",
    "LightSBConfig",
    "NotFittedError",
    "OTFlow",
    "OTFlowConfig",
    "SFEUOTConfig",
    "Solver",
    "load",
]
