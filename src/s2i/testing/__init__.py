"""Test utilities shipped with the package: the reference encoder (the test oracle), synthetic motion,
writers of raw files in their original layouts. Users can test their own extensions with them."""

from .synthetic import NTU_REST, synthetic_ntu
from .writers import generate_ntu_files, ntu_text, write_ntu

__all__ = ["NTU_REST", "generate_ntu_files", "ntu_text", "synthetic_ntu", "write_ntu"]
