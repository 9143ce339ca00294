"""Evaluation protocols of the field (linear, kNN, fine-tune, semi-supervised, transfer, cross-format),
multi-stream fusion, and self-describing result files. Every name is imported on first use, so
:mod:`.config` loads (and the command line lists its keys) without torch or Lightning."""

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr

if TYPE_CHECKING:
    from .finetune import load_finetuned
    from .knn import knn_scores
    from .linear import LinearProbeConfig, LinearProbeResult, train_linear_probe
    from .metrics import classification_metrics, fuse_scores, mean_std
    from .record import RunRecord, load_record
    from .results import load_results, results_table, write_results
    from .subsets import per_class_subset, train_val_split

__all__ = [
    "LinearProbeConfig", "LinearProbeResult", "classification_metrics", "fuse_scores", "knn_scores",
    "load_results", "mean_std", "per_class_subset", "results_table", "train_linear_probe", "train_val_split",
    "write_results", "load_finetuned", "RunRecord", "load_record",
]

#: name -> the submodule that defines it
_LAZY = {"LinearProbeConfig": "linear", "LinearProbeResult": "linear", "train_linear_probe": "linear",
         "classification_metrics": "metrics", "fuse_scores": "metrics", "knn_scores": "knn",
         "load_results": "results", "mean_std": "metrics", "results_table": "results", "write_results": "results",
         "per_class_subset": "subsets", "train_val_split": "subsets", "load_finetuned": "finetune",
         "RunRecord": "record", "load_record": "record"}


__getattr__ = lazy_getattr(__name__, _LAZY)
