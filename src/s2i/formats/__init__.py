"""Skeleton formats: declarative specs (joints, bone tree, centre, left/right, body parts)."""

from .docs import formats_markdown
from .registry import SPEC_DIR, get_format, list_formats, register_format
from .spec import PART_NAMES, FormatSpec, FormatSpecError, load_format_file

__all__ = [
    "PART_NAMES",
    "SPEC_DIR",
    "FormatSpec",
    "FormatSpecError",
    "formats_markdown",
    "get_format",
    "list_formats",
    "load_format_file",
    "register_format",
]
