"""Data set sources for ``s2i prepare``: which files, which reader, which splits, official counts."""

from . import exchange, folder, kinect_v1_sets, kinetics, ntu, nw_ucla, pku_mmd  # noqa: F401  (register the sources)
from .base import SOURCES, DatasetSource, PrepareOptions, get_source, register_source, split_by

__all__ = ["SOURCES", "DatasetSource", "PrepareOptions", "get_source", "register_source", "split_by"]
