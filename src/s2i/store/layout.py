"""The prepared store's on-disk layout: a ragged memory-mapped array of frames plus an index, metadata and splits.

Layout of a store folder::

    manifest.json     data set, format, dtype, V, C, counts, class names, statistics, content hash
    joints.bin        all frames of all sequences, (rows, V, C) in float16/float32, row = (person, frame)
    confidence.bin    optional (rows, V) per-joint scores (2D formats)
    index.npy         per sequence: row offset, persons, frames, label (a structured array)
    meta.jsonl        per sequence: name, subject, view, setup, source, reader decisions, ...
    splits.json       {split: {"train": [sequence ids], "test": [...]}}
    format.yaml       the skeleton format spec itself (so a store made with a user's YAML opens anywhere)
    report.json       what prepare did: skipped files with reasons, counts vs the official ones

Sequence i occupies rows [offset, offset + persons * frames) as (persons, frames, V, C); reading it
touches only those rows. The writer streams (nothing is held in RAM but the small index), writes into
a temporary folder and renames it into place at the end, so an interrupted run leaves no store.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FORMAT_FILE", "INDEX_DTYPE", "STORE_VERSION", "StoreError", "jsonable"]

STORE_VERSION = 1
FORMAT_FILE = "format.yaml"
INDEX_DTYPE = np.dtype([("offset", "<i8"), ("persons", "<i4"), ("frames", "<i4"), ("label", "<i4")])


class StoreError(ValueError):
    """A store folder is missing, incomplete or inconsistent."""


def jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v
