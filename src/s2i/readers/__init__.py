"""Readers: one module per skeleton source, each returning :class:`s2i.SkeletonSequence`."""

from . import (  # noqa: F401  (register the readers)
    arrays,
    asf_amc,
    bvh,
    deepmimic,
    kinetics,
    mediapipe,
    msr_action3d,
    ntu,
    nw_ucla,
    openpose,
    pku_mmd,
    text_frames,
    utd_mhad,
)
from .base import READERS, ReaderError, read_sequence, reader_for, register_reader
from .inputs import read_input

# the first reader whose file test accepts a file reads it: the data-set readers first, then the generic
# ones (a .csv with a "visibility" column is MediaPipe, any other .csv / .tsv is one frame a line)
for _name in ("npy", "openpose", "mediapipe", "text-frames"):
    READERS[_name] = READERS.pop(_name)

__all__ = ["READERS", "ReaderError", "read_input", "read_sequence", "reader_for", "register_reader"]
