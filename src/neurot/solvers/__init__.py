"""The OT solvers; each is a config dataclass plus a class with the common fit / sample / save / load contract."""

from neurot.solvers.base import DivergenceError, NotFittedError, Solver
from neurot.solvers.egnot import EgNOT, EgNOTConfig
from neurot.solvers.otflow import OTFlow, OTFlowConfig
from neurot.solvers.sfeuot import SFEUOT, SFEUOTConfig

SOLVERS: dict[str, type[Solver]] = {solver.name: solver for solver in (EgNOT, SFEUOT, OTFlow)}

__all__ = [
    "SFEUOT",
    "SOLVERS",
    "DivergenceError",
    "EgNOT",
    "EgNOTConfig",
    "NotFittedError",
    "OTFlow",
    "OTFlowConfig",
    "SFEUOTConfig",
    "Solver",
]
