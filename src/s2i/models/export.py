"""Exported encoders: the pretrained backbone plus the S2I encoder(s) that make its input, loadable in one call.

Folder layout written by :func:`export_encoder` (``RUN/encoder/`` after ``s2i pretrain``)::

    encoder.safetensors   the timm backbone's state dict (timm key names, no classifier head); also a valid
                          ``--init`` file for ``create_backbone`` / ``s2i pretrain``
    encoder.json          {"kind": "s2i-exported-encoder", "version": 1,
                           "backbone": timm model name, "backbone_kwargs": extra timm kwargs (depth, ...),
                           "img_size": [H, W], "patch_size": p, "embed_dim": D,
                           "mean": [3], "std": [3]  (the backbone's input normalisation of [0, 1] images),
                           "formats": {format name: S2IEncoder.describe()}  (spec + config + value range),
                           "info": {free-form provenance: run, step, loss, ...}}

:func:`load_exported` returns an :class:`ExportedEncoder` module: ``features(joints, fmt, lengths)`` makes the
S2I images on the input's device with that format's encoder, normalises them and returns the pooled
backbone features (N, D); ``images(...)`` and ``backbone`` are there for fine-tuning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..encode import S2IEncoder
from .backbone import create_backbone

__all__ = ["EXPORT_VERSION", "ExportedEncoder", "export_encoder", "load_exported", "read_description"]

EXPORT_VERSION = 1
WEIGHTS, META = "encoder.safetensors", "encoder.json"


def export_encoder(out: str | Path, backbone: Any, backbone_name: str,
                   encoders: Iterable[S2IEncoder] | Mapping[str, S2IEncoder],
                   backbone_kwargs: Mapping[str, Any] | None = None, mean: Iterable[float] | None = None,
                   std: Iterable[float] | None = None, info: Mapping[str, Any] | None = None) -> Path:
    """Write ``encoder.safetensors`` + ``encoder.json`` into folder ``out`` (see the module docstring).

    ``backbone_kwargs``: the timm kwargs besides img_size/patch_size that rebuild the architecture.
    ``mean``/``std`` default to the backbone's pretrained config. Returns the folder.
    """
    from safetensors.torch import save_file

    from ..atomic import atomic_path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    encs = list(encoders.values()) if isinstance(encoders, Mapping) else list(encoders)
    if not encs:
        raise ValueError("export needs at least one S2I encoder (the images the backbone was trained on)")
    cfg = getattr(backbone, "pretrained_cfg", {}) or {}
    pe = backbone.patch_embed
    img = [int(s) for s in pe.img_size]
    for e in encs:
        if (e.config.height, e.config.width) != tuple(img):
            raise ValueError(f"encoder {e.spec.name!r} makes {e.config.height}x{e.config.width} images but the"
                             f" backbone takes {img[0]}x{img[1]}")
    meta = {
        "kind": "s2i-exported-encoder",
        "version": EXPORT_VERSION,
        "backbone": backbone_name,
        "backbone_kwargs": dict(backbone_kwargs or {}),
        "img_size": img,
        "patch_size": int(pe.patch_size[0]),
        "embed_dim": int(backbone.embed_dim),
        "mean": [float(v) for v in (mean if mean is not None else cfg.get("mean", (0.485, 0.456, 0.406)))],
        "std": [float(v) for v in (std if std is not None else cfg.get("std", (0.229, 0.224, 0.225)))],
        "formats": {e.spec.name: e.describe() for e in encs},
        "info": dict(info or {}),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"backbone": backbone_name})
    with atomic_path(out / META) as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n")
    return out


class ExportedEncoder(nn.Module):
    """A pretrained backbone with the S2I encoder of every format it was trained on.

    ``features(joints (N, M, T, V, C), fmt, lengths)`` -> pooled features (N, embed_dim);
    ``images(...)`` -> the normalised input images; ``backbone`` is the timm model (no head).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, backbone: nn.Module, encoders: Mapping[str, S2IEncoder], mean: Iterable[float],
                 std: Iterable[float], meta: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = backbone
        self.encoders = nn.ModuleDict(dict(encoders))
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1))
        self.meta = dict(meta)

    @property
    def formats(self) -> list[str]:
        return list(self.encoders.keys())

    @property
    def embed_dim(self) -> int:
        return int(self.meta["embed_dim"])

    def encoder(self, fmt: str | None = None) -> S2IEncoder:
        """The S2I encoder of format ``fmt`` (may be omitted when there is only one)."""
        if fmt is None:
            if len(self.encoders) != 1:
                raise ValueError(f"this encoder was trained on several formats {self.formats}: name one")
            fmt = self.formats[0]
        if fmt not in self.encoders:
            raise ValueError(f"format {fmt!r} is not one this encoder was trained on ({self.formats});"
                             " build an S2IEncoder for it with the same config and a value range")
        enc = self.encoders[fmt]
        assert isinstance(enc, S2IEncoder)
        return enc

    def images(self, joints: torch.Tensor, fmt: str | None = None, lengths: torch.Tensor | None = None,
               confidence: torch.Tensor | None = None) -> torch.Tensor:
        """Skeletons -> normalised backbone input (N, 3, H, W), made on the joints' device."""
        return self.normalize(self.encoder(fmt)(joints, lengths, confidence))

    def normalize(self, img: torch.Tensor) -> torch.Tensor:
        """[0, 1] S2I images -> the backbone's input (its own mean/std, as for photos)."""
        return (img - self.mean.to(img.dtype)) / self.std.to(img.dtype)

    def features(self, joints: torch.Tensor, fmt: str | None = None, lengths: torch.Tensor | None = None,
                 confidence: torch.Tensor | None = None) -> torch.Tensor:
        """Skeletons -> pooled backbone features (N, embed_dim) (the backbone's own pooling, no head)."""
        x = self.backbone.forward_features(self.images(joints, fmt, lengths, confidence))  # type: ignore[operator]
        return self.backbone.forward_head(x, pre_logits=True)  # type: ignore[operator]

    forward = features


