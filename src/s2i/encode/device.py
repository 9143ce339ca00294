"""Moves to the encoding device that do not wait for the GPU: a blocking host-to-GPU copy
(``t.to("cuda")``) and a ``bool(tensor)`` on the GPU each stall until every queued kernel has run, and the
encoder and the augmentations run every training step, between the model's kernels."""

from __future__ import annotations

import functools

import torch

__all__ = ["host_checks", "index_on", "to_device"]


def to_device(t: torch.Tensor, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``t`` on ``device`` (as ``dtype``). From the CPU to an accelerator the copy is queued, not waited
    for: CUDA stages pageable host memory before the call returns, so the source may be freed at once."""
    device = torch.device(device)
    return t.to(device=device, dtype=dtype, non_blocking=t.device.type == "cpu" and device.type != "cpu")


@functools.lru_cache(maxsize=512)
def index_on(indices: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """An int64 index tensor on ``device``, made once per (indices, device) instead of copied every batch.
    Shared: never modify it in place."""
    return torch.tensor(indices, dtype=torch.long, device=device)


def host_checks(device: torch.device) -> bool:
    """Whether a data-dependent shortcut (``if bool(mask.any())``) pays off on ``device``: on the CPU it is
    free; on an accelerator it waits for the queue, so the branch-free path is taken instead."""
    return device.type == "cpu"
