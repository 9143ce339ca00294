"""Evaluation protocols of the field (linear, kNN, fine-tune, semi-supervised, transfer, cross-format),
multi-stream fusion, and self-describing result files. ``load_finetuned`` (a saved fine-tuned classifier)
is imported on first use: it needs Lightning."""

from typing import Any

from .knn import knn_scores
from .linear import LinearProbeConfig, LinearProbeResult, train_linear_probe
from .metrics import classification_metrics, fuse_scores
from .results import load_results, mean_std, results_table, write_results
from .subsets import per_class_subset, train_val_split

__all__ = [
    "LinearProbeConfig", "LinearProbeResult", "classification_metrics", "fuse_scores", "knn_scores",
    "load_results", "mean_std", "per_class_subset", "results_table", "train_linear_probe", "train_val_split",
    "write_results", "load_finetuned",
]


def __getattr__(name: str) -> Any:
    if name == "load_finetuned":
        from .finetune import load_finetuned

        return load_finetuned
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
