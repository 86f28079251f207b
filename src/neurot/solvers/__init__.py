"""The OT solvers; each is a config dataclass plus a class with the common fit / sample / save / load contract."""

from neurot.solvers.base import NotFittedError, Solver
from neurot.solvers.egnot import EgNOT, EgNOTConfig
from neurot.solvers.sfeuot import SFEUOT, SFEUOTConfig

SOLVERS: dict[str, type[Solver]] = {EgNOT.name: EgNOT, SFEUOT.name: SFEUOT}

__all__ = ["SOLVERS", "SFEUOT", "EgNOT", "EgNOTConfig", "NotFittedError", "SFEUOTConfig", "Solver"]
