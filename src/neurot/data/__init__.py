"""Data: samplers of toy sets and Gaussians, the adapter that turns user input into a sampler, and file readers."""

from neurot.data.files import load_time_course, read_points, read_time_course, read_time_course_dir
from neurot.data.sources import DataSource, as_source
from neurot.data.toy import TOY_SETS, toy_sampler

__all__ = [
    "DataSource", "TOY_SETS", "as_source", "load_time_course", "read_points", "read_time_course",
    "read_time_course_dir", "toy_sampler",
]
