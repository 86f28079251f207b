"""MCMC for energy-based conditionals: kernels with one ``step``, one chain driver, and a replay buffer."""

from neurot.samplers.buffer import ReplayBuffer
from neurot.samplers.chain import (
    ChainDivergedError,
    ChainResult,
    EnergyPlateau,
    StepSizeAdapter,
    Target,
    run_chain,
)
from neurot.samplers.kernels import (
    KERNELS,
    MALA,
    ULA,
    ChainState,
    DataJump,
    GaussianSplitMALA,
    GaussianSplitULA,
    Kernel,
)
from neurot.samplers.starts import resampled_starts

__all__ = [
    "KERNELS",
    "MALA",
    "ULA",
    "ChainDivergedError",
    "ChainResult",
    "ChainState",
    "DataJump",
    "EnergyPlateau",
    "GaussianSplitMALA",
    "GaussianSplitULA",
    "Kernel",
    "ReplayBuffer",
    "StepSizeAdapter",
    "Target",
    "resampled_starts",
    "run_chain",
]
