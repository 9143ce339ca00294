"""Render skeleton sequences to S2I image files (PNG to look at, .npy float32 to train on).

The library behind ``s2i encode``: groups sequences by format, sets each encoder's value range (given,
or estimated from the sequences themselves), encodes in batches on any device and writes one file per
sequence atomically, plus ``encode_report.json`` with the configuration and ranges used.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..formats import FormatSpec
from ..skeleton import SkeletonSequence, collate_sequences
from .config import S2IConfig
from .encoder import S2IEncoder
from .persons import batch_has_two_person, resolve_persons
from .value_range import estimate_value_range

__all__ = ["RenderResult", "image_to_png_array", "output_names", "render_images", "write_render_report"]


def output_names(files: Sequence[str | Path]) -> list[str]:
    """One distinct output name per input file: its stem when stems are unique; otherwise the path
    relative to the inputs' common folder (``a/x``, ``b/x``), then the file name with its suffix, then a
    ``-2``, ``-3``... counter — so two inputs never write the same image."""
    paths = [Path(f) for f in files]
    names = [p.name if p.is_dir() else p.stem for p in paths]  # a folder input (OpenPose JSON) keeps its name
    if len(set(names)) == len(names):
        return names
    absolute = [p.resolve() for p in paths]
    base = Path(os.path.commonpath([str(a.parent) for a in absolute]))
    names = [str(a.relative_to(base).with_suffix("")) for a in absolute]
    if len(set(names)) < len(names):
        names = [str(a.relative_to(base)) for a in absolute]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


@dataclass
class RenderResult:
    """What :func:`render_images` wrote: the files and the value range used per format."""

    written: list[Path] = field(default_factory=list)
    ranges: dict[str, dict[str, Any]] = field(default_factory=dict)


def image_to_png_array(img: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, rounded (channels R, G, B = x, y, z)."""
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)


def render_images(items: Sequence[tuple[str, SkeletonSequence]], out_dir: str | Path, config: S2IConfig,
                  output: str = "png", device: str | torch.device = "cpu", batch_size: int = 64,
                  value_ranges: dict[str, tuple[list[float], list[float]]] | None = None,
                  range_source: str = "", progress: bool = True,
                  formats: dict[str, FormatSpec] | None = None,
                  two_person: dict[str, bool] | None = None, persons_source: str = "") -> RenderResult:
    """Encode ``items`` = (output name, sequence) and write ``out_dir/NAME.png`` (or ``.npy``).

    ``value_ranges[format] = (lo, hi)`` sets the data-set range of a format (e.g. a store's, from
    :func:`s2i.encode.dataset_value_range`); otherwise, for ``value_range='dataset'`` without a range
    in ``config``, it is estimated from the given sequences of that format. ``formats[name]`` gives the
    spec of a format name (e.g. a store's own ``format_spec``); other names are looked up.

    ``persons='auto'`` is resolved per format from ``two_person[format]`` (e.g. a store's statistics),
    else from the given sequences (stack when any has a second person present); the choice is in
    ``result.ranges[format]["persons"]``.
    """
    from PIL import Image

    from ..progress import progress_bar

    if output not in ("png", "npy"):
        raise ValueError(f"output must be 'png' or 'npy', got {output!r}")
    out_dir = Path(out_dir)
    device = torch.device(device)
    groups: dict[str, list[tuple[str, SkeletonSequence]]] = defaultdict(list)
    for name, seq in items:
        groups[seq.format].append((name, seq))
    result = RenderResult()
    for fmt, group in groups.items():
        cfg, persons_info = _resolve_group_persons(config, group, two_person, fmt, persons_source)
        result.ranges[fmt] = persons_info
        enc = S2IEncoder((formats or {}).get(fmt, fmt), cfg).to(device)
        if config.value_range == "dataset" and config.range_lo is None:
            if value_ranges and fmt in value_ranges:
                lo, hi = value_ranges[fmt]
                source = range_source
            else:
                batch = collate_sequences([s for _, s in group], config.max_persons)
                lo, hi = estimate_value_range(batch.joints, enc.spec, cfg, lengths=batch.lengths,
                                              confidence=batch.confidence)
                source = f"{len(group)} input sequence(s)"
            enc.set_value_range(lo, hi)
            result.ranges[fmt].update({"lo": list(lo), "hi": list(hi), "range_from": source})
        for start in progress_bar(range(0, len(group), batch_size), desc=f"encode {fmt}", unit="batch",
                                  disable=not progress or len(group) <= batch_size):
            chunk = group[start:start + batch_size]
            batch = collate_sequences([s for _, s in chunk], config.max_persons)
            conf = None if batch.confidence is None else torch.from_numpy(batch.confidence).to(device)
            with torch.no_grad():
                imgs = enc(torch.from_numpy(batch.joints).to(device), torch.from_numpy(batch.lengths), conf)
            for (name, _), img in zip(chunk, imgs.cpu().numpy()):
                target = out_dir / f"{name}.{output}"
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(target, suffix=target.suffix) as tmp:
                    if output == "png":
                        Image.fromarray(image_to_png_array(img)).save(tmp, format="PNG")
                    else:
                        np.save(tmp, img.astype(np.float32))
                result.written.append(target)
    return result


def _resolve_group_persons(config: S2IConfig, group: list[tuple[str, SkeletonSequence]],
                           two_person: dict[str, bool] | None, fmt: str, source: str
                           ) -> tuple[S2IConfig, dict[str, Any]]:
    """The config with ``persons`` resolved for one format's sequences, and what to report about it."""
    if config.persons != "auto":
        return config, {"persons": config.persons}
    if two_person is not None and fmt in two_person:
        two, why = two_person[fmt], source or "the data set statistics"
    else:
        two = any(batch_has_two_person(s.joints) for _, s in group)
        why = f"{len(group)} input sequence(s)"
    cfg = resolve_persons(config, two)
    reason = ("a two-person sequence" if two else "no two-person sequence") + f" in {why}"
    return cfg, {"persons": cfg.persons, "persons_auto": reason}


def write_render_report(out_dir: str | Path, config: S2IConfig, result: RenderResult,
                        failed: Sequence[tuple[str, str]]) -> Path:
    """``out_dir/encode_report.json``: configuration, ranges per format, files written and skipped."""
    report = {"config": config.model_dump(mode="json"), "formats": result.ranges,
              "written": [str(p) for p in result.written], "failed": [{"file": f, "error": e} for f, e in failed]}
    target = Path(out_dir) / "encode_report.json"
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return target
