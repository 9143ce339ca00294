"""One entry point for what a user points s2i at: a skeleton file, or an OpenPose ``--write_json`` folder."""

from __future__ import annotations

from pathlib import Path

from ..formats import FormatSpec
from ..skeleton import SkeletonSequence
from .base import ReaderError, read_sequence
from .openpose import is_openpose_folder, read_openpose

__all__ = ["read_input"]


def read_input(path: str | Path, kind: str | None = None, fmt: str | FormatSpec | None = None) -> SkeletonSequence:
    """Read a file with the matching reader (``kind`` forces one; ``fmt`` gives the joint order for
    readers that need or accept one), or a folder of OpenPose per-frame ``*_keypoints.json`` files."""
    p = Path(path)
    if p.is_dir():
        if not is_openpose_folder(p):
            raise ReaderError(p, "is a directory, not a regular file (a folder is read as OpenPose"
                                 " --write_json output, but it has no *_keypoints.json files)")
        seq = read_openpose(p)
        if fmt is not None:
            seq.format = fmt.name if isinstance(fmt, FormatSpec) else str(fmt)
        return seq
    return read_sequence(p, kind=kind, fmt=fmt)  # type: ignore[arg-type]
