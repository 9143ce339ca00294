"""s2i: Skeleton-to-Image encoding for skeleton action representation learning."""

from .formats import FormatSpec, get_format, list_formats
from .skeleton import SkeletonSequence

__version__ = "0.1.0"

__all__ = ["FormatSpec", "SkeletonSequence", "__version__", "get_format", "list_formats"]
