"""Data: samplers of toy sets and Gaussians, and the adapter that turns user input into a sampler."""

from neurot.data.sources import DataSource, as_source
from neurot.data.toy import TOY_SETS, toy_sampler

__all__ = ["DataSource", "TOY_SETS", "as_source", "toy_sampler"]
