"""Data set sources for ``s2i prepare``: which files, which reader, which splits, official counts."""

from . import (  # noqa: F401  (register the sources)
    exchange,
    folder,
    humanoid_motions,
    kinect_v1_sets,
    kinetics,
    ntu,
    nw_ucla,
    pku_mmd,
)
from .base import SOURCES, DatasetSource, PrepareOptions, get_source, register_source, split_by

__all__ = ["SOURCES", "DatasetSource", "PrepareOptions", "get_source", "register_source", "split_by"]
