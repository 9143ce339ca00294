"""Skeleton augmentations: tensor-in, tensor-out callables for (N, M, T, V, C) batches or one
(M, T, V, C) sequence, on any device (random parameters are drawn per sample on the CPU from an
optional generator, so results are reproducible and identical on CPU and GPU). NaN (missing) joints
stay NaN.

Each is two steps, ``draw(shape, generator)`` (the random parameters of a batch of that shape, on the CPU)
then ``apply(x, params)`` (tensor ops only, no draws and no host reads of device values): calling it does
both, and :class:`Compose` draws all its transforms' parameters in the same order, so the draws can be
made outside a ``torch.compile`` graph with the same results.

Training passes them to the encoder (``S2IEncoder(..., augment=...)``), which applies them to the centred,
view-aligned joints: a rotation of raw joints would be undone by the encoder's view alignment."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from ..encode.device import host_checks, index_on, to_device
from ..formats import FormatSpec, get_format
from .augment_config import AugmentConfig

__all__ = ["AugmentConfig", "Compose", "RandomRotation", "RandomShear", "RandomScale", "RandomFlip",
           "JointDropout", "GaussianNoise", "build_augment", "seeded_generator"]


_Aug = TypeVar("_Aug", bound="_Transform")


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


class _Transform:
    """One augmentation of (N, M, T, V, C) batches: ``draw`` its parameters, ``apply`` them. The settings
    are dataclass fields, which also make the repr (e.g. ``RandomShear(magnitude=0.3)``)."""

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """The random parameters for a batch of ``shape`` (N, M, T, V, C), drawn on the CPU."""
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """``x`` (N, M, T, V, C) transformed with parameters from :meth:`draw` (on the CPU or x's device)."""
        raise NotImplementedError

    @_batched
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply(x, self.draw(x.shape, generator))


def seeded_generator(*parts: int) -> torch.Generator:
    """A CPU generator seeded by a tuple of ints, e.g. (seed, step, purpose): draws that a resumed run repeats."""
    return torch.Generator().manual_seed(hash(tuple(parts)) & 0x7FFF_FFFF_FFFF)


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand((n, *shape), generator=generator, dtype=torch.float64)


class _Linear(_Transform):
    """A transform that draws per-sample (N, C, C) matrices and multiplies every joint by its sample's."""

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """x (N, M, T, V, C) times the matrices (row vectors: x @ A^T)."""
        n, c = x.shape[0], x.shape[-1]
        a = to_device(params, x.device, x.dtype)
        return torch.bmm(x.reshape(n, -1, c), a.transpose(1, 2)).reshape(x.shape)


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[..., torch.Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> list[Any]:
        """Every transform's parameters for a batch of ``shape``, in order: the draws calling it would make
        (the transforms keep the shape). Transforms without ``draw`` cannot be split (TypeError)."""
        missing = [t for t in self.transforms if not isinstance(t, _Transform)]
        if missing:
            raise TypeError(f"cannot draw the parameters of {missing} ahead of applying them")
        return [t.draw(shape, generator) for t in self.transforms if isinstance(t, _Transform)]

    def apply(self, x: torch.Tensor, params: Sequence[Any]) -> torch.Tensor:
        """The transforms applied to ``x`` (N, M, T, V, C) with parameters from :meth:`draw`."""
        for t, p in zip(self.transforms, params, strict=True):
            assert isinstance(t, _Transform)
            x = t.apply(x, p)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"


@dataclass(eq=False, init=False)
class RandomRotation(_Linear):
    """Rotate each sample about the x, y, z axes by angles uniform in ±degrees (z only for 2D)."""

    degrees: tuple[float, ...]

    def __init__(self, degrees: float | tuple[float, float, float] = 30.0) -> None:
        self.degrees = (degrees,) * 3 if isinstance(degrees, (int, float)) else tuple(degrees)

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, C, C) float64 rotation matrices."""
        n, c = shape[0], shape[-1]
        lim = torch.tensor([math.radians(d) for d in self.degrees], dtype=torch.float64)
        ang = (torch.rand((n, 3), generator=generator, dtype=torch.float64) * 2 - 1) * lim
        cx, sx, cy, sy, cz, sz = (f(ang[:, i]) for i in range(3) for f in (torch.cos, torch.sin))
        one, zero = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(n, 3, 3)
        if c == 2:
            return rz[:, :2, :2]
        rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(n, 3, 3)
        ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(n, 3, 3)
        return rz @ ry @ rx


@dataclass(eq=False)
class RandomShear(_Linear):
    """Shear each sample: identity plus off-diagonal terms uniform in ±magnitude (AimCLR-style)."""

    magnitude: float = 0.3

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, C, C) float64 shear matrices."""
        n, c = shape[0], shape[-1]
        s = _uniform(n, -self.magnitude, self.magnitude, generator, c, c)
        eye = torch.eye(c, dtype=torch.float64)
        return eye + s * (1 - eye)


@dataclass(eq=False)
class RandomScale(_Transform):
    """Scale each sample by a factor uniform in [lo, hi] (all axes alike)."""

    scale: tuple[float, float] = (0.9, 1.1)

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """(N,) float64 factors."""
        return _uniform(shape[0], *self.scale, generator)

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return x * to_device(params, x.device, x.dtype).view(-1, 1, 1, 1, 1)


class RandomFlip(_Transform):
    """With probability p, mirror the sample: negate x and swap left/right joints of the format."""

    def __init__(self, fmt: str | FormatSpec, p: float = 0.5) -> None:
        self.spec = get_format(fmt)
        self.p = p
        self.perm = tuple(int(i) for i in self.spec.flip_indices)  # Python ints: constants of a compiled graph

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """(N,) bool: which samples are mirrored."""
        return torch.rand(shape[0], generator=generator) < self.p

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if params.device.type == "cpu" and host_checks(params.device) and not bool(params.any()):
            return x  # nothing to mirror (a free test of a CPU mask; not inside a compiled graph)
        mirrored = x[:, :, :, index_on(self.perm, x.device)].clone()
        mirrored[..., 0] = -mirrored[..., 0]
        return torch.where(to_device(params, x.device).view(-1, 1, 1, 1, 1), mirrored, x)

    def __repr__(self) -> str:
        return f"RandomFlip({self.spec.name}, p={self.p})"


@dataclass(eq=False)
class JointDropout(_Transform):
    """Mark each joint of each sample missing (NaN) for the whole sequence with probability p."""

    p: float = 0.1

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, M, 1, V, 1) bool: the joints dropped."""
        n, m, _, v, _ = shape
        return torch.rand((n, m, 1, v, 1), generator=generator) < self.p

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return x.masked_fill(to_device(params, x.device), float("nan"))


@dataclass(eq=False)
class GaussianNoise(_Transform):
    """Add N(0, std²) noise to every coordinate."""

    std: float = 0.01

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal float32 noise of ``shape``."""
        return torch.randn(tuple(shape), generator=generator, dtype=torch.float32)

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return x + self.std * to_device(params, x.device, x.dtype)


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
