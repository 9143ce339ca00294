"""Readers: one module per skeleton source, each returning :class:`s2i.SkeletonSequence`."""

from . import asf_amc, bvh, kinetics, msr_action3d, ntu, nw_ucla, pku_mmd, utd_mhad  # noqa: F401  (register the readers)
from .base import READERS, ReaderError, read_sequence, reader_for, register_reader

__all__ = ["READERS", "ReaderError", "read_sequence", "reader_for", "register_reader"]
