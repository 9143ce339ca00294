"""S2I encoding: skeleton batches -> body-part-banded images (one torch implementation, NumPy in/out).

The package itself is callable: ``s2i.encode(sequences_or_array, fmt, ...)`` is :func:`encoder.encode`.
"""

import sys
import types
from typing import Any

from .config import S2IConfig
from .encoder import Draws, S2IEncoder, encode
from .layout import RowMap, band_sizes, build_row_map
from .persons import batch_has_two_person, resolve_persons, store_has_two_person
from .temporal import TimeMap, build_time_map
from .value_range import dataset_value_range, estimate_value_range, precompute_value_ranges, value_range_key

__all__ = [
    "Draws",
    "RowMap",
    "S2IConfig",
    "S2IEncoder",
    "TimeMap",
    "band_sizes",
    "batch_has_two_person",
    "build_row_map",
    "build_time_map",
    "dataset_value_range",
    "encode",
    "estimate_value_range",
    "precompute_value_ranges",
    "resolve_persons",
    "store_has_two_person",
    "value_range_key",
]


class _CallableModule(types.ModuleType):
    """``s2i.encode(...)`` calls :func:`encode`, so the short form of the README works."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return encode(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
