"""Exported encoders: the pretrained backbone plus the S2I encoder(s) that make its input, loadable in one call.

The folder written by :func:`export_encoder` (``RUN/encoder/`` after ``s2i pretrain``) is laid out like a
Hugging Face Hub model repository, so it travels the way vision models do (``s2i.models.hub``)::

    model.safetensors     the timm backbone's state dict (timm key names, no classifier head); also a valid
                          ``--init`` file for ``create_backbone`` / ``s2i pretrain``
    README.md             the model card (``s2i.models.card``): data, config, protocol, results
    config.json           {"kind": "s2i-exported-encoder", "version": 1,
                           "backbone": timm model name, "backbone_kwargs": extra timm kwargs (depth, ...),
                           "img_size": [H, W], "patch_size": p, "embed_dim": D,
                           "mean": [3], "std": [3]  (the backbone's input normalisation of [0, 1] images),
                           "formats": {format name: S2IEncoder.describe()}  (spec + config + value range),
                           "info": {free-form provenance: run, step, loss, ...},
                           "architecture", "num_classes", "model_args", "pretrained_cfg": the keys timm reads
                           from a Hub config.json, so ``timm.create_model("hf-hub:ORG/NAME")`` builds the backbone}

Folders exported before this layout (``encoder.safetensors`` + ``encoder.json``, the same contents) still load.

:func:`load_exported` returns an :class:`ExportedEncoder` module: ``features(joints, fmt, lengths)`` makes the
S2I images on the input's device with that format's encoder, normalises them and returns the pooled
backbone features (N, D); ``images(...)`` and ``backbone`` are there for fine-tuning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..encode import S2IEncoder
from .backbone import create_backbone
from .validate import check_weights, validate_description

__all__ = ["EXPORT_VERSION", "ExportedEncoder", "check_numbers", "export_encoder", "export_files", "export_folder",
           "is_export", "load_exported", "read_description", "write_model_card"]

EXPORT_VERSION = 1
WEIGHTS, META, CARD = "model.safetensors", "config.json", "README.md"
#: the layout of earlier exports, still read
OLD_WEIGHTS, OLD_META = "encoder.safetensors", "encoder.json"


def export_encoder(out: str | Path, backbone: Any, backbone_name: str,
                   encoders: Iterable[S2IEncoder] | Mapping[str, S2IEncoder],
                   backbone_kwargs: Mapping[str, Any] | None = None, mean: Iterable[float] | None = None,
                   std: Iterable[float] | None = None, info: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` + ``config.json`` + ``README.md`` into folder ``out`` (see the module docstring).

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
    meta: dict[str, Any] = {
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
    meta.update(_timm_keys(meta))
    tensors = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    check_numbers(tensors, meta["mean"], meta["std"], out)
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"backbone": backbone_name})
    with atomic_path(out / META) as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n")
    write_model_card(out)
    return out


def _timm_keys(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a Hub ``config.json`` that timm's ``create_model("hf-hub:...")`` reads."""
    h, w = meta["img_size"]
    return {"architecture": meta["backbone"], "num_classes": 0, "num_features": meta["embed_dim"],
            "model_args": {"img_size": [h, w], "patch_size": meta["patch_size"], **meta["backbone_kwargs"]},
            "pretrained_cfg": {"input_size": [3, h, w], "mean": meta["mean"], "std": meta["std"], "num_classes": 0,
                               "classifier": "head"}}


def write_model_card(folder: str | Path, results: Iterable[Mapping[str, Any]] = (), name: str | None = None) -> Path:
    """(Re)write the folder's ``README.md`` model card from its config.json and ``results`` (results.json
    dicts); ``name``: the Hub id or path the card's example loads. Returns the card's path."""
    from ..atomic import atomic_path
    from .bundled import bundle_info
    from .card import model_card

    folder = export_folder(folder)
    text = model_card(read_export_meta(folder), results, name, bundle_info(folder))
    with atomic_path(folder / CARD) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return folder / CARD


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


