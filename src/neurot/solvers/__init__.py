"""The OT solvers; each is a config dataclass plus a class with the common fit / sample / save / load contract."""

from neurot.solvers.base import NotFittedError, Solver
from neurot.solvers.egnot import EgNOT, EgNOTConfig
from neurot.solvers.otflow import OTFlow, OTFlowConfig

SOLVERS: dict[str, type[Solver]] = {EgNOT.name: EgNOT, OTFlow.name: OTFlow}

__all__ = ["SOLVERS", "EgNOT", "EgNOTConfig", "NotFittedError", "OTFlow", "OTFlowConfig", "Solver"]
