"""Persons: person slots (:func:`take_persons` cuts or pads the person axis) and ``persons: auto``
(S2I.md 7): ``stack`` when the data has any two-person sequence, else ``first``.

The rule is decided once per data set, before an encoder is built, so every batch of one data set gets
the same image layout:

- a prepared store: its statistics (``persons_per_sequence``: any sequence with two or more persons
  present) — :func:`store_has_two_person`;
- a batch of arrays (``encode()``, ``s2i encode FILE...``, ``estimate_value_range``): any sequence of
  the batch with a second person present (a person slot with at least one observed joint) —
  :func:`batch_has_two_person`.

An :class:`~s2i.encode.S2IEncoder` built with an unresolved ``auto`` sees no data, so it uses ``stack``
(the layout that holds any data); resolve first with :func:`resolve_persons` to get ``first`` on
single-person data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .config import S2IConfig

if TYPE_CHECKING:
    from ..store import SkeletonStore

__all__ = ["batch_has_two_person", "resolve_persons", "store_has_two_person", "take_persons"]


def resolve_persons(config: S2IConfig | None, has_two_person: bool) -> S2IConfig:
    """``config`` with ``persons='auto'`` replaced by ``stack`` (two-person data) or ``first``; other
    policies are returned unchanged."""
    config = config or S2IConfig()
    if config.persons != "auto":
        return config
    return config.model_copy(update={"persons": "stack" if has_two_person else "first"})


def batch_has_two_person(joints: Any) -> bool:
    """Whether any sequence of a batch (N, M, T, V, C) — or one sequence (M, T, V, C) — has a second
    person with at least one observed (finite) joint."""
    x = joints if isinstance(joints, torch.Tensor) else torch.as_tensor(np.asarray(joints))
    if x.dim() == 4:
        x = x.unsqueeze(0)
    if x.dim() != 5 or x.shape[1] < 2:
        return False
    return bool(torch.isfinite(x[:, 1:]).all(-1).any())


def store_has_two_person(store: SkeletonStore) -> bool:
    """Whether a prepared store has any sequence with two or more persons present (from its statistics;
    stores without them: from the index's person counts)."""
    stats = (store.manifest.get("stats") or {}).get("persons_per_sequence")
    if stats:
        return any(int(k) >= 2 and int(v) > 0 for k, v in stats.items())
    return bool(len(store) and int(store.index["persons"].max()) >= 2)


def take_persons(x: torch.Tensor, persons: int, dim: int = 0, fill: float = float("nan")) -> torch.Tensor:
    """The first ``persons`` entries of axis ``dim``, padded with ``fill`` when there are fewer.

    NaN marks an absent person (the encoder fills it with the centre, so it draws as "no motion").
    """
    m = x.shape[dim]
    if m >= persons:
        return x.narrow(dim, 0, persons)
    shape = list(x.shape)
    shape[dim] = persons - m
    return torch.cat([x, torch.full(shape, fill, dtype=x.dtype, device=x.device)], dim=dim)
