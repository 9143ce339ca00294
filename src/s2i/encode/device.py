"""Moves to the encoding device that do not wait for the GPU: a blocking host-to-GPU copy
(``t.to("cuda")``) and a ``bool(tensor)`` on the GPU each stall until every queued kernel has run, and the
encoder and the augmentations run every training step, between the model's kernels."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch

__all__ = ["QUEUED_COPY_DEVICES", "host_checks", "index_on", "to_device"]

#: device types that get queued host -> device copies. Not MPS: there a non_blocking copy from host memory
#: can read the buffer after it was freed and silently corrupt values (pytorch/pytorch#139550, #189690).
QUEUED_COPY_DEVICES = frozenset({"cuda"})


def to_device(t: torch.Tensor, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``t`` on ``device`` (as ``dtype``). From the CPU to a CUDA GPU the copy is queued, not waited for: the
    source goes through pinned memory (PyTorch's caching host allocator keeps that block until the copy has
    run), since a copy from pageable memory may wait for the stream (CUDA runtime API, "API
    synchronization behavior"); the dtype is changed on the device. Other devices: a plain ``.to``."""
    device = torch.device(device)
    if t.device.type != "cpu" or device.type not in QUEUED_COPY_DEVICES:
        return t.to(device=device, dtype=dtype)
    if device.type == "cuda" and not t.is_pinned():
        t = t.pin_memory()
    return t.to(device=device, non_blocking=True).to(dtype=dtype)


def index_on(indices: Iterable[int], device: torch.device | str) -> torch.Tensor:
    """An int64 index tensor on ``device``, made once per (indices, device) instead of copied every batch.
    Shared: never modify it in place. Inside a ``torch.compile`` graph it is a constant of the graph."""
    if torch.compiler.is_compiling():
        return torch.tensor([int(i) for i in indices], dtype=torch.long, device=device)
    return _cached_index(tuple(int(i) for i in indices), torch.device(device))


@functools.lru_cache(maxsize=512)
def _cached_index(indices: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor(indices, dtype=torch.long, device=device)


def host_checks(device: torch.device) -> bool:
    """Whether a data-dependent shortcut (``if bool(mask.any())``) pays off on ``device``: on the CPU it is
    free; on an accelerator it waits for the queue, and inside a ``torch.compile`` graph it would break the
    graph, so the branch-free path (same result) is taken instead."""
    return device.type == "cpu" and not torch.compiler.is_compiling()
