"""S2I encoding: skeleton batches -> body-part-banded images (one torch implementation, NumPy in/out).

The package itself is callable: ``s2i.encode(sequences_or_array, fmt, ...)`` is :func:`encoder.encode`.
Only :class:`S2IConfig` is imported eagerly; the torch parts load on first use, so the command line can
build its options from the config without importing torch.
"""

import sys
import types
from typing import TYPE_CHECKING, Any

from ..lazy import lazy_getattr
from .config import S2IConfig

if TYPE_CHECKING:
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

#: name -> the submodule that defines it (imported on first access)
_LAZY = {"S2IEncoder": "encoder", "encode": "encoder", "Draws": "encoder", "RowMap": "layout", "band_sizes": "layout",
         "build_row_map": "layout", "batch_has_two_person": "persons", "resolve_persons": "persons",
         "store_has_two_person": "persons", "TimeMap": "temporal", "build_time_map": "temporal",
         "dataset_value_range": "value_range", "estimate_value_range": "value_range",
         "precompute_value_ranges": "value_range", "value_range_key": "value_range"}


__getattr__ = lazy_getattr(__name__, _LAZY)


class _CallableModule(types.ModuleType):
    """``s2i.encode(...)`` calls :func:`encode`, so the short form of the README works."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .encoder import encode as _encode

        return _encode(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
