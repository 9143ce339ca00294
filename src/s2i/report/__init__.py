"""The HTML report of a pretraining run and its evaluations (``s2i report``)."""

from .build import PairSource, write_report

__all__ = ["PairSource", "write_report"]
