"""Moves to the encoding device that do not wait for the GPU: a blocking host-to-GPU copy
(``t.to("cuda")``) and a ``bool(tensor)`` on the GPU each stall until every queued kernel has run, and the
encoder and the augmentations run every training step, between the model's kernels."""

from __future__ import annotations

import functools

import torch

__all__ = ["host_checks", "index_on", "to_device"]


def to_device(t: torch.Tensor, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``t`` on ``device`` (as ``dtype``). From the CPU to a GPU the copy is queued, not waited for: the
    source goes through pinned memory (PyTorch's caching host allocator keeps that block until the copy has
    run), since a copy from pageable memory may wait for the stream (CUDA runtime API, "API
    synchronization behavior"); the dtype is changed on the device."""
    device = torch.device(device)
    if t.device.type != "cpu" or device.type == "cpu":
        return t.to(device=device, dtype=dtype)
    if device.type == "cuda":
        t = t if t.is_pinned() else t.pin_memory()
    return t.to(device=device, non_blocking=True).to(dtype=dtype)


@functools.lru_cache(maxsize=512)
def index_on(indices: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """An int64 index tensor on ``device``, made once per (indices, device) instead of copied every batch.
    Shared: never modify it in place."""
    return torch.tensor(indices, dtype=torch.long, device=device)


def host_checks(device: torch.device) -> bool:
    """Whether a data-dependent shortcut (``if bool(mask.any())``) pays off on ``device``: on the CPU it is
    free; on an accelerator it waits for the queue, so the branch-free path is taken instead."""
    return device.type == "cpu"