def check_numbers(tensors: Mapping[str, torch.Tensor], mean: Iterable[float], std: Iterable[float],
                  where: str | Path) -> None:
    """ValueError naming ``where`` when an encoder's numbers would make every feature NaN or inf: weights that
    are not finite, or an input normalisation with a non-finite mean or a std that is not finite and > 0."""
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(f"{where}: {len(bad)} weight tensor{'s are' if len(bad) > 1 else ' is'} not finite"
                         f" (NaN or inf: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}); not a usable encoder")
    m, sd = [float(v) for v in mean], [float(v) for v in std]
    if len(m) != 3 or len(sd) != 3 or not all(map(math.isfinite, m + sd)) or min(sd) <= 0:
        raise ValueError(f"{where}: input normalisation mean={m} std={sd} must be 3 finite numbers each, std > 0")


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
    v = meta.get("version", 0)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{folder / name}: version must be an integer, got {v!r}")
    if v > version:
        raise ValueError(f"{folder / name}: version {meta['version']} is newer than this s2i; upgrade s2i")
    return dict(meta)


def encoders_of(meta: dict[str, Any], path: Path) -> dict[str, S2IEncoder]:
    """The S2I encoder of each format an exported description names; a malformed one is a ValueError
    naming ``path`` and the format."""
    from pydantic import ValidationError

    out = {}
    for name, d in meta["formats"].items():
        try:
            out[name] = S2IEncoder.from_description(d)
        except (ValidationError, KeyError, TypeError, IndexError, ValueError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(f"{path}: format {name!r}: not a valid S2I encoder description ({msg})") from None
    return out


def export_folder(path: str | Path) -> Path:
    """The exported folder meant by ``path``: itself, the folder of a given file, a run's ``encoder/``, or the
    bundled encoder of that name when no such path exists (:func:`.bundled.resolve_encoder`)."""
    from .bundled import resolve_encoder

    folder = resolve_encoder(path)
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder} (expected an exported s2i encoder)")
    if folder.is_file():
        return folder.parent
    if not any((folder / m).exists() for m in (META, OLD_META)) and \
            any((folder / "encoder" / m).exists() for m in (META, OLD_META)):
        return folder / "encoder"
    return folder


def is_export(folder: str | Path) -> bool:
    """Whether ``folder`` holds an exported encoder's description (either layout)."""
    return any((Path(folder) / m).is_file() for m in (META, OLD_META))


def export_files(path: str | Path) -> tuple[Path, Path]:
    """(description, weights) of an exported folder: ``config.json`` + ``model.safetensors``, or the earlier
    ``encoder.json`` + ``encoder.safetensors``."""
    folder = export_folder(path)
    if (folder / META).exists() or not (folder / OLD_META).exists():
        return folder / META, folder / WEIGHTS
    return folder / OLD_META, folder / OLD_WEIGHTS


def read_export_meta(path: str | Path) -> dict[str, Any]:
    """The description (config.json, or an earlier export's encoder.json) of an exported folder, its shapes
    checked against limits and against the architecture they build (:mod:`.validate`) before any model exists."""
    return _checked_meta(path)[0]


def _checked_meta(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Size], dict[str, S2IEncoder]]:
    """(description, the state dict's shapes it builds, its S2I encoders), all checked."""
    meta_file, _ = export_files(path)
    meta = read_description(meta_file.parent, meta_file.name, "s2i-exported-encoder", "an exported s2i encoder",
                            EXPORT_VERSION)
    shapes = validate_description(meta, meta_file)
    return meta, shapes, encoders_of(meta, meta_file)


def load_exported(path: str | Path, device: str | torch.device = "cpu") -> ExportedEncoder:
    """Load an exported folder (or a run folder holding ``encoder/``) -> :class:`ExportedEncoder` in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta_file, weights_file = export_files(path)
    meta, shapes, encoders = _checked_meta(meta_file.parent)
    check_weights(weights_file, shapes)  # the header only: before anything is allocated
    backbone, _ = create_backbone(meta["backbone"], img_size=tuple(meta["img_size"]),
                                  patch_size=meta["patch_size"], **meta.get("backbone_kwargs", {}))
    try:
        weights = load_file(str(weights_file))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{weights_file}: cannot load the weights ({e})") from None
    check_numbers(weights, meta["mean"], meta["std"], meta_file.parent)
    try:
        backbone.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{weights_file}: cannot load the weights ({e})") from None
    model = ExportedEncoder(backbone, encoders, meta["mean"], meta["std"], meta)
    return model.to(device).eval()
