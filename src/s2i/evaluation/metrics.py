"""Classification metrics of a protocol run, from scores and labels (torchmetrics underneath)."""

from __future__ import annotations

import math
import statistics
from typing import Any

import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_confusion_matrix

__all__ = ["classification_metrics", "fuse_scores", "fuse_views", "seed_summary", "stream_summaries", "wilson_interval"]

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile: a two-sided 95 % interval


def classification_metrics(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, Any]:
    """top-1 / top-5 accuracy (%), per-class accuracy (%) and the confusion matrix (rows = true class).

    ``scores`` (N, K) are logits, probabilities or similarities: only their ranking matters. Every test
    sample counts once: the caller passes each sample exactly once (no distributed padding).
    """
    if scores.shape != (labels.shape[0], num_classes):
        raise ValueError(f"scores must be (N, {num_classes}) for N = {labels.shape[0]} labels,"
                         f" got {tuple(scores.shape)}")
    scores, labels = scores.float().cpu(), labels.long().cpu()
    top1 = multiclass_accuracy(scores, labels, num_classes, average="micro", top_k=1).item()
    top5 = multiclass_accuracy(scores, labels, num_classes, average="micro", top_k=min(5, num_classes)).item()
    per_class = multiclass_accuracy(scores, labels, num_classes, average=None, top_k=1)
    present = torch.bincount(labels, minlength=num_classes) > 0
    confusion = multiclass_confusion_matrix(scores, labels, num_classes)
    return {
        "top1": round(100.0 * top1, 4),
        "top5": round(100.0 * top5, 4),
        "per_class_top1": [round(100.0 * a, 4) if p else None for a, p in zip(per_class.tolist(), present.tolist())],
        "confusion_matrix": confusion.tolist(),
        "num_test_samples": int(labels.shape[0]),
    }


def wilson_interval(correct: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (default 95 %) of an accuracy of ``correct`` / ``n`` test samples, as fractions.

    The spread a test set of ``n`` samples alone puts on an accuracy (binomial sampling), which a mean ± std
    over seeds on that same test set does not show. ``correct`` may be fractional (a mean over seeds). Unlike
    the normal approximation it stays inside [0, 1] and is not zero-width at 0 or n correct.
    """
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"an interval needs 0 <= correct <= n and n >= 1, got {correct} of {n}")
    p, z2 = correct / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def top1_interval(top1: float, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval (lo, hi) of a top-1 % (a mean over seeds may be fractional) on ``n`` test
    samples, in %."""
    lo, hi = wilson_interval(top1 / 100 * n, n)
    return 100 * lo, 100 * hi


def interval_text(top1: float, n: int | None) -> str:
    """``lo–hi``: the 95 % Wilson interval of a top-1 % on ``n`` test samples, in % to one decimal ("" when n
    is unknown): the one way tables and the demo print it."""
    if not n or n < 1:
        return ""
    lo, hi = top1_interval(top1, n)
    return f"{lo:.1f}–{hi:.1f}"


def fuse_scores(scores: list[torch.Tensor], weights: list[float] | None = None) -> torch.Tensor:
    """Multi-stream ensemble: the (weighted) mean of each stream's softmax probabilities."""
    if not scores:
        raise ValueError("nothing to fuse")
    w = weights or [1.0] * len(scores)
    if len(w) != len(scores):
        raise ValueError(f"{len(scores)} score tensors but {len(w)} weights")
    probs = [wi * s.float().softmax(dim=-1) for wi, s in zip(w, scores)]
    return torch.stack(probs).sum(0) / sum(w)


def fuse_views(scores: list[torch.Tensor]) -> torch.Tensor:
    """Test-time views of one model (whole sequence and crops): the log of their mean softmax, so that the
    result is itself a score that streams can be fused on."""
    return fuse_scores(scores).clamp_min(1e-12).log()


def seed_summary(scores: list[torch.Tensor], labels: torch.Tensor, num_classes: int,
                 seeds: list[int]) -> dict[str, Any]:
    """Metrics of one score tensor per seed: top-1/top-5 as the mean over seeds (``top1_seeds``: mean ±
    std), per-class accuracy and confusion matrix pooled over the seeds, and each seed's top-1/top-5."""
    per_seed = [classification_metrics(sc, labels, num_classes) for sc in scores]
    out = classification_metrics(torch.cat(scores), labels.repeat(len(scores)), num_classes)
    out["num_test_samples"] = int(labels.shape[0])
    top1, top5 = [m["top1"] for m in per_seed], [m["top5"] for m in per_seed]
    out["top1"], out["top5"] = round(sum(top1) / len(top1), 4), round(sum(top5) / len(top5), 4)
    out["top1_seeds"], out["top5_seeds"] = mean_std(top1), mean_std(top5)
    out["per_seed"] = [{"seed": s, "top1": m["top1"], "top5": m["top5"]} for s, m in zip(seeds, per_seed)]
    return out


def stream_summaries(per_stream: dict[str, list[torch.Tensor]], labels: torch.Tensor, num_classes: int,
                     seeds: list[int]) -> dict[str, dict[str, Any]]:
    """:func:`seed_summary` of each stream of an ensemble, without the confusion matrices (the fused one
    has its own)."""
    return {s: {k: v for k, v in seed_summary(sc, labels, num_classes, seeds).items() if k != "confusion_matrix"}
            for s, sc in per_stream.items()}


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0, "n": len(values)}
