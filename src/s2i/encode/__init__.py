"""S2I encoding: skeleton batches -> body-part-banded images (one torch implementation, NumPy in/out)."""

from .config import S2IConfig
from .encoder import S2IEncoder, encode, estimate_value_range
from .layout import RowMap, band_sizes, build_row_map
from .temporal import TimeMap, build_time_map

__all__ = [
    "RowMap",
    "S2IConfig",
    "S2IEncoder",
    "TimeMap",
    "band_sizes",
    "build_row_map",
    "build_time_map",
    "encode",
    "estimate_value_range",
]
