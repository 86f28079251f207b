"""The OT solvers; each is a config dataclass plus a class with the common fit / sample / save / load contract."""

from neurot.solvers.base import NotFittedError, Solver
from neurot.solvers.egnot import EgNOT, EgNOTConfig

SOLVERS: dict[str, type[Solver]] = {EgNOT.name: EgNOT}

__all__ = ["SOLVERS", "EgNOT", "EgNOTConfig", "NotFittedError", "Solver"]
