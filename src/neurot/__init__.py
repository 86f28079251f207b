"""neurot: neural optimal transport from samples, checked against exact ground truth."""

__version__ = "0.1.0"

from neurot.information import mutual_information  # noqa: E402
from neurot.solvers import SFEUOT, DivergenceError, EgNOT, LightSB, NotFittedError, OTFlow, load  # noqa: E402

__all__ = [
    "SFEUOT", "DivergenceError", "EgNOT", "LightSB", "NotFittedError", "OTFlow", "__version__", "load",
    "mutual_information",
]
