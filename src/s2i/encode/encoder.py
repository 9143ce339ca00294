"""S2IEncoder: a batch of skeletons (N, M, T, V, C) -> S2I images (N, 3, H, W), one torch implementation.

The pipeline (S2I.md): normalisation (by the main person) -> optional training augmentation -> person
selection -> missing-joint fill ->
stream -> value mapping to [0, 1] -> time map S (gather + lerp over frames) -> row map R (body-part bands). It runs on
whatever device its input lives on, so it can sit inside a GPU training step; :func:`encode` is the
NumPy boundary over the same code.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..formats import FormatSpec, get_format
from ..skeleton import SkeletonSequence, collate_sequences
from .config import S2IConfig
from .device import to_device
from .layout import RowMap, build_row_map
from .normalize import fill_missing, normalize
from .persons import batch_has_two_person, resolve_persons, take_persons
from .streams import apply_stream
from .temporal import TimeMap, build_time_map, draw_crop

__all__ = ["DESCRIPTION_VERSION", "Augment", "Draws", "S2IEncoder", "encode"]

#: a skeleton augmentation: (N, M, T, V, C) joints and a generator -> joints (see :mod:`s2i.data.augment`)
Augment = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]



@dataclass(frozen=True)
class Draws:
    """The random draws of one encode, made ahead of it (:meth:`S2IEncoder.draw`): the temporal crop's
    uniforms and the augmentation's parameters. An encode given them draws nothing, so it can run inside
    one ``torch.compile`` graph, and makes the images it would have made drawing them itself."""

    crop: torch.Tensor | None = None
    augment: Any = None

    def to(self, device: torch.device | str) -> Draws:
        """The draws on ``device`` (queued copies to a GPU: see :func:`~s2i.encode.device.to_device`)."""
        return Draws(_move(self.crop, device), _move(self.augment, device))


def _move(obj: Any, device: torch.device | str) -> Any:
    if isinstance(obj, torch.Tensor):
        return to_device(obj, device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device) for o in obj)
    return obj


#: version of the encoder description (:meth:`S2IEncoder.describe`); bump on incompatible changes
DESCRIPTION_VERSION = 1


class S2IEncoder(nn.Module):
    """Encode skeleton batches of one format into S2I images.

    forward(joints (N, M, T, V, C), lengths (N,) = valid frames per sequence, confidence (N, M, T, V)
    for 2D data) -> (N, 3, H, W) float in [0, 1]. Rows = body-part bands per person, columns = time.
    """

    range_lo: torch.Tensor
    range_hi: torch.Tensor
    row_idx0: torch.Tensor
    row_idx1: torch.Tensor
    row_weight: torch.Tensor

    def __init__(self, fmt: str | FormatSpec, config: S2IConfig | None = None, **options: Any) -> None:
        super().__init__()
        self.spec = get_format(fmt)
        cfg = config or S2IConfig()
        cfg = S2IConfig(**{**cfg.model_dump(), **options}) if options else cfg
        # persons='auto' is resolved from data before an encoder is built (encode/persons.py); an encoder
        # built without data uses stack, deterministically
        self.config = resolve_persons(cfg, True)
        c = self.config
        if c.part_resample != "arclength":
            rows = build_row_map(self.spec, c.height, c.image_persons, c.layout, c.part_resample, c.layout_seed)
            self.register_buffer("row_idx0", rows.idx0, persistent=False)
            self.register_buffer("row_idx1", rows.idx1, persistent=False)
            self.register_buffer("row_weight", rows.weight, persistent=False)
        lo, hi = c.range_lo, c.range_hi
        if c.value_range == "fixed":
            lo, hi = lo or (-1.0, -1.0, -1.0), hi or (1.0, 1.0, 1.0)
        # the value range is state: it travels in state_dict, so a checkpoint re-creates the same images
        self.register_buffer("range_lo", torch.tensor(lo if lo else [float("nan")] * 3))
        self.register_buffer("range_hi", torch.tensor(hi if hi else [float("nan")] * 3))
        self._range_checked: tuple[Any, ...] | None = None  # the range buffers last found set (see _check_range)

    # --- the encoder as data: (format spec, config, value range) -----------------------------
    def describe(self) -> dict[str, Any]:
        """Everything that fixes the images: the format spec, the config and the value range (JSON-able).

        :meth:`from_description` re-creates an encoder that makes identical images; save it next to
        exported weights (:meth:`save`) so a checkpoint alone is enough to encode new data.
        """
        lo, hi = self.range_lo.tolist(), self.range_hi.tolist()
        has_range = not any(map(math.isnan, lo + hi))
        return {
            "kind": "s2i-encoder",
            "version": DESCRIPTION_VERSION,
            "format": self.spec.to_dict(),
            "config": self.config.model_dump(mode="json", exclude={"range_lo", "range_hi"}),
            "value_range": {"lo": lo, "hi": hi} if has_range else None,
        }

    @classmethod
    def from_description(cls, data: dict[str, Any]) -> S2IEncoder:
        """Re-create an encoder from :meth:`describe` output (a dict, e.g. read from JSON)."""
        if not isinstance(data, dict) or data.get("kind") != "s2i-encoder":
            raise ValueError("not an S2I encoder description (expected a dict with kind='s2i-encoder')")
        if int(data.get("version", 0)) > DESCRIPTION_VERSION:
            raise ValueError(f"encoder description version {data['version']} is newer than this s2i supports"
                             f" ({DESCRIPTION_VERSION}); upgrade s2i")
        spec = FormatSpec.from_dict(data["format"], source="<encoder description>")
        vr = data.get("value_range") or {}
        return cls(spec, S2IConfig(**data["config"], range_lo=vr.get("lo"), range_hi=vr.get("hi")))

    def save(self, path: str | Path) -> Path:
        """Write :meth:`describe` as JSON (atomically)."""
        from ..atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.describe(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> S2IEncoder:
        """Re-create an encoder from a JSON file written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read the encoder description ({e})") from None
        try:
            return cls.from_description(data)
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: {e}") from None

    # --- configuration -------------------------------------------------------------------
    def set_value_range(self, lo: Any, hi: Any) -> None:
        """Set the data-set-level value range (per channel), e.g. from a prepared store's statistics."""
        for name, value in (("range_lo", lo), ("range_hi", hi)):
            buf = getattr(self, name)
            new = torch.as_tensor(value, dtype=torch.float32).reshape(3)
            if buf.is_inference() and not torch.is_inference_mode_enabled():
                # made under torch.inference_mode(): such a tensor cannot be changed in place outside it
                setattr(self, name, new.to(buf.device))
            else:
                buf.copy_(new)
        self._range_checked = None

    @property
    def value_range(self) -> tuple[list[float], list[float]] | None:
        """The (lo, hi) per-channel range in use, or None when none is set."""
        lo, hi = self.range_lo.tolist(), self.range_hi.tolist()
        return None if any(map(math.isnan, lo + hi)) else (lo, hi)

    # --- stages --------------------------------------------------------------------------
    def stream_values(self, joints: torch.Tensor, lengths: torch.Tensor | None = None,
                      confidence: torch.Tensor | None = None, augment: Augment | None = None,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised stream values before layout: ((N, P, T, V, 3), lengths (N,)).

        P is the number of person blocks in the image; the third channel of 2D data is confidence.
        ``augment`` (training) transforms the normalised joints: see :meth:`forward`.
        """
        x = self._check(joints)
        lengths = _lengths_on(x, lengths)
        x = self.normalize(x)
        if augment is not None:
            x = augment(x, generator)
        return self._streams(x, lengths, confidence), lengths

    def normalize(self, joints: torch.Tensor) -> torch.Tensor:
        """Centre, view-align and scale (as configured) by the main person: the frame augmentations act in."""
        c = self.config
        x = self._check(joints)
        rotate = (x.shape[-1] == 3) if c.rotate is None else (c.rotate and x.shape[-1] == 3)
        return normalize(x, self.spec, center=c.center, rotate=rotate, scale=c.scale)

    def _streams(self, x: torch.Tensor, lengths: torch.Tensor, confidence: torch.Tensor | None) -> torch.Tensor:
        """Normalised joints -> person blocks, missing joints filled, the configured stream (+ 2D confidence)."""
        c = self.config
        dims = x.shape[-1]
        if dims == 2:
            conf = (~torch.isnan(x).any(-1)).to(x.dtype) if confidence is None else to_device(confidence, x.device,
                                                                                              x.dtype)
        p = c.image_persons
        if c.persons != "mean":
            x = take_persons(x, p, dim=1)
            if dims == 2:
                conf = take_persons(conf, p, dim=1)
        if c.persons == "mean":  # average over the persons present in the sequence, not the padding
            present = (~torch.isnan(x).all(dim=(2, 3, 4))).to(x.dtype)  # (N, M)
        x = apply_stream(fill_missing(x), self.spec, c.stream, lengths)
        if dims == 2:
            x = torch.cat([x, torch.nan_to_num(conf, nan=0.0).unsqueeze(-1)], dim=-1)
        if c.persons == "mean":
            w = present / present.sum(dim=1, keepdim=True).clamp_min(1.0)
            x = torch.einsum("nmtvc,nm->ntvc", x, w).unsqueeze(1)
        return x

    def _value_map(self, x: torch.Tensor, lengths: torch.Tensor, dims: int) -> torch.Tensor:
        """Map values to [0, 1] with the data-set, fixed or per-sequence range (S2I.md 5)."""
        if self.config.value_range == "sequence":
            t = torch.arange(x.shape[2], device=x.device)
            inside = (t[None, :] < lengths[:, None])[:, None, :, None, None]
            lo = torch.where(inside, x, torch.inf).amin(dim=(1, 2, 3), keepdim=True)
            hi = torch.where(inside, x, -torch.inf).amax(dim=(1, 2, 3), keepdim=True)
        else:
            self._check_range()
            lo, hi = self.range_lo.to(x.dtype), self.range_hi.to(x.dtype)
        if dims == 2:  # the confidence channel is already in [0, 1]
            lo, hi = lo.clone(), hi.clone()
            lo[..., 2], hi[..., 2] = 0.0, 1.0
        scale = 1.0 / torch.clamp(hi - lo, min=1e-6)
        return ((x - lo) * scale).clamp_(0.0, 1.0)

    def _check_range(self) -> None:
        """A clear error when the value range was never set (NaN), checked once per state of the range
        buffers (any in-place change or move makes a new state): reading it on a GPU waits for the queue.

        Buffers made under ``torch.inference_mode()`` have no version counter: their state is the tensor
        itself, renewed by :meth:`set_value_range` and ``load_state_dict``."""
        if torch.compiler.is_compiling():
            return  # checked by draw(), outside the graph
        lo, hi = self.range_lo, self.range_hi
        state = (id(lo), _version(lo), id(hi), _version(hi), lo.device)
        if state == self._range_checked:
            return
        if torch.isnan(lo).any() or torch.isnan(hi).any():
            raise ValueError(
                "value_range='dataset' needs the data set's range: pass range_lo/range_hi, call"
                " set_value_range() (e.g. with s2i.encode.estimate_value_range on training data),"
                " or use value_range='fixed' or 'sequence'"
            )
        self._range_checked = state

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._range_checked = None  # a loaded range is checked again on the next call

    def row_map(self, x: torch.Tensor | None = None) -> RowMap:
        """The row map: the cached one, or per sequence (arclength) from its mean limb lengths."""
        c = self.config
        if c.part_resample != "arclength":
            return RowMap(self.row_idx0, self.row_idx1, self.row_weight, c.image_persons * self.spec.num_joints)
        if x is None:
            raise ValueError("part_resample=arclength builds the row map per sequence: pass the batch")
        return build_row_map(self.spec, c.height, c.image_persons, c.layout, "arclength", c.layout_seed,
                             _chain_fractions(x, self.spec, c.layout)).to(x.device)

    def draw(self, shape: Sequence[int], generator: torch.Generator | None = None,
             augment: Augment | None = None) -> Draws:
        """The random draws of encoding a batch of ``shape`` (N, M, T, V, C) with ``augment``, in the order
        :meth:`forward` makes them (the temporal crop's, then the augmentation's ``draw``); also checks the
        value range. ``forward(..., augment=augment, draws=...)`` then draws nothing and reads nothing back
        from the device: what ``torch.compile`` can take as one graph."""
        if self.config.value_range != "sequence":
            self._check_range()
        crop = draw_crop(int(shape[0]), generator) if self.config.temporal_crop is not None else None
        params = None
        if augment is not None:
            split = getattr(augment, "draw", None)
            if not callable(split):
                raise TypeError(f"the augmentation {augment!r} has no draw(shape, generator): its draws cannot"
                                " be made ahead of the encode")
            params = split(tuple(shape), generator)
        return Draws(crop, params)

    def forward(self, joints: torch.Tensor, lengths: torch.Tensor | None = None,
                confidence: torch.Tensor | None = None, generator: torch.Generator | None = None,
                method: str = "auto", out: torch.Tensor | None = None, chunk: int | None = None,
                augment: Augment | None = None, draws: Draws | None = None) -> torch.Tensor:
        """(N, M, T, V, C) -> (N, 3, H, W) in [0, 1].

        method: 'gather' (index + lerp, fastest on CPU), 'matmul' (R @ Y, for GPUs) or 'auto'.
        out: optional preallocated (N, 3, H, W) result. chunk: sequences encoded at a time (default:
        16 on CPU, so temporaries stay small and reused; the whole batch on GPU).
        augment: a training augmentation (e.g. :class:`s2i.data.Compose`) applied to the whole batch of
        normalised joints, after centring and view alignment: a rotation applied to raw joints would be
        undone by the alignment. Its random draws come from ``generator`` after the temporal crop's.
        draws: the crop's and augmentation's draws made ahead (:meth:`draw`); ``generator`` is then unused.
        Runs in float32 also inside a mixed-precision (autocast) region: the images are geometry, not features.
        """
        with _no_autocast(joints.device.type):
            return self._forward(joints, lengths, confidence, generator, method, out, chunk, augment, draws)

    def _forward(self, joints: torch.Tensor, lengths: torch.Tensor | None, confidence: torch.Tensor | None,
                 generator: torch.Generator | None, method: str, out: torch.Tensor | None, chunk: int | None,
                 augment: Augment | None, draws: Draws | None) -> torch.Tensor:
        c = self.config
        x = self._check(joints)
        n = x.shape[0]
        lengths = _lengths_on(x, lengths)
        if lengths.shape != (n,):
            raise ValueError(f"lengths must have shape (N,) = ({n},), got {tuple(lengths.shape)}")
        if method == "auto":
            method = "gather" if x.device.type == "cpu" else "matmul"
        if draws is None and (augment is None or callable(getattr(augment, "apply", None))):
            draws = self.draw(x.shape, generator, augment)
        if draws is not None and draws.augment is not None and augment is None:
            raise ValueError("draws with augmentation parameters need the augmentation (augment=)")
        tm = build_time_map(lengths, c.width, c.time_resample, c.temporal_crop, generator,
                            None if draws is None else draws.crop)
        if augment is not None:  # once for the whole batch, so the draws do not depend on the chunking
            x = self.normalize(x)
            x = augment(x, generator) if draws is None else augment.apply(x, draws.augment)  # type: ignore[attr-defined]
        if out is None:
            out = torch.empty((n, 3, c.height, c.width), dtype=x.dtype, device=x.device)
        step = chunk or (16 if x.device.type == "cpu" else max(n, 1))
        scratch = None
        if method == "gather":
            block = ROW_BLOCK if x.device.type == "cpu" else step
            scratch = torch.empty(min(block, n) * out[0].numel(), dtype=out.dtype, device=out.device)
        for s in range(0, n, step):
            e = min(s + step, n)
            conf = None if confidence is None else confidence[s:e]
            self._encode_chunk(x[s:e], lengths[s:e], conf, TimeMap(tm.t0[s:e], tm.t1[s:e], tm.weight[s:e]),
                               method, out[s:e], scratch, normalized=augment is not None)
        return out

    def _encode_chunk(self, x: torch.Tensor, lengths: torch.Tensor, confidence: torch.Tensor | None,
                      tm: TimeMap, method: str, out: torch.Tensor, scratch: torch.Tensor | None,
                      normalized: bool = False) -> None:
        c = self.config
        dims = x.shape[-1]
        values = self._streams(x if normalized else self.normalize(x), lengths, confidence)
        rows = self.row_map(x if c.part_resample == "arclength" else None)
        values = self._value_map(values, lengths, dims)
        n, p, t, v, ch = values.shape
        # time map S: two frames per column, blended -> (N, C, P*V, W)
        flat = values.permute(0, 2, 1, 3, 4).reshape(n * t, p * v * ch)
        base = (torch.arange(n, device=x.device) * t)[:, None]
        f0 = flat.index_select(0, (tm.t0 + base).reshape(-1))
        f1 = flat.index_select(0, (tm.t1 + base).reshape(-1))
        cols = torch.lerp(f0, f1, tm.weight.reshape(-1, 1), out=f0)
        y = cols.reshape(n, c.width, p * v, ch).permute(0, 3, 2, 1).contiguous()
        _apply_rows(y, rows, method, out, scratch)

    def _check(self, joints: torch.Tensor) -> torch.Tensor:
        if joints.dim() != 5:
            raise ValueError(f"expected joints of shape (N, M, T, V, C), got {tuple(joints.shape)}")
        v, dims = joints.shape[-2:]
        if v != self.spec.num_joints:
            raise ValueError(
                f"format {self.spec.name!r} has {self.spec.num_joints} joints but the input has V={v}"
                f" (shape {tuple(joints.shape)})"
            )
        if dims not in (2, 3):
            raise ValueError(f"expected C = 2 or 3 coordinates, got {dims}")
        return joints if joints.is_floating_point() else joints.float()

    def extra_repr(self) -> str:
        return f"format={self.spec.name}, config={self.config.model_dump()}"


def _lengths_on(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Valid frames per sequence, int64 on the batch's device (all T frames when not given)."""
    if lengths is None:
        return torch.full((x.shape[0],), x.shape[2], device=x.device)
    return to_device(lengths, x.device).long()


def _version(t: torch.Tensor) -> int | None:
    """The in-place version counter of ``t``; None for an inference tensor, which keeps none."""
    return None if t.is_inference() else t._version


def _no_autocast(device_type: str) -> contextlib.AbstractContextManager[Any]:
    """Autocast switched off on ``device_type``; nothing to switch off where it has none (e.g. meta)."""
    try:
        return torch.autocast(device_type, enabled=False)
    except (RuntimeError, ValueError):
        return contextlib.nullcontext()


def _chain_fractions(x: torch.Tensor, spec: FormatSpec, layout: str) -> list[torch.Tensor]:
    """Per sequence and chain: cumulative mean limb length along the chain, normalised to [0, 1]."""
    from .layout import _chains  # the chain order belongs to the layout module

    xs = x[:, 0]  # main person, (N, T, V, C)
    out = []
    for chain in _chains(spec, layout, 0):
        ch = torch.as_tensor(chain, device=x.device)
        seg = torch.linalg.vector_norm(xs[:, :, ch[1:]] - xs[:, :, ch[:-1]], dim=-1)  # (N, T, n-1)
        seg = torch.nan_to_num(torch.nanmean(seg, dim=1), nan=0.0)
        cum = torch.cat([torch.zeros_like(seg[:, :1]), seg.cumsum(-1)], dim=-1)
        total = cum[:, -1:]
        even = torch.linspace(0, 1, len(chain), device=x.device).expand_as(cum)
        out.append(torch.where(total > 1e-9, cum / total.clamp_min(1e-9), even).cpu())
    return out


#: sequences per row-gather block on CPU: small enough that a block's output and scratch stay in cache
ROW_BLOCK = 2


def _apply_rows(y: torch.Tensor, rows: RowMap, method: str, out: torch.Tensor,
                scratch: torch.Tensor | None = None) -> None:
    """Apply the row map to y (N, C, S, W), writing (N, C, H, W) into ``out`` (contiguous).

    gather: per block of sequences, out <- y[idx0]; scratch <- y[idx1]; out <- lerp(out, scratch, w).
    The blocks are small, so the three passes run in cache and the output reaches memory once; the
    one reused scratch buffer keeps the CPU path free of fresh page-faulting allocations.
    """
    n, ch, _, w = y.shape
    if method == "matmul":
        r = rows.dense().to(y.dtype)
        torch.matmul(r if r.dim() == 2 else r[:, None], y, out=out)
        return
    if method != "gather":
        raise ValueError(f"unknown method {method!r}; expected auto, gather or matmul")
    per_seq = out[0].numel()
    block = max(1, (scratch.numel() // per_seq) if scratch is not None else n)
    if scratch is None:
        scratch = torch.empty(block * per_seq, dtype=out.dtype, device=out.device)
    wt = (rows.weight[:, None] if rows.idx0.dim() == 1 else rows.weight[:, None, :, None]).to(y.dtype)
    for s in range(0, n, block):
        e = min(s + block, n)
        o, b, ys = out[s:e], scratch[: (e - s) * per_seq].view(e - s, *out.shape[1:]), y[s:e]
        if rows.idx0.dim() == 1:
            torch.index_select(ys, 2, rows.idx0, out=o)
            torch.index_select(ys, 2, rows.idx1, out=b)
            torch.lerp(o, b, wt, out=o)
        else:  # one map per sequence (arclength)
            h = rows.idx0.shape[1]
            torch.gather(ys, 2, rows.idx0[s:e, None, :, None].expand(e - s, ch, h, w), out=o)
            torch.gather(ys, 2, rows.idx1[s:e, None, :, None].expand(e - s, ch, h, w), out=b)
            torch.lerp(o, b, wt[s:e], out=o)


def _as_tensor(a: Any, device: torch.device | str | None, dtype: torch.dtype | None = None) -> torch.Tensor | None:
    if a is None:
        return None
    t = torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else torch.as_tensor(a)
    return t.to(device=device, dtype=dtype) if (device is not None or dtype is not None) else t


def _one_format(fmt: str | FormatSpec | None, format: str | FormatSpec | None) -> str | FormatSpec | None:
    """The format named by ``fmt`` or ``format`` (the same keyword as ``embed``); both only when they agree."""
    if fmt is not None and format is not None and fmt != format:
        raise ValueError(f"encode: fmt={fmt!r} and format={format!r} name different formats; pass one of them")
    return fmt if fmt is not None else format


def encode(joints: np.ndarray | torch.Tensor | SkeletonSequence | Sequence[SkeletonSequence],
           fmt: str | FormatSpec | None = None, config: S2IConfig | None = None,
           lengths: Any = None, confidence: Any = None, device: str | torch.device | None = None,
           generator: torch.Generator | None = None, *, format: str | FormatSpec | None = None,
           **options: Any) -> np.ndarray | torch.Tensor:
    """Encode a batch (N, M, T, V, C) — or one sequence (M, T, V, C) — to S2I images.

    The skeleton format is ``fmt`` or, the keyword of ``embed``/``tokens``, ``format`` (either one).

    NumPy in gives NumPy out (float32 (N, 3, H, W) in [0, 1]); a tensor in gives a tensor out. The
    same torch code runs underneath, on ``device`` (default: the input's device, CPU for NumPy).
    A :class:`SkeletonSequence` (→ (3, H, W)) or a list of them of one format (→ (N, 3, H, W), padded
    with :func:`collate_sequences`) brings its own format, lengths and confidence.
    """
    fmt = _one_format(fmt, format)
    if isinstance(joints, SkeletonSequence) or (isinstance(joints, (list, tuple)) and joints
                                                and all(isinstance(s, SkeletonSequence) for s in joints)):
        seqs = [joints] if isinstance(joints, SkeletonSequence) else list(joints)
        batch = collate_sequences(seqs)
        imgs = encode(batch.joints, fmt if fmt is not None else batch.format, config, batch.lengths,
                      batch.confidence, device, generator, **options)
        return imgs[0] if isinstance(joints, SkeletonSequence) else imgs
    if fmt is None:
        raise ValueError("encode: name the skeleton format of a joint array (format='ntu25' or a spec file)")
    is_np = isinstance(joints, np.ndarray)
    x = _as_tensor(joints, device, torch.float32)
    assert x is not None
    single = x.dim() == 4
    if single:
        x = x.unsqueeze(0)
        confidence = None if confidence is None else np.asarray(confidence)[None] if is_np else confidence[None]
    cfg = config or S2IConfig()
    cfg = S2IConfig(**{**cfg.model_dump(), **options}) if options else cfg
    enc = S2IEncoder(fmt, resolve_persons(cfg, batch_has_two_person(x))).to(x.device)
    ln = _as_tensor(lengths, x.device, torch.long)
    if ln is not None and ln.dim() == 0:
        ln = ln[None]
    with torch.no_grad():
        img = enc(x, ln, _as_tensor(confidence, x.device, torch.float32), generator=generator)
    if single:
        img = img[0]
    return img.cpu().numpy() if is_np else img
