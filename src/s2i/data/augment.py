"""Skeleton augmentations: tensor-in, tensor-out callables for (N, M, T, V, C) batches or one
(M, T, V, C) sequence, on any device (random parameters are drawn per sample on the CPU from an
optional generator, so results are reproducible and identical on CPU and GPU). NaN (missing) joints
stay NaN.

Training passes them to the encoder (``S2IEncoder(..., augment=...)``), which applies them to the centred,
view-aligned joints: a rotation of raw joints would be undone by the encoder's view alignment."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from ..encode.device import index_on, to_device
from ..formats import FormatSpec, get_format
from .augment_config import AugmentConfig

__all__ = ["AugmentConfig", "Compose", "RandomRotation", "RandomShear", "RandomScale", "RandomFlip",
           "JointDropout", "GaussianNoise", "build_augment", "seeded_generator"]


_Aug = TypeVar("_Aug")


def _batched(
    fn: Callable[[_Aug, torch.Tensor, torch.Generator | None], torch.Tensor],
) -> Callable[[_Aug, torch.Tensor, torch.Generator | None], torch.Tensor]:
    """Let a batch augmentation also take one (M, T, V, C) sequence."""

    def wrapper(self: _Aug, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if x.dim() == 4:
            return fn(self, x.unsqueeze(0), generator)[0]
        if x.dim() != 5:
            raise ValueError(f"expected (N, M, T, V, C) or (M, T, V, C), got shape {tuple(x.shape)}")
        return fn(self, x, generator)
    return wrapper


def seeded_generator(*parts: int) -> torch.Generator:
    """A CPU generator seeded by a tuple of ints, e.g. (seed, step, purpose): draws that a resumed run repeats."""
    return torch.Generator().manual_seed(hash(tuple(parts)) & 0x7FFF_FFFF_FFFF)


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand((n, *shape), generator=generator, dtype=torch.float64)


def _apply_linear(x: torch.Tensor, mats: torch.Tensor) -> torch.Tensor:
    """x (N, M, T, V, C) times per-sample (N, C, C) matrices (row vectors: x @ A^T)."""
    n, c = x.shape[0], x.shape[-1]
    a = to_device(mats, x.device, x.dtype)
    return torch.bmm(x.reshape(n, -1, c), a.transpose(1, 2)).reshape(x.shape)


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[..., torch.Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"


class RandomRotation:
    """Rotate each sample about the x, y, z axes by angles uniform in ±degrees (z only for 2D)."""

    def __init__(self, degrees: float | tuple[float, float, float] = 30.0) -> None:
        self.degrees = (degrees,) * 3 if isinstance(degrees, (int, float)) else tuple(degrees)

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, c = x.shape[0], x.shape[-1]
        lim = torch.tensor([math.radians(d) for d in self.degrees], dtype=torch.float64)
        ang = (torch.rand((n, 3), generator=generator, dtype=torch.float64) * 2 - 1) * lim
        cx, sx, cy, sy, cz, sz = (f(ang[:, i]) for i in range(3) for f in (torch.cos, torch.sin))
        one, zero = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(n, 3, 3)
        if c == 2:
            return _apply_linear(x, rz[:, :2, :2])
        rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(n, 3, 3)
        ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(n, 3, 3)
        return _apply_linear(x, rz @ ry @ rx)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees})"


class RandomShear:
    """Shear each sample: identity plus off-diagonal terms uniform in ±magnitude (AimCLR-style)."""

    def __init__(self, magnitude: float = 0.3) -> None:
        self.magnitude = magnitude

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, c = x.shape[0], x.shape[-1]
        s = _uniform(n, -self.magnitude, self.magnitude, generator, c, c)
        eye = torch.eye(c, dtype=torch.float64)
        return _apply_linear(x, eye + s * (1 - eye))

    def __repr__(self) -> str:
        return f"RandomShear(magnitude={self.magnitude})"


class RandomScale:
    """Scale each sample by a factor uniform in [lo, hi] (all axes alike)."""

    def __init__(self, scale: tuple[float, float] = (0.9, 1.1)) -> None:
        self.scale = scale

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        f = to_device(_uniform(x.shape[0], *self.scale, generator), x.device, x.dtype)
        return x * f.view(-1, 1, 1, 1, 1)

    def __repr__(self) -> str:
        return f"RandomScale(scale={self.scale})"


class RandomFlip:
    """With probability p, mirror the sample: negate x and swap left/right joints of the format."""

    def __init__(self, fmt: str | FormatSpec, p: float = 0.5) -> None:
        self.spec = get_format(fmt)
        self.p = p
        self.perm = self.spec.flip_indices

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        flip = torch.rand(x.shape[0], generator=generator) < self.p
        if not bool(flip.any()):
            return x
        mirrored = x[:, :, :, index_on(self.perm, x.device)].clone()
        mirrored[..., 0] = -mirrored[..., 0]
        return torch.where(to_device(flip, x.device).view(-1, 1, 1, 1, 1), mirrored, x)

    def __repr__(self) -> str:
        return f"RandomFlip({self.spec.name}, p={self.p})"


class JointDropout:
    """Mark each joint of each sample missing (NaN) for the whole sequence with probability p."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, m, _, v, _ = x.shape
        drop = to_device(torch.rand((n, m, 1, v, 1), generator=generator) < self.p, x.device)
        return x.masked_fill(drop, float("nan"))

    def __repr__(self) -> str:
        return f"JointDropout(p={self.p})"


class GaussianNoise:
    """Add N(0, std²) noise to every coordinate."""

    def __init__(self, std: float = 0.01) -> None:
        self.std = std

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = to_device(torch.randn(x.shape, generator=generator, dtype=torch.float32), x.device, x.dtype)
        return x + self.std * noise

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


def build_augment(config: AugmentConfig, spec: FormatSpec) -> Compose | None:
    """The configured augmentations for one format, in a fixed order (None when all are off)."""
    ts: list[Callable[..., torch.Tensor]] = []
    if config.flip > 0:
        ts.append(RandomFlip(spec, config.flip))
    if config.rotate > 0:
        ts.append(RandomRotation(config.rotate))
    if config.shear > 0:
        ts.append(RandomShear(config.shear))
    if config.scale is not None:
        ts.append(RandomScale(config.scale))
    if config.noise > 0:
        ts.append(GaussianNoise(config.noise))
    if config.joint_dropout > 0:
        ts.append(JointDropout(config.joint_dropout))
    return Compose(ts) if ts else None