def read_description(path: str | Path, name: str, kind: str, what: str, version: int = 1) -> dict[str, Any]:
    """The JSON file ``name`` of a folder (or of the folder holding a given file), checked to be of ``kind``
    (``what`` names it in errors) and of a version this s2i reads."""
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder} (expected {what})")
    if folder.is_file():
        folder = folder.parent
    try:
        meta = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{folder}: not {what} (cannot read {name}: {e})") from None
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        raise ValueError(f"{folder / name}: not {what} description")
    if int(meta.get("version", 0)) > version:
        raise ValueError(f"{folder / name}: version {meta['version']} is newer than this s2i; upgrade s2i")
    return dict(meta)


def read_export_meta(path: str | Path) -> dict[str, Any]:
    """The ``encoder.json`` of an exported folder (or of the folder holding a given file)."""
    return read_description(path, META, "s2i-exported-encoder", "an exported s2i encoder", EXPORT_VERSION)


def load_exported(path: str | Path, device: str | torch.device = "cpu") -> ExportedEncoder:
    """Load an exported folder (or a run folder holding ``encoder/``) -> :class:`ExportedEncoder` in eval mode."""
    from safetensors.torch import load_file

    folder = Path(path)
    if folder.is_dir() and not (folder / META).exists() and (folder / "encoder" / META).exists():
        folder = folder / "encoder"
    meta = read_export_meta(folder)
    backbone, _ = create_backbone(meta["backbone"], img_size=tuple(meta["img_size"]),
                                  patch_size=meta["patch_size"], **meta.get("backbone_kwargs", {}))
    backbone.load_state_dict(load_file(str(folder / WEIGHTS)), strict=True)
    encoders = {name: S2IEncoder.from_description(d) for name, d in meta["formats"].items()}
    model = ExportedEncoder(backbone, encoders, meta["mean"], meta["std"], meta)
    return model.to(device).eval()
