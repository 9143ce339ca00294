"""The training path (augmentations + encoder) never waits for the accelerator it runs on.

A ``bool(tensor)`` / ``.item()`` on a GPU tensor, or a blocking host-to-GPU copy, stalls until every kernel
queued before it has run; the H100 benchmark (docs/benchmarks.md) measured the encoder at 3.3 ms per batch
of 256, most of it such waits. Without a GPU here, the encoder runs on PyTorch's "meta" device, which holds
no data: any read of a device value raises, and a dispatch mode records every host -> device copy and
whether it was queued (non_blocking) or waited for.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from s2i.data import AugmentConfig, build_augment
from s2i.encode import S2IConfig, S2IEncoder, device
from s2i.formats import get_format
from s2i.testing.synthetic import synthetic_ntu


class BlockingCopies(TorchDispatchMode):
    """Records host -> device copies that wait for the device (non_blocking=False), and ops that mix a host
    tensor of one or more dimensions (e.g. an index list) with device tensors: the op copies it over."""

    def __init__(self) -> None:
        super().__init__()
        self.blocking: list[str] = []
        self.mixed: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        leaves = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        copies = (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default)
        on_device = any(t.device.type != "cpu" for t in leaves)
        if func not in copies and on_device and any(t.device.type == "cpu" and t.dim() for t in leaves):
            self.mixed.append(f"{func}: {[(tuple(t.shape), t.device.type) for t in leaves]}")
        if func is torch.ops.aten._to_copy.default:
            src, dev = args[0], kwargs.get("device")
            if dev is not None and src.device.type == "cpu" and torch.device(dev).type != "cpu" \
                    and not kwargs.get("non_blocking", False):
                self.blocking.append(f"_to_copy {tuple(src.shape)} -> {dev}")
        elif func is torch.ops.aten.copy_.default:
            dst, src = args[0], args[1]
            non_blocking = args[2] if len(args) > 2 else kwargs.get("non_blocking", False)
            if src.device.type == "cpu" and dst.device.type != "cpu" and not non_blocking:
                self.blocking.append(f"copy_ {tuple(src.shape)} -> {dst.device}")
        return func(*args, **kwargs)


def _case(fmt: str, dims: int, **cfg: Any) -> tuple[S2IEncoder, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    spec = get_format(fmt)
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 30, spec.num_joints, dims, generator=rng)
    x[1, 1] = float("nan")  # an absent second person
    x[2, 0, 5:9, 3] = float("nan")  # a gap inside a sequence: the general fill path
    conf = torch.rand(4, 2, 30, spec.num_joints, generator=rng) if dims == 2 else None
    config = S2IConfig(height=20, width=16, value_range="fixed", range_lo=(-3.0,) * 3, range_hi=(3.0,) * 3, **cfg)
    return S2IEncoder(fmt, config), x, torch.tensor([30, 20, 25, 12]), conf


CASES = {
    "ntu25 3D, two persons stacked, crop": ("ntu25", 3, {"persons": "stack", "temporal_crop": (0.5, 1.0)}),
    "kinect_v1 3D, first person, bone stream": ("kinect_v1", 3, {"persons": "first", "stream": "bone"}),
    "coco17 2D + confidence, mean of persons, motion": ("coco17", 2, {"persons": "mean", "stream": "motion"}),
    "ntu25 3D, scale by torso, bone motion": ("ntu25", 3, {"persons": "first", "scale": True,
                                                           "stream": "bone_motion"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_training_encode_reads_no_device_value_and_queues_every_copy(name, monkeypatch):
    fmt, dims, cfg = CASES[name]
    enc, x, lengths, conf = _case(fmt, dims, **cfg)
    aug = build_augment(AugmentConfig(rotate=15, shear=0.2, scale=(0.9, 1.1), flip=0.5, joint_dropout=0.1,
                                      noise=0.01), get_format(fmt))
    cpu = enc(x, lengths, conf, generator=torch.Generator().manual_seed(1), augment=aug)
    # the "is the value range set" check reads the range once per state of its buffers (tested below)
    monkeypatch.setattr(S2IEncoder, "_check_range", lambda self: None)
    # meta stands in for a CUDA device: its copies are queued the same way (without the pinning)
    monkeypatch.setattr(device, "QUEUED_COPY_DEVICES", frozenset({"cuda", "meta"}))
    meta = enc.to("meta")
    x_meta = x.to("meta")
    meta(x_meta, lengths, conf, generator=torch.Generator().manual_seed(1), augment=aug)  # caches index tensors
    created: list[str] = []  # tensors built from host data right on the device: a blocking copy inside

    def spy(real: Any) -> Any:
        def make(*args: Any, **kwargs: Any) -> torch.Tensor:
            if kwargs.get("device") is not None and torch.device(kwargs["device"]).type != "cpu":
                created.append(f"{real.__name__}(..., device={kwargs['device']})")
            return real(*args, **kwargs)
        return make

    monkeypatch.setattr(torch, "tensor", spy(torch.tensor))
    monkeypatch.setattr(torch, "as_tensor", spy(torch.as_tensor))
    mode = BlockingCopies()
    with mode:
        img = meta(x_meta, lengths, conf, generator=torch.Generator().manual_seed(1), augment=aug)
    assert img.device.type == "meta" and img.shape == cpu.shape
    assert mode.blocking == [], f"host -> device copies that wait for the device: {mode.blocking}"
    assert mode.mixed == [], f"host tensors used in device ops (copied over by the op): {mode.mixed}"
    assert created == [], f"device tensors made from host data on every call: {created}"


def test_value_range_check_reads_the_buffers_once_per_state():
    enc = S2IEncoder("ntu25", S2IConfig(height=20, width=16))  # value_range="dataset", not set yet
    x = torch.from_numpy(synthetic_ntu(2, 20, 1, seed=0))
    with pytest.raises(ValueError, match="needs the data set's range"):
        enc(x)
    enc.set_value_range((-2.0, -2.0, -2.0), (2.0, 2.0, 2.0))
    first = enc(x)
    calls = []
    real = torch.isnan

    def counting(t: torch.Tensor) -> torch.Tensor:
        if t is enc.range_lo or t is enc.range_hi:
            calls.append(t)
        return real(t)

    torch.isnan = counting  # type: ignore[assignment]
    try:
        torch.testing.assert_close(enc(x), first)
        assert calls == []  # checked when last set, not again
        enc.range_lo.fill_(float("nan"))  # a change in place is a new state: checked again
        with pytest.raises(ValueError, match="needs the data set's range"):
            enc(x)
        assert calls
    finally:
        torch.isnan = real  # type: ignore[assignment]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_training_encode_and_masking_on_cuda_never_synchronise():
    """On a GPU: after a warm-up call (cached index tensors, the value-range check), encoding with
    augmentations and MAE's random masking run with CUDA's sync debug mode set to raise."""
    from s2i.models.mae import random_masking

    enc, x, lengths, _ = _case("ntu25", 3, persons="stack", temporal_crop=(0.5, 1.0))
    aug = build_augment(AugmentConfig(rotate=15, shear=0.2, scale=(0.9, 1.1), flip=0.5), get_format("ntu25"))
    enc, xc = enc.cuda(), x.cuda()
    enc(xc, lengths, generator=torch.Generator().manual_seed(0), augment=aug)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        img = enc(xc, lengths, generator=torch.Generator().manual_seed(1), augment=aug)
        from s2i.encode.device import to_device
        keep_ids, mask, _ = random_masking(to_device(torch.rand(4, 36), img.device), 9)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert img.is_cuda and mask.is_cuda and keep_ids.shape == (4, 9)


def test_copies_to_devices_without_safe_queued_copies_are_plain():
    """MPS (and anything but CUDA) gets a plain blocking copy: a non_blocking copy to MPS can corrupt values."""
    t = torch.arange(6.0)
    for dev in ("meta", "cpu"):
        mode = BlockingCopies()
        with mode:
            out = device.to_device(t, dev, torch.float64)
        assert out.device.type == dev and out.dtype == torch.float64
    assert "mps" not in device.QUEUED_COPY_DEVICES and "cuda" in device.QUEUED_COPY_DEVICES
    mode = BlockingCopies()
    with mode:
        device.to_device(t, "meta")
    assert len(mode.blocking) == 1  # meta is not in QUEUED_COPY_DEVICES: a plain (blocking) copy


@pytest.mark.parametrize("width", [1, 7])
@pytest.mark.parametrize("crop", [None, (0.5, 1.0)])
def test_time_map_is_made_on_the_lengths_device(width, crop, monkeypatch):
    from s2i.encode.temporal import build_time_map

    monkeypatch.setattr(device, "QUEUED_COPY_DEVICES", frozenset({"cuda", "meta"}))
    lengths = torch.tensor([5, 9]).to("meta")
    mode = BlockingCopies()
    with mode:
        tm = build_time_map(lengths, width, crop=crop, generator=torch.Generator().manual_seed(0))
    assert tm.t0.device.type == tm.weight.device.type == "meta" and tm.t0.shape == (2, width)
    assert mode.mixed == [] and mode.blocking == []
