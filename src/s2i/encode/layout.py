"""The row map R (S2I.md 4b): which joints, with which weights, fill each image row.

Each image row is a blend of at most two joint slots, ``(1 - w) * x[idx0] + w * x[idx1]``, where a
slot is ``person * V + joint``. Persons are stacked as blocks of five body-part bands; within a band
the part's proximal-to-distal chain is resampled to the band's rows (shoulder at the top, hand at the
bottom), which is what lines heterogeneous formats up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..formats import PART_NAMES, FormatSpec

__all__ = ["RowMap", "band_sizes", "build_row_map", "chain_positions"]


@dataclass(frozen=True)
class RowMap:
    """Sparse rows: idx0, idx1 (H,) or (N, H) slot indices, weight of idx1 of the same shape."""

    idx0: torch.Tensor
    idx1: torch.Tensor
    weight: torch.Tensor
    slots: int

    def dense(self) -> torch.Tensor:
        """The matrix R, (H, slots) or (N, H, slots), for matmul application."""
        shape = (*self.idx0.shape, self.slots)
        r = torch.zeros(shape, dtype=self.weight.dtype, device=self.weight.device)
        r.scatter_add_(-1, self.idx0.unsqueeze(-1), (1 - self.weight).unsqueeze(-1))
        r.scatter_add_(-1, self.idx1.unsqueeze(-1), self.weight.unsqueeze(-1))
        return r

    def to(self, device: torch.device | str) -> RowMap:
        return RowMap(self.idx0.to(device), self.idx1.to(device), self.weight.to(device), self.slots)


def band_sizes(rows: int, parts: int = len(PART_NAMES)) -> list[int]:
    """Split ``rows`` into ``parts`` bands, the first ones one row larger (224 -> 45,45,45,45,44)."""
    base, extra = divmod(rows, parts)
    if base < 1:
        raise ValueError(f"{rows} rows cannot hold {parts} bands of at least one row")
    return [base + 1 if i < extra else base for i in range(parts)]


def chain_positions(n_joints: int, n_rows: int, resample: str,
                    fractions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Place ``n_rows`` rows along a chain of ``n_joints`` joints.

    Returns (i0, i1, w): chain indices and blend weight per row, shape (n_rows,), or (N, n_rows) when
    ``fractions`` (N, n_joints) gives each sequence's joint positions along the chain in [0, 1]
    (arclength): then rows sit at equal fractions of the chain's length.
    """
    u = torch.linspace(0.0, 1.0, n_rows, dtype=torch.float64) if n_rows > 1 else torch.zeros(1, dtype=torch.float64)
    if n_joints == 1:
        pos = torch.zeros_like(u) if fractions is None else torch.zeros(fractions.shape[0], n_rows, dtype=torch.float64)
    elif fractions is None:
        pos = u * (n_joints - 1)
    else:
        f = fractions.to(torch.float64)
        uu = u.expand(f.shape[0], n_rows).contiguous()
        k = (torch.searchsorted(f, uu, right=True) - 1).clamp(0, n_joints - 2)
        lo, hi = f.gather(1, k), f.gather(1, k + 1)
        t = torch.where(hi > lo, (uu - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(uu))
        pos = k + t.clamp(0.0, 1.0)
    if resample == "nearest":
        pos = torch.floor(pos + 0.5)
    i0 = pos.floor().long().clamp(0, n_joints - 1)
    i1 = (i0 + 1).clamp(max=n_joints - 1)
    w = (pos - i0).float()
    w = torch.where(i0 == i1, torch.zeros_like(w), w)
    return i0, i1, w


def _chains(spec: FormatSpec, layout: str, seed: int) -> list[np.ndarray]:
    if layout == "parts":
        return spec.part_indices
    order = np.arange(spec.num_joints)
    if layout == "random":
        order = np.random.default_rng(seed).permutation(spec.num_joints)
    elif layout != "raw":
        raise ValueError(f"unknown layout {layout!r}; expected parts, raw or random")
    return [order]


def build_row_map(spec: FormatSpec, height: int, persons: int = 2, layout: str = "parts",
                  part_resample: str = "linear", seed: int = 0,
                  chain_fractions: list[torch.Tensor] | None = None) -> RowMap:
    """Row map for one format: ``persons`` blocks of bands (parts) or one resized strip (raw/random).

    ``chain_fractions`` gives, per chain, each sequence's (N, n) joint positions along the chain in
    [0, 1] (part_resample=arclength); the map is then per sequence, (N, H).
    """
    if part_resample == "arclength" and chain_fractions is None:
        raise ValueError("part_resample=arclength needs chain_fractions (built per sequence)")
    chains = _chains(spec, layout, seed)
    v = spec.num_joints
    i0s, i1s, ws = [], [], []
    for p, block in enumerate(band_sizes(height, persons)):
        bands = band_sizes(block, len(chains)) if layout == "parts" else [block]
        for c, (chain, rows) in enumerate(zip(chains, bands)):
            frac = chain_fractions[c] if chain_fractions is not None else None
            mode = "linear" if part_resample == "arclength" else part_resample
            a, b, w = chain_positions(len(chain), rows, mode, frac)
            ch = torch.from_numpy(chain)
            i0s.append(p * v + ch[a])
            i1s.append(p * v + ch[b])
            ws.append(w)
    return RowMap(torch.cat(i0s, -1), torch.cat(i1s, -1), torch.cat(ws, -1), slots=persons * v)
